"""``python -m auth_app``: run one auth worker until SIGTERM."""

from auth_app.service import build_methods
from common.config import Settings
from common.entrypoint import run_worker


def require_mfa_keys(settings: Settings) -> None:
    # TOTP secrets are sealed here and nowhere else: only this worker needs the keys.
    settings.mfa.require_keys()


if __name__ == "__main__":
    # Login and refresh issue tokens: the one process that holds the signing key.
    run_worker("auth", build_methods, signs_tokens=True, require=require_mfa_keys)
