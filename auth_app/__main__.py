"""``python -m auth_app``: run one auth worker until SIGTERM."""

from auth_app.service import build_methods
from common.entrypoint import run_worker

if __name__ == "__main__":
    run_worker("auth", build_methods)
