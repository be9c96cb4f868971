"""No user enumeration: an unknown name and a wrong password answer alike, in
content and in time, also for accounts hashed before BCRYPT_ROUNDS was raised.

The stack's user worker hashes new passwords at cost 5 and its auth worker
verifies at cost 9: every account registered here starts with an outdated
hash, as after an operator raised the cost.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tests.conftest import Servers
from tests.e2e.conftest import running_stack
from tests.e2e.helpers import PASSWORD, assert_error, login, password_hash_of, register
from tests.e2e.stack import Stack

OLD_COST, CURRENT_COST = 5, 9
WRONG = "wrong-guess-1"
SAMPLES = 15
# Headers that differ between any two responses.
PER_RESPONSE_HEADERS = {"date", "x-request-id"}


@pytest.fixture(scope="module")
def raised_cost(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(servers, tmp_path_factory, "cost", BCRYPT_ROUNDS=str(CURRENT_COST)) as stack:
        # Replace the user worker by one that still hashes at the old cost.
        old_user = next(p for p in stack.processes if p.service == "user")
        stack.start("user", BCRYPT_ROUNDS=str(OLD_COST))
        old_user.popen.terminate()
        old_user.wait()
        yield stack


@pytest.fixture
async def client(raised_cost: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=raised_cost.url, timeout=30) as http:
        yield http


@pytest.fixture
async def account(client: httpx.AsyncClient, unique: Callable[[str], str]) -> str:
    """A username whose password hash has the old cost."""
    name = unique("enum")
    assert (await register(client, name)).status_code == 201
    return name


def comparable(response: httpx.Response) -> tuple[int, dict[str, str], object]:
    body = response.json()
    body.pop("request_id")
    headers = {k: v for k, v in response.headers.items() if k not in PER_RESPONSE_HEADERS}
    return response.status_code, headers, body


async def test_unknown_user_wrong_password_and_over_long_password_answer_alike(
    client: httpx.AsyncClient, account: str, unique: Callable[[str], str]
) -> None:
    unknown = await login(client, unique("nobody"), WRONG)
    wrong = await login(client, account, WRONG)
    # Its first 72 bytes are the right password: bcrypt alone would accept it.
    over_long = await login(client, account, PASSWORD + "x" * 70)

    assert_error(unknown, 401, "invalid_credentials")
    assert comparable(wrong) == comparable(unknown)
    assert comparable(over_long) == comparable(unknown)


async def test_a_password_over_72_bytes_never_logs_in(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("long")
    password = "a1" * 36  # 72 bytes: the most bcrypt reads
    assert (await register(client, name, password)).status_code == 201

    assert (await login(client, name, password)).status_code == 200
    assert_error(await login(client, name, password + "b"), 401, "invalid_credentials")


async def test_login_rehashes_a_hash_of_an_older_cost(
    client: httpx.AsyncClient, account: str, servers: Servers
) -> None:
    before = await password_hash_of(servers.database_url, account)
    assert before.startswith(f"$2b$0{OLD_COST}$")

    assert_error(await login(client, account, WRONG), 401, "invalid_credentials")
    assert await password_hash_of(servers.database_url, account) == before
    assert (await login(client, account)).status_code == 200
    after = await password_hash_of(servers.database_url, account)
    assert after.startswith(f"$2b$0{CURRENT_COST}$")
    # The same password, still the only one that works.
    assert (await login(client, account)).status_code == 200
    assert await password_hash_of(servers.database_url, account) == after
    assert_error(await login(client, account, WRONG), 401, "invalid_credentials")


async def timed_login(client: httpx.AsyncClient, name: str, samples: list[float]) -> None:
    started = time.perf_counter()
    answer = await login(client, name, WRONG)
    samples.append(time.perf_counter() - started)
    assert answer.status_code == 401, answer.text


@pytest.mark.parametrize("hash_cost", ["older", "current"])
async def test_unknown_user_and_wrong_password_take_as_long(
    client: httpx.AsyncClient, account: str, unique: Callable[[str], str], hash_cost: str
) -> None:
    if hash_cost == "current":
        assert (await login(client, account)).status_code == 200  # rehashes
    unknown: list[float] = []
    wrong: list[float] = []
    for _ in range(SAMPLES):  # interleaved, so that load changes hit both alike
        await timed_login(client, unique("nobody"), unknown)
        await timed_login(client, account, wrong)

    ratio = statistics.median(wrong) / statistics.median(unknown)
    assert 0.5 <= ratio <= 2, (ratio, sorted(unknown), sorted(wrong))
