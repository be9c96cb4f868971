"""The seed's flows over HTTP against real processes."""

from __future__ import annotations

from collections.abc import Callable

import httpx


async def register(client: httpx.AsyncClient, username: str, password: str = "secret123"):
    return await client.post(
        "/api/users/register",
        json={"username": username, "email": f"{username}@Example.com", "password": password},
    )


async def test_register_login_profile(client: httpx.AsyncClient, unique: Callable[[str], str]):
    name = unique("ada")
    created = await register(client, name)
    assert created.status_code == 201
    body = created.json()
    assert body["success"] is True
    assert body["message"] == "User registered successfully"
    assert body["user"]["username"] == name
    assert body["user"]["email"] == f"{name}@example.com".lower()
    assert set(body["user"]) == {"id", "username", "email", "created_at"}

    login = await client.post("/api/auth/login", json={"username": name, "password": "secret123"})
    assert login.status_code == 200
    assert login.json()["message"] == "Login successful"
    token = login.json()["token"]

    profile = await client.get("/api/users/profile", headers={"Authorization": f"Bearer {token}"})
    assert profile.status_code == 200
    assert profile.json() == {"success": True, "user": body["user"]}
