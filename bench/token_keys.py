"""Cost of issuing and verifying one access token, per signing algorithm.

    python -m bench.token_keys [--count 2000] [--rounds 3]

Both run on an event loop (issue in the auth worker, verify in the gateway
on every bearer call), so their cost is time the loop cannot serve anything
else. Keys are made in a temporary folder; prints the median of the rounds
in microseconds per token.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common.config import Settings
from common.security.tokens import TokenSigner, TokenVerifier
from tests.key_material import write_key_pair

KEYS = [("HS256", 0), ("EdDSA", 0), ("RS256", 2048), ("RS256", 3072)]


def settings_for(directory: Path, algorithm: str, rsa_bits: int) -> Settings:
    if algorithm == "HS256":
        return Settings.from_env({"JWT_SECRET": "bench-secret-" + "b" * 40})
    pair = write_key_pair(directory, algorithm, rsa_bits=rsa_bits or 2048)
    return Settings.from_env(
        {
            "JWT_ALGORITHM": algorithm,
            "JWT_PRIVATE_KEY_FILE": str(pair.private_path),
            "JWT_PUBLIC_KEY_FILE": str(pair.public_path),
        }
    )


def microseconds_each(action: Callable[[int], object], count: int, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for n in range(count):
            action(n)
        timings.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(timings)


def measure(settings: Settings, count: int, rounds: int) -> tuple[float, float, int]:
    """Microseconds per issue, per verify, and the token's length."""
    signer = TokenSigner.from_settings(settings)
    verifier = TokenVerifier.from_settings(settings)
    token, _ = signer.issue(user_id=1, session_id=1)
    issue = microseconds_each(lambda n: signer.issue(user_id=n, session_id=n), count, rounds)
    verify = microseconds_each(lambda _: verifier.verify(token), count, rounds)
    return issue, verify, len(token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'key':<14}{'issue µs':>10}{'verify µs':>11}{'token bytes':>13}")
    with tempfile.TemporaryDirectory() as folder:
        for algorithm, bits in KEYS:
            settings = settings_for(Path(folder), algorithm, bits)
            issue, verify, size = measure(settings, args.count, args.rounds)
            name = f"{algorithm} {bits}" if bits else algorithm
            print(f"{name:<14}{issue:>10.1f}{verify:>11.1f}{size:>13}")


if __name__ == "__main__":
    main()
