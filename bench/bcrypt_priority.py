"""How late a waking event-loop thread runs while bcrypt threads fill the cores.

    python -m bench.bcrypt_priority [--rounds 11] [--trials 3]

One bcrypt thread per core hashes; the main thread sleeps 2 ms at a time,
as a loop waiting for I/O does, and records how much later than asked it
woke. Each trial runs with the hashing threads at the loop's priority and
at ``BCRYPT_NICENESS`` below it (common/security/passwords.py), alternately.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import bcrypt

from bench.procstat import usable_cores
from common.security.passwords import BCRYPT_NICENESS

SLEEP_SECONDS = 0.002
HASHES_PER_THREAD = 3


def trial(rounds: int, niceness: int) -> tuple[float, float]:
    """(p99, max) of the loop thread's wake-up lateness in ms."""
    salt = bcrypt.gensalt(rounds)

    def hash_some() -> None:
        if niceness:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        for _ in range(HASHES_PER_THREAD):
            bcrypt.hashpw(b"bench-password-1", salt)

    threads = [threading.Thread(target=hash_some) for _ in range(usable_cores())]
    for thread in threads:
        thread.start()
    late: list[float] = []
    while any(thread.is_alive() for thread in threads):
        asked = time.perf_counter()
        time.sleep(SLEEP_SECONDS)
        late.append((time.perf_counter() - asked - SLEEP_SECONDS) * 1000)
    late.sort()
    return late[int(len(late) * 0.99)], late[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="bcrypt cost")
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    for _ in range(args.trials):
        for niceness in (0, BCRYPT_NICENESS):
            p99, worst = trial(args.rounds, niceness)
            print(
                f"bcrypt threads at nice +{niceness:<2d}: loop wakes late by p99 {p99:6.1f} ms, "
                f"max {worst:6.1f} ms (load average {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    main()
