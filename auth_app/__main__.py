"""``python -m auth_app``: run one auth worker until SIGTERM."""

from auth_app.service import build_methods
from common.entrypoint import run_worker

if __name__ == "__main__":
    # Login and refresh issue tokens: the one process that holds the signing key.
    run_worker("auth", build_methods, signs_tokens=True)
