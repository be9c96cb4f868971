"""panva's openid-client (npm), run by the machine's Node.js: discovery, code
flow with PKCE, ID token validation against the JWKS, UserInfo, refresh."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.oidc.conftest import REDIRECT, Client, Person, Provider

VERSION = "6.9.1"
INSTALL = f"npm install openid-client@{VERSION}"
SCRIPT = Path(__file__).with_name("openid_client.mjs")

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason=f"needs Node.js and npm for: {INSTALL}",
)


@pytest.fixture(scope="session")
def openid_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with openid-client installed and our script beside it."""
    folder = tmp_path_factory.mktemp("openid-client")
    (folder / "package.json").write_text('{"private": true, "type": "module"}')
    done = subprocess.run(
        [*INSTALL.split(), "--no-audit", "--no-fund", "--silent"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"{INSTALL} failed: {done.stderr[-500:]}")
    shutil.copy(SCRIPT, folder / SCRIPT.name)
    return folder


@pytest.mark.timeout(120)
async def test_openid_client_code_flow(
    provider: Provider, web_app: Client, person: Person, openid_client: Path
) -> None:
    node = await asyncio.create_subprocess_exec(
        "node",
        SCRIPT.name,
        provider.issuer,
        web_app.client_id,
        web_app.client_secret or "",
        REDIRECT,
        cwd=openid_client,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert node.stdout is not None
    assert node.stdin is not None
    try:
        url = (await asyncio.wait_for(node.stdout.readline(), 30)).decode().strip()
        assert url.startswith(f"{provider.issuer}/oauth/authorize?"), url
        callback = await person.sign_in(url)
        node.stdin.write(f"{callback}\n".encode())
        await node.stdin.drain()
        out, err = await asyncio.wait_for(node.communicate(), 60)
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    claims = result["claims"]
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == web_app.client_id
    assert claims["sub"] == str(person.user_id)
    assert claims["amr"] == ["pwd"]
    assert result["jwks_verified_sub"] == str(person.user_id)
    assert result["userinfo"]["preferred_username"] == person.username
    assert result["refreshed"] == {
        "rotated": True,
        "access_token": True,
        "id_token_sub": str(person.user_id),
    }
