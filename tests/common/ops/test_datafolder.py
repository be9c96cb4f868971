"""The data folder's lock and the URLs a running ``gatehouse up`` records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.ops.datafolder import (
    LOCK_FILE,
    DataFolderBusy,
    DataFolderLock,
    is_held,
    record_urls,
    recorded_urls,
    with_running_servers,
)

URLS = {"DATABASE_URL": "postgresql://embedded/postgres", "REDIS_URL": "redis://127.0.0.1:7/0"}


def test_a_held_folder_is_refused_naming_the_holder(tmp_path: Path):
    holder = DataFolderLock(tmp_path)
    holder.acquire()
    assert is_held(tmp_path)
    with pytest.raises(DataFolderBusy, match=rf"pid {os.getpid()}\b"):
        DataFolderLock(tmp_path).acquire()
    holder.release()
    assert not is_held(tmp_path)
    successor = DataFolderLock(tmp_path)
    successor.acquire()
    successor.release()


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path: Path):
    (tmp_path / LOCK_FILE).write_text("999999999\n")
    lock = DataFolderLock(tmp_path)
    lock.acquire()
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()


def test_urls_count_only_while_a_run_holds_the_folder(tmp_path: Path):
    record_urls(tmp_path, URLS)
    assert recorded_urls(tmp_path) == {}
    lock = DataFolderLock(tmp_path)
    lock.acquire()
    try:
        assert recorded_urls(tmp_path) == URLS
    finally:
        lock.release()


def test_configured_servers_win_over_recorded_ones(tmp_path: Path):
    record_urls(tmp_path, URLS)
    lock = DataFolderLock(tmp_path)
    lock.acquire()
    try:
        assert with_running_servers({}, tmp_path) == URLS
        configured = with_running_servers({"DB_HOST": "db", "REDIS_URL": "redis://r/0"}, tmp_path)
        assert configured == {"DB_HOST": "db", "REDIS_URL": "redis://r/0"}
    finally:
        lock.release()


def test_a_folder_held_after_its_run_was_killed_says_so(tmp_path: Path):
    # What the watchdog of a killed run holds: the lock, naming a dead pid.
    watchdog = DataFolderLock(tmp_path)
    watchdog.acquire()
    os.pwrite(watchdog.fd, b"999999999\n", 0)
    try:
        with pytest.raises(DataFolderBusy, match=r"still being cleaned up .*pid 999999999"):
            DataFolderLock(tmp_path).acquire()
    finally:
        watchdog.release()
