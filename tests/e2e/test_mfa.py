"""TOTP and recovery codes on a live stack: enrolment, two-step logins, throttling, required MFA.

Sealed values and keys: test_mfa_sealed.py; bad input: test_mfa_input.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Servers
from tests.e2e.helpers import (
    PASSWORD,
    assert_error,
    assert_token_answer,
    audit_types,
    bearer,
    login,
    new_account,
    profile,
    refresh,
    session_id,
    sessions_of,
)
from tests.e2e.mfa_helpers import Authenticator, enrolled_account, execute, first_step, verify
from tests.e2e.stack import Stack, full_stack

TOKEN_KEYS = {"token", "refresh_token", "token_type"}


async def test_enrolment_answers_a_secret_uri_and_qr_then_ten_codes(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("enrol")
    _, token = await new_account(client, name)
    state = (await client.get("/api/auth/mfa", headers=bearer(token))).json()["mfa"]
    assert state == {
        "methods": [],
        "totp": {"enabled": False, "pending": False},
        "recovery_codes_left": 0,
        "required": False,
    }
    assert_error(
        await client.post(
            "/api/auth/mfa/totp", json={"password": "wrong123"}, headers=bearer(token)
        ),
        401,
        "invalid_credentials",
    )
    started = await client.post(
        "/api/auth/mfa/totp", json={"password": PASSWORD}, headers=bearer(token)
    )
    assert started.status_code == 200, started.text
    body = started.json()
    assert started.headers["cache-control"] == "no-store"
    assert body["otpauth_uri"].startswith(
        f"otpauth://totp/Gatehouse:{name}?secret={body['secret']}"
    )
    assert body["qr_svg"].startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<script" not in body["qr_svg"]
    pending = (await client.get("/api/auth/mfa", headers=bearer(token))).json()["mfa"]
    assert pending["totp"] == {"enabled": False, "pending": True}
    # Still a password login until confirmed.
    assert_token_answer(await login(client, name))

    app = Authenticator(body["secret"])
    assert_error(
        await client.post(
            "/api/auth/mfa/totp/confirm", json={"code": "000000"}, headers=bearer(token)
        ),
        401,
        "invalid_credentials",
    )
    confirmed = await client.post(
        "/api/auth/mfa/totp/confirm", json={"code": app.next_code()}, headers=bearer(token)
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    state = (await client.get("/api/auth/mfa", headers=bearer(token))).json()["mfa"]
    assert state["methods"] == ["totp", "recovery_code"]
    assert (state["totp"], state["recovery_codes_left"]) == (
        {"enabled": True, "pending": False},
        10,
    )
    # On already: a second enrolment is refused, and so is a confirmation.
    again = await client.post(
        "/api/auth/mfa/totp", json={"password": PASSWORD}, headers=bearer(token)
    )
    assert_error(again, 409, "conflict")
    assert "mfa.totp_enrolled" in await audit_types(client, token)


async def test_login_with_a_code_answers_no_token_before_the_second_step(
    client: httpx.AsyncClient, servers: Servers, unique: Callable[[str], str]
):
    name, token, enrolled = await enrolled_account(client, unique)
    before = len(await sessions_of(client, token))

    answer = await login(client, name)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mfa_required"] is True
    assert body["methods"] == ["totp", "recovery_code"]
    assert 0 < body["expires_in"] <= 300
    assert not TOKEN_KEYS & set(body)
    assert "eyJ" not in answer.text  # no JWT anywhere in it
    assert answer.headers["cache-control"] == "no-store"
    # The mfa_token is no bearer token, and no session started.
    assert_error(await profile(client, body["mfa_token"]), 401, "invalid_token")
    assert_error(await refresh(client, body["mfa_token"]), 401, "invalid_token")
    assert len(await sessions_of(client, token)) == before

    wrong = await verify(client, body["mfa_token"], code="000000")
    assert_error(wrong, 401, "invalid_credentials")
    assert "eyJ" not in wrong.text
    done = assert_token_answer(
        await verify(client, body["mfa_token"], code=enrolled.app.next_code())
    )
    assert (await profile(client, str(done["token"]))).status_code == 200
    assert len(await sessions_of(client, token)) == before + 1
    amr = await execute(
        servers.database_url,
        "SELECT amr FROM user_sessions WHERE id = $1",
        session_id(str(done["token"])),
    )
    assert amr == ["pwd", "otp", "mfa"]
    assert await execute(
        servers.database_url,
        "SELECT last_login_at IS NOT NULL FROM users WHERE username = $1",
        name,
    )
    types = await audit_types(client, token)
    assert {"mfa.verified", "mfa.failed"} <= set(types)


async def test_a_code_is_accepted_once(client: httpx.AsyncClient, unique: Callable[[str], str]):
    name, _, enrolled = await enrolled_account(client, unique, "replay")
    code = enrolled.app.next_code()
    assert_token_answer(await verify(client, await first_step(client, name), code=code))

    # The same code again, in the same step, on a new login: refused.
    assert_error(
        await verify(client, await first_step(client, name), code=code), 401, "invalid_credentials"
    )
    # So is the code the enrolment used (an earlier step).
    first = pyotp_code(enrolled.app, enrolled.app.last_step - 1)
    assert_error(
        await verify(client, await first_step(client, name), code=first), 401, "invalid_credentials"
    )


def pyotp_code(app: Authenticator, step: int) -> str:
    import pyotp

    return pyotp.TOTP(app.secret).at(step * 30)


async def test_the_mfa_token_is_single_use_and_bound_to_its_account(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name, _, enrolled = await enrolled_account(client, unique, "bound")
    other_name, _, other = await enrolled_account(client, unique, "other")
    mfa_token = await first_step(client, name)

    # Another account's right code and recovery code prove nothing for this login.
    assert_error(
        await verify(client, mfa_token, code=other.app.next_code()), 401, "invalid_credentials"
    )
    assert_error(
        await verify(client, mfa_token, recovery_code=other.recovery_codes[0]),
        401,
        "invalid_credentials",
    )
    # The token survives wrong codes, and is spent by the right one.
    assert_token_answer(await verify(client, mfa_token, code=enrolled.app.next_code()))
    spent = await verify(client, mfa_token, recovery_code=enrolled.recovery_codes[0])
    assert_error(spent, 401, "invalid_token")
    # The other account's code was not spent by the refusal.
    assert_token_answer(
        await verify(
            client, await first_step(client, other_name), recovery_code=other.recovery_codes[0]
        )
    )
    assert_error(await verify(client, "x" * 43, code="123456"), 401, "invalid_token")


async def test_the_mfa_token_expires(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str]
):
    brief = full_stack(stack_factory(MFA_TOKEN_EXPIRES_IN="1"))
    async with httpx.AsyncClient(base_url=brief.url, timeout=15) as http:
        name, _, enrolled = await enrolled_account(http, unique, "expiry")
        mfa_token = await first_step(http, name)
        await asyncio.sleep(1.5)
        assert_error(
            await verify(http, mfa_token, code=enrolled.app.next_code()), 401, "invalid_token"
        )


async def test_wrong_codes_are_throttled_per_account_and_address(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str]
):
    strict = full_stack(
        stack_factory(
            LOGIN_PAIR_MAX_FAILURES="3", LOGIN_FIRST_DELAY="20s", LOGIN_PAIR_MAX_DELAY="1m"
        )
    )
    async with httpx.AsyncClient(base_url=strict.url, timeout=15) as http:
        name, token, enrolled = await enrolled_account(http, unique, "guess")
        mfa_token = await first_step(http, name)
        for _ in range(3):
            assert_error(await verify(http, mfa_token, code="000000"), 401, "invalid_credentials")
        # Past the limit even the right code waits: nothing is checked.
        throttled = await verify(http, mfa_token, code=enrolled.app.next_code())
        body = assert_error(throttled, 429, "rate_limited")
        assert 1 <= int(throttled.headers["retry-after"]) <= 20
        assert body["error"]["details"]["retry_after"] == int(throttled.headers["retry-after"])
        assert "code" in body["error"]["message"]
        # Other code checks of the account are held back too.
        held = await http.post(
            "/api/auth/mfa/recovery-codes", json={"code": "000000"}, headers=bearer(token)
        )
        assert_error(held, 429, "rate_limited")
        # Passwords count in windows of their own: the password still logs in.
        assert (await first_step(http, name)) != mfa_token
        assert "mfa.throttled" in await audit_types(http, token)


async def test_a_recovery_code_works_once_and_says_how_many_remain(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name, token, enrolled = await enrolled_account(client, unique, "recover")
    code = enrolled.recovery_codes[3]
    used = await verify(client, await first_step(client, name), recovery_code=code.lower())
    body = assert_token_answer(used)
    assert body["recovery_codes_left"] == 9
    assert "9 recovery code(s) left" in body["message"]

    again = await verify(client, await first_step(client, name), recovery_code=code)
    assert_error(again, 401, "invalid_credentials")
    state = (await client.get("/api/auth/mfa", headers=bearer(token))).json()["mfa"]
    assert state["recovery_codes_left"] == 9
    assert "mfa.recovery_code_used" in await audit_types(client, token)


async def test_regeneration_voids_the_old_codes(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name, token, enrolled = await enrolled_account(client, unique, "regen")
    wrong = await client.post(
        "/api/auth/mfa/recovery-codes", json={"password": "wrong123"}, headers=bearer(token)
    )
    assert_error(wrong, 401, "invalid_credentials")
    answer = await client.post(
        "/api/auth/mfa/recovery-codes", json={"password": PASSWORD}, headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    fresh = answer.json()["recovery_codes"]
    assert len(fresh) == 10
    assert not set(fresh) & set(enrolled.recovery_codes)

    old = await verify(
        client, await first_step(client, name), recovery_code=enrolled.recovery_codes[0]
    )
    assert_error(old, 401, "invalid_credentials")
    assert_token_answer(
        await verify(client, await first_step(client, name), recovery_code=fresh[0])
    )
    # With a recovery code instead of the password: that code is spent, a new set comes back.
    by_code = await client.post(
        "/api/auth/mfa/recovery-codes", json={"recovery_code": fresh[1]}, headers=bearer(token)
    )
    assert by_code.status_code == 200, by_code.text
    assert "mfa.recovery_codes_regenerated" in await audit_types(client, token)


async def test_turning_totp_off_ends_every_other_session(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name, token, enrolled = await enrolled_account(client, unique, "off")
    other = assert_token_answer(
        await verify(client, await first_step(client, name), code=enrolled.app.next_code())
    )
    no_code = await client.request(
        "DELETE", "/api/auth/mfa/totp", json={"password": PASSWORD}, headers=bearer(token)
    )
    assert_error(no_code, 400, "validation_error")
    wrong_password = await client.request(
        "DELETE",
        "/api/auth/mfa/totp",
        json={"password": "wrong123", "recovery_code": enrolled.recovery_codes[0]},
        headers=bearer(token),
    )
    assert_error(wrong_password, 401, "invalid_credentials")

    off = await client.request(
        "DELETE",
        "/api/auth/mfa/totp",
        json={"password": PASSWORD, "recovery_code": enrolled.recovery_codes[0]},
        headers=bearer(token),
    )
    assert off.status_code == 200, off.text
    assert off.json()["sessions_ended"] == 1
    assert_error(await profile(client, str(other["token"])), 401, "invalid_token")
    assert_error(await refresh(client, str(other["refresh_token"])), 401, "invalid_token")
    assert (await profile(client, token)).status_code == 200
    # A password login again; the old codes are gone with the secret.
    assert_token_answer(await login(client, name))
    state = (await client.get("/api/auth/mfa", headers=bearer(token))).json()["mfa"]
    assert (state["methods"], state["recovery_codes_left"]) == ([], 0)
    again = await client.request(
        "DELETE",
        "/api/auth/mfa/totp",
        json={"password": PASSWORD, "code": "123456"},
        headers=bearer(token),
    )
    assert_error(again, 409, "conflict")
    assert "mfa.totp_disabled" in await audit_types(client, token)


@pytest.mark.parametrize("by", ["user", "role"])
async def test_required_mfa_is_enforced_at_the_next_login(
    client: httpx.AsyncClient, servers: Servers, unique: Callable[[str], str], by: str
):
    name = unique(f"must_{by}")
    user, token = await new_account(client, name)
    if by == "user":
        await execute(
            servers.database_url, "UPDATE users SET mfa_required = TRUE WHERE id = $1", user["id"]
        )
    else:
        role = unique("auditors").lower().replace("_", "-")
        await execute(
            servers.database_url, "INSERT INTO roles (name, mfa_required) VALUES ($1, TRUE)", role
        )
        await execute(
            servers.database_url,
            "INSERT INTO user_roles (user_id, role) VALUES ($1, $2)",
            user["id"],
            role,
        )
    assert (await profile(client, token)).status_code == 200  # sessions already live stay

    answer = await login(client, name)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mfa_enrolment_required"] is True
    assert body["methods"] == ["totp"]
    assert not TOKEN_KEYS & set(body)
    enrol_token = body["mfa_token"]
    # The enrolment token is good for the enrolment routes only.
    assert_error(await verify(client, enrol_token, code="123456"), 401, "invalid_token")
    assert_error(await profile(client, enrol_token), 401, "invalid_token")
    assert_error(
        await client.post(
            "/api/auth/mfa/totp", json={"password": PASSWORD}, headers=bearer(enrol_token)
        ),
        401,
        "invalid_token",
    )

    started = await client.post("/api/auth/mfa/totp", json={"mfa_token": enrol_token})
    assert started.status_code == 200, started.text
    app = Authenticator(started.json()["secret"])
    wrong = await client.post(
        "/api/auth/mfa/totp/confirm", json={"mfa_token": enrol_token, "code": "000000"}
    )
    assert_error(wrong, 401, "invalid_credentials")
    confirmed = await client.post(
        "/api/auth/mfa/totp/confirm", json={"mfa_token": enrol_token, "code": app.next_code()}
    )
    done = assert_token_answer(confirmed)
    assert len(done["recovery_codes"]) == 10
    assert (await profile(client, str(done["token"]))).status_code == 200
    # Spent: the enrolment token does nothing more.
    assert_error(
        await client.post("/api/auth/mfa/totp", json={"mfa_token": enrol_token}),
        401,
        "invalid_token",
    )
    # From now on, the usual second step.
    assert_token_answer(await verify(client, await first_step(client, name), code=app.next_code()))


async def test_the_audit_trail_never_holds_a_code(
    client: httpx.AsyncClient, servers: Servers, unique: Callable[[str], str]
):
    name, token, enrolled = await enrolled_account(client, unique, "trail")
    await verify(client, await first_step(client, name), code="000000")
    await verify(client, await first_step(client, name), recovery_code=enrolled.recovery_codes[0])
    user = (await profile(client, token)).json()["user"]
    conn_rows = await execute(
        servers.database_url,
        "SELECT json_agg(data)::text FROM audit_events WHERE user_id = $1",
        user["id"],
    )
    trail = json.loads(conn_rows)
    assert trail
    for secret in (enrolled.app.secret, enrolled.recovery_codes[0], "000000"):
        assert secret not in json.dumps(trail)
