"""common/ops/dev_keys.py: gatehouse up starts a provider with a key pair made once."""

from __future__ import annotations

import stat
from pathlib import Path

from common.config import Settings
from common.ops.dev_keys import ensure_dev_keys
from common.security.signing_keys import load_private_key, load_public_key


def test_makes_a_pair_once_and_enables_the_provider(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    ensure_dev_keys(tmp_path, env, 3000)
    private = Path(env["JWT_PRIVATE_KEY_FILE"])
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_private_key(str(private), "EdDSA", variable="JWT_PRIVATE_KEY_FILE")
    public = load_public_key(env["JWT_PUBLIC_KEY_FILE"], variable="JWT_PUBLIC_KEY_FILE")
    assert key.kid == public.kid
    assert env["OIDC_ENABLED"] == "true"
    assert env["PUBLIC_URL"] == "http://localhost:3000"
    settings = Settings.from_env({**env, "APP_ENV": "development"})
    assert settings.oidc.enabled
    assert settings.auth.jwt_algorithm == "EdDSA"

    again: dict[str, str] = {}
    ensure_dev_keys(tmp_path, again, 3000)
    assert again == env  # the same files: tokens survive a restart


def test_configured_keys_and_flags_are_left_alone(tmp_path: Path) -> None:
    env = {"JWT_ALGORITHM": "HS256", "PUBLIC_URL": "https://id.example"}
    ensure_dev_keys(tmp_path, env, 3000)
    assert env == {"JWT_ALGORITHM": "HS256", "PUBLIC_URL": "https://id.example"}
    assert not (tmp_path / "keys").exists()
