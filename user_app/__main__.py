"""``python -m user_app``: run one user worker until SIGTERM."""

from common.entrypoint import run_worker
from user_app.service import build_methods

if __name__ == "__main__":
    run_worker("user", build_methods)
