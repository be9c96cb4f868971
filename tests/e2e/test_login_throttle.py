"""Login throttling through the gateway, from many client addresses.

Addresses in 127.0.0.0/8 are real socket sources; others reach the gateway as
X-Forwarded-For from its trusted proxy 127.0.0.1 (see helpers.client_at).
Each test uses addresses of its own: the IP counts live as long as the stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest

from common.config import Settings
from tests.conftest import Servers
from tests.e2e.conftest import running_stack
from tests.e2e.helpers import assert_error, client_at, email_for, login, register
from tests.e2e.stack import Stack, full_stack

WRONG = "wrong-guess-1"
# Small limits so that tests reach them quickly: free failures per scope, and
# waits of 1 s doubling to 2 s (account) or 4 s (address, pair).
LIMITS = {
    "LOGIN_FAILURE_WINDOW": "10m",
    "LOGIN_FIRST_DELAY": "1s",
    "LOGIN_MAX_FAILURES": "6",
    "LOGIN_ACCOUNT_MAX_DELAY": "2s",
    "LOGIN_IP_MAX_FAILURES": "8",
    "LOGIN_IP_MAX_DELAY": "4s",
    "LOGIN_PAIR_MAX_FAILURES": "3",
    "LOGIN_PAIR_MAX_DELAY": "4s",
    "TRUSTED_PROXIES": "127.0.0.1",
}


@pytest.fixture(scope="module")
def throttled(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(servers, tmp_path_factory, "throttle", **LIMITS) as stack:
        yield stack


@pytest.fixture
async def owner(throttled: Stack, unique: Callable[[str], str]) -> str:
    """A registered username (password PASSWORD, email email_for(name))."""
    name = unique("owner")
    async with httpx.AsyncClient(base_url=throttled.url, timeout=15) as client:
        assert (await register(client, name)).status_code == 201
    return name


async def retry_after(response: httpx.Response) -> int:
    assert_error(response, 429, "rate_limited")
    seconds = int(response.headers["Retry-After"])
    assert response.json()["error"]["details"] == {"retry_after": seconds}
    return seconds


async def fail(client: httpx.AsyncClient, name: str, times: int = 1) -> None:
    for _ in range(times):
        assert_error(await login(client, name, WRONG), 401, "invalid_credentials")


async def test_the_username_and_the_email_share_one_budget(throttled: Stack, owner: str) -> None:
    async with client_at(throttled.url, "127.0.0.11") as attacker:
        await fail(attacker, owner, 2)
        await fail(attacker, email_for(owner).upper())

        assert await retry_after(await login(attacker, owner)) == 1
        assert await retry_after(await login(attacker, email_for(owner))) == 1


@pytest.mark.parametrize("source", ["127.0.0.21", "203.0.113.21"], ids=["socket", "forwarded"])
async def test_an_address_is_limited_across_usernames(
    throttled: Stack, owner: str, unique: Callable[[str], str], source: str
) -> None:
    async with client_at(throttled.url, source) as sprayer:
        for _ in range(8):
            await fail(sprayer, unique("nobody"))
        # Even the right password of an untouched account waits at this address...
        assert await retry_after(await login(sprayer, owner)) == 1
    # ... and only there.
    async with client_at(throttled.url, source.replace(".21", ".22")) as neighbour:
        assert (await login(neighbour, owner)).status_code == 200


async def test_a_forged_forwarded_for_does_not_dodge_the_address_limit(
    throttled: Stack, unique: Callable[[str], str]
) -> None:
    async with httpx.AsyncClient(base_url=throttled.url, timeout=15) as client:
        for n in range(9):
            # What the client writes left of our proxy's hop proves nothing.
            headers = {"X-Forwarded-For": f"198.18.0.{n}, 203.0.113.31"}
            answer = await client.post(
                "/api/auth/login",
                json={"username": unique("nobody"), "password": WRONG},
                headers=headers,
            )
        assert await retry_after(answer) == 1


async def test_retry_after_grows_to_its_ceiling(throttled: Stack, owner: str) -> None:
    waits = []
    async with client_at(throttled.url, "127.0.0.41") as attacker:
        await fail(attacker, owner, 3)
        waits.append(await retry_after(await login(attacker, owner, WRONG)))
        for _ in range(3):
            await asyncio.sleep(waits[-1])
            await fail(attacker, owner)
            waits.append(await retry_after(await login(attacker, owner, WRONG)))
    # Each admitted failure doubles the wait, up to LOGIN_PAIR_MAX_DELAY; the
    # refused attempts in between did not count.
    assert waits == [1, 2, 4, 4]


async def test_the_owner_on_a_clean_address_is_not_locked_out_by_an_attacker(
    throttled: Stack, owner: str
) -> None:
    async with (
        client_at(throttled.url, "127.0.0.51") as attacker,
        client_at(throttled.url, "127.0.0.52") as owner_client,
    ):
        await fail(attacker, owner, 3)
        await asyncio.sleep(await retry_after(await login(attacker, owner)))
        await fail(attacker, owner)
        await asyncio.sleep(await retry_after(await login(attacker, owner)))
        await fail(attacker, owner)  # five failures: this address now waits 4 s
        assert (await login(owner_client, owner)).status_code == 200

        async with client_at(throttled.url, "127.0.0.53") as second_address:
            await fail(second_address, owner)  # the account's sixth failure
        # Past the account's limit the owner waits too, but briefly (2 s ceiling) ...
        owner_wait = await retry_after(await login(owner_client, owner))
        attacker_wait = await retry_after(await login(attacker, owner))
        assert owner_wait < attacker_wait
        await asyncio.sleep(owner_wait)
        assert (await login(owner_client, owner)).status_code == 200
        # ... and the owner's success does not clear the attacker's address.
        assert await retry_after(await login(attacker, owner)) >= 1


async def test_a_success_clears_its_own_pair(throttled: Stack, owner: str) -> None:
    async with client_at(throttled.url, "127.0.0.61") as client:
        await fail(client, owner, 2)
        assert (await login(client, owner)).status_code == 200
        # Without the reset, this third failure would reach the pair's limit of 3.
        await fail(client, owner, 2)
        assert (await login(client, owner)).status_code == 200


async def test_unknown_accounts_are_throttled_like_known_ones(
    throttled: Stack, owner: str, unique: Callable[[str], str]
) -> None:
    answers = []
    for address, name in (("127.0.0.71", owner), ("127.0.0.72", unique("ghost"))):
        async with client_at(throttled.url, address) as client:
            await fail(client, name, 3)
            answers.append(await login(client, name))
    known, unknown = answers
    assert await retry_after(known) == await retry_after(unknown)
    assert known.json()["error"] == unknown.json()["error"]


async def test_concurrent_guesses_stop_at_the_limit_and_right_passwords_all_get_in(
    throttled: Stack, owner: str
) -> None:
    async with client_at(throttled.url, "127.0.0.91") as client:
        rights = await asyncio.gather(*(login(client, owner) for _ in range(10)))
        guesses = await asyncio.gather(*(login(client, owner, WRONG) for _ in range(10)))

    assert [answer.status_code for answer in rights] == [200] * 10
    # The pair's limit is 3: the other guesses waited for those in flight, then were refused.
    assert sorted(answer.status_code for answer in guesses) == [401] * 3 + [429] * 7


async def test_throttling_is_on_by_default(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str]
) -> None:
    """Keycloak ships brute-force protection switched off; ours needs no setting.

    The suite's base environment lifts the limits for everyone else; blank
    values here mean "not set", so the stack runs with the documented defaults.
    """
    stack = full_stack(
        stack_factory(LOGIN_MAX_FAILURES="", LOGIN_IP_MAX_FAILURES="", LOGIN_PAIR_MAX_FAILURES="")
    )
    name = unique("default")
    async with client_at(stack.url, "127.0.0.91") as guesser:
        assert (await register(guesser, name)).status_code == 201
        await fail(guesser, name, Settings.from_env({}).limits.login_throttle.pair.max_failures)

        assert await retry_after(await login(guesser, name)) >= 1
