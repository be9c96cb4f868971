"""The admin API and roles, against the real stack: as admin, as a plain user, bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Servers
from tests.e2e.helpers import (
    assert_error,
    bearer,
    claims_of,
    email_for,
    login,
    new_account,
    profile,
    refresh,
)
from tests.e2e.identity import admin_call, audit_events, gatehouse, grant, new_admin, sql
from tests.e2e.stack import Stack

Admin = tuple[dict[str, Any], str]


@pytest.fixture
async def admin(client: httpx.AsyncClient, stack: Stack, unique: Callable[[str], str]) -> Admin:
    return await new_admin(client, stack, unique("boss"))


@pytest.fixture
async def target(client: httpx.AsyncClient, unique: Callable[[str], str]) -> Admin:
    return await new_account(client, unique("subject"))


def routes(target_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Every admin route, with a valid call of it."""
    user = f"/users/{target_id}"
    return [
        ("GET", "/users", {"params": {"q": "subject"}}),
        ("GET", user, {}),
        ("POST", f"{user}/logout", {}),
        ("PUT", f"{user}/roles/admin", {}),
        ("DELETE", f"{user}/roles/admin", {}),
        ("PUT", f"{user}/mfa-required", {"json": {"required": True}}),
        ("PUT", "/roles/user/mfa-required", {"json": {"required": False}}),
        ("POST", f"{user}/disable", {}),
        ("POST", f"{user}/enable", {}),
        ("DELETE", user, {}),
    ]


async def test_every_admin_route_answers_an_admin(
    client: httpx.AsyncClient, admin: Admin, target: Admin
):
    _, token = admin
    for method, path, kwargs in routes(target[0]["id"]):
        answer = await admin_call(client, token, method, path, **kwargs)
        assert answer.status_code == 200, (method, path, answer.text)
        assert answer.json()["success"] is True
        assert answer.headers["cache-control"] == "no-store"


async def test_every_admin_route_refuses_a_plain_user_and_audits_it(
    client: httpx.AsyncClient, servers: Servers, target: Admin, unique: Callable[[str], str]
):
    plain, token = await new_account(client, unique("plain"))
    for method, path, kwargs in routes(target[0]["id"]):
        answer = await admin_call(client, token, method, path, **kwargs)
        assert_error(answer, 403, "forbidden")
    events = await audit_events(servers.database_url, plain["id"])
    refused = [data for kind, data in events if kind == "access.forbidden"]
    assert len(refused) == len(routes(0))
    assert {data["role"] for data in refused} == {"admin"}
    assert "PUT /api/admin/roles/user/mfa-required" in {data["action"] for data in refused}
    assert (await profile(client, target[1])).status_code == 200


async def test_a_revoked_admin_is_refused_at_once_with_the_old_token(
    client: httpx.AsyncClient, stack: Stack, admin: Admin, servers: Servers
):
    user, token = admin
    done = gatehouse(stack, "admin", "revoke", user["email"], "admin")
    assert done.returncode == 0, done.stderr
    assert "admin" in claims_of(token)["roles"]

    assert_error(await admin_call(client, token, "GET", "/users"), 403, "forbidden")

    types = [kind for kind, _ in await audit_events(servers.database_url, user["id"])]
    assert types[-1] == "access.forbidden"
    assert "role.revoked" in types


async def test_grant_and_revoke_change_the_roles_claim_at_the_next_login_and_refresh(
    client: httpx.AsyncClient, admin: Admin, unique: Callable[[str], str]
):
    name = unique("promoted")
    user, _ = await new_account(client, name)
    first = (await login(client, name)).json()
    assert claims_of(first["token"])["roles"] == ["user"]

    granted = await admin_call(client, admin[1], "PUT", f"/users/{user['id']}/roles/admin")

    assert granted.json()["roles"] == ["user", "admin"]
    assert granted.json()["changed"] is True
    refreshed = (await refresh(client, first["refresh_token"])).json()
    assert claims_of(refreshed["token"])["roles"] == ["user", "admin"]
    assert (await admin_call(client, refreshed["token"], "GET", "/users")).status_code == 200
    again = await admin_call(client, admin[1], "PUT", f"/users/{user['id']}/roles/admin")
    assert (again.json()["changed"], again.json()["message"]) == (False, "No change")

    await admin_call(client, admin[1], "DELETE", f"/users/{user['id']}/roles/admin")

    assert claims_of((await login(client, name)).json()["token"])["roles"] == ["user"]
    after = (await refresh(client, refreshed["refresh_token"])).json()
    assert claims_of(after["token"])["roles"] == ["user"]


async def test_disable_ends_every_session_at_once_and_refuses_login_and_refresh(
    client: httpx.AsyncClient, admin: Admin, servers: Servers, unique: Callable[[str], str]
):
    name = unique("disabled")
    user, token = await new_account(client, name)
    second = (await login(client, name)).json()

    answer = await admin_call(client, admin[1], "POST", f"/users/{user['id']}/disable")

    assert answer.json()["sessions_ended"] == 2
    assert_error(await profile(client, token), 401, "invalid_token")
    assert_error(await profile(client, second["token"]), 401, "invalid_token")
    assert_error(await login(client, name), 403, "account_disabled")
    assert_error(await refresh(client, second["refresh_token"]), 403, "account_disabled")
    shown = await admin_call(client, admin[1], "GET", f"/users/{user['id']}")
    assert shown.json()["user"]["disabled"] is True
    assert shown.json()["user"]["sessions"] == []
    events = await audit_events(servers.database_url, user["id"])
    assert ("user.disabled", {"actor_id": admin[0]["id"]}) in events
    refused = [data for kind, data in events if kind == "login.refused"]
    assert refused[0]["reason"] == "account_disabled"

    await admin_call(client, admin[1], "POST", f"/users/{user['id']}/enable")

    assert (await login(client, name)).status_code == 200


async def test_force_logout_ends_sessions_on_the_next_request_and_login_still_works(
    client: httpx.AsyncClient, admin: Admin, target: Admin
):
    user, token = target
    assert (await profile(client, token)).status_code == 200

    answer = await admin_call(client, admin[1], "POST", f"/users/{user['id']}/logout")

    assert answer.json() == {"success": True, "message": "Sessions ended", "sessions_ended": 1}
    assert_error(await profile(client, token), 401, "invalid_token")
    assert (await login(client, user["username"])).status_code == 200


async def test_show_names_sessions_roles_state_and_last_login(
    client: httpx.AsyncClient, admin: Admin, target: Admin
):
    user, _ = target
    answer = await admin_call(client, admin[1], "GET", f"/users/{user['id']}")
    shown = answer.json()["user"]
    assert {k: shown[k] for k in ("id", "username", "email")} == {
        k: user[k] for k in ("id", "username", "email")
    }
    assert shown["roles"] == ["user"]
    assert (shown["disabled"], shown["email_verified"]) == (False, False)
    assert shown["last_login_at"] is not None
    assert shown["mfa"] == {"required": False, "required_by_role": False, "enrolled": None}
    assert [s["amr"] for s in shown["sessions"]] == [["pwd"]]

    await admin_call(
        client, admin[1], "PUT", f"/users/{user['id']}/mfa-required", json={"required": True}
    )

    shown = (await admin_call(client, admin[1], "GET", f"/users/{user['id']}")).json()["user"]
    assert shown["mfa"]["required"] is True


async def test_role_mfa_requirement_is_stored_and_shown(
    client: httpx.AsyncClient,
    stack: Stack,
    admin: Admin,
    servers: Servers,
    unique: Callable[[str], str],
):
    role = unique("ops").replace("_", "-")
    await sql(servers.database_url, "INSERT INTO roles (name) VALUES ($1)", role)
    user, _ = await new_account(client, unique("operator"))
    grant(stack, user["email"], role)

    answer = await admin_call(
        client, admin[1], "PUT", f"/roles/{role}/mfa-required", json={"required": True}
    )

    assert answer.json()["mfa_required"] is True
    assert await sql(servers.database_url, "SELECT mfa_required FROM roles WHERE name = $1", role)
    shown = (await admin_call(client, admin[1], "GET", f"/users/{user['id']}")).json()["user"]
    assert shown["mfa"]["required_by_role"] is True
    assert shown["roles"] == ["user", role]


async def test_delete_ends_sessions_and_removes_the_user(
    client: httpx.AsyncClient, admin: Admin, target: Admin, servers: Servers
):
    user, token = target

    answer = await admin_call(client, admin[1], "DELETE", f"/users/{user['id']}")

    assert answer.json()["sessions_ended"] == 1
    assert_error(await profile(client, token), 401, "invalid_token")
    assert_error(await login(client, user["username"]), 401, "invalid_credentials")
    assert_error(
        await admin_call(client, admin[1], "GET", f"/users/{user['id']}"), 404, "not_found"
    )
    events = await audit_events(servers.database_url, user["id"])
    assert ("user.deleted", {"actor_id": admin[0]["id"], "username": user["username"]}) in events


async def test_an_admin_cannot_disable_or_delete_themselves(
    client: httpx.AsyncClient, admin: Admin
):
    me = admin[0]["id"]
    for method, path in (("POST", f"/users/{me}/disable"), ("DELETE", f"/users/{me}")):
        assert_error(await admin_call(client, admin[1], method, path), 400, "validation_error")
    assert (await profile(client, admin[1])).status_code == 200


async def pages(
    client: httpx.AsyncClient, token: str, **params: Any
) -> tuple[list[list[dict[str, Any]]], int]:
    """Every page of the list for ``params``, following next_cursor; and the page count."""
    found: list[list[dict[str, Any]]] = []
    cursor = None
    for _ in range(20):
        query = params | ({"cursor": cursor} if cursor else {})
        answer = await admin_call(client, token, "GET", "/users", params=query)
        assert answer.status_code == 200, answer.text
        found.append(answer.json()["users"])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    return found, len(found)


async def test_search_sorts_and_pages_by_cursor(
    client: httpx.AsyncClient, admin: Admin, unique: Callable[[str], str]
):
    stem = unique("Zeta").lower()
    names = [f"{stem}_{letter}" for letter in "dbeac"]
    for name in names:
        await new_account(client, name)

    by_name, count = await pages(client, admin[1], q=stem.upper(), sort="username", limit=2)

    assert count == 3
    assert [u["username"] for page in by_name for u in page] == sorted(names)
    by_email, _ = await pages(client, admin[1], q=f"{stem}_a@", sort="email")
    assert [u["email"] for page in by_email for u in page] == [email_for(f"{stem}_a").lower()]
    newest, _ = await pages(client, admin[1], q=stem, limit=4)
    assert [u["username"] for page in newest for u in page] == names[::-1]
    literal, _ = await pages(client, admin[1], q=f"{stem}%")
    assert literal == [[]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"sort": "password_hash"}, "sort"),
        ({"q": ""}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJzIjoidXNlcm5hbWUiLCJrIjoiYSIsImkiOjF9"}, "cursor"),  # another sort's
    ],
)
async def test_bad_list_queries_are_400(
    client: httpx.AsyncClient, admin: Admin, params: dict[str, Any], field: str
):
    body = assert_error(
        await admin_call(client, admin[1], "GET", "/users", params=params), 400, "validation_error"
    )
    assert field in body["error"]["details"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/users/2147483647", {}, 404, "not_found"),
        ("GET", "/users/99999999999", {}, 404, "not_found"),
        ("GET", "/users/abc", {}, 404, "not_found"),
        ("POST", "/users/2147483647/disable", {}, 404, "not_found"),
        ("POST", "/users/2147483647/enable", {}, 404, "not_found"),
        ("POST", "/users/2147483647/logout", {}, 404, "not_found"),
        ("DELETE", "/users/2147483647", {}, 404, "not_found"),
        ("PUT", "/users/{id}/roles/nosuchrole", {}, 404, "not_found"),
        ("PUT", "/users/{id}/roles/Not%20A%20Role", {}, 400, "validation_error"),
        ("PUT", "/users/{id}/roles/user", {}, 400, "validation_error"),
        ("DELETE", "/users/2147483647/roles/admin", {}, 404, "not_found"),
        ("PUT", "/users/{id}/mfa-required", {"json": {}}, 400, "validation_error"),
        ("PUT", "/users/{id}/mfa-required", {"json": {"required": "yes"}}, 400, "validation_error"),
        ("PUT", "/users/{id}/mfa-required", {"content": b"[1]"}, 400, "bad_request"),
        ("PUT", "/users/2147483647/mfa-required", {"json": {"required": True}}, 404, "not_found"),
        ("PUT", "/roles/nosuchrole/mfa-required", {"json": {"required": True}}, 404, "not_found"),
        ("PUT", "/roles/BAD/mfa-required", {"json": {"required": True}}, 400, "validation_error"),
    ],
)
async def test_bad_input_on_every_route_has_the_error_shape(
    client: httpx.AsyncClient,
    admin: Admin,
    target: Admin,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
):
    path = path.format(id=target[0]["id"])
    headers = {"Content-Type": "application/json"} if "content" in kwargs else None
    answer = await admin_call(client, admin[1], method, path, headers=headers, **kwargs)
    assert_error(answer, status, code)


async def test_admin_routes_need_a_bearer(client: httpx.AsyncClient):
    assert_error(await client.get("/api/admin/users"), 401, "unauthorized")
    assert_error(
        await client.get("/api/admin/users", headers=bearer("not.a.token")), 401, "invalid_token"
    )


async def test_the_cli_refuses_an_unknown_email_or_role(stack: Stack, target: Admin):
    nobody = gatehouse(stack, "admin", "grant", "nobody@example.invalid", "admin")
    assert nobody.returncode == 1
    assert "no account" in nobody.stderr
    unknown = gatehouse(stack, "admin", "grant", target[0]["email"], "nosuchrole")
    assert unknown.returncode == 1
    assert "nosuchrole" in unknown.stderr
