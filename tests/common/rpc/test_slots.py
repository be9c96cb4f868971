"""The cluster key layout: every script's keys in one slot, and a broken layout refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.config import ConfigError, Settings
from common.keys import Keys
from common.rpc import slots, slotted
from tests.conftest import Servers, base_env

# CLUSTER KEYSLOT's answers (redis-cli -c cluster keyslot ...), fixed by the spec.
KNOWN_SLOTS = {
    "123456789": 12739,  # the CRC16 check value of the cluster specification
    "foo": 12182,
    "{user1000}.following": 3443,
    "{user1000}.followers": 3443,
    "foo{}{bar}": 8363,  # an empty tag does not count: the whole key is hashed
    "foo{{bar}}zap": 4015,  # the tag is "{bar", up to the first closing brace
}


@pytest.mark.parametrize(("key", "expected"), KNOWN_SLOTS.items())
def test_slot_is_the_cluster_hash(key: str, expected: int) -> None:
    assert slots.slot(key) == expected


@pytest.mark.parametrize("prefix", ["gatehouse", "ghtest-1", "{pinned}", "a.b_c-d"])
def test_the_cluster_layout_keeps_every_call_in_one_slot(prefix: str) -> None:
    keys = Keys(prefix, cluster=True)
    assert slots.crossings(keys) == []
    slots.check_layout(keys)


def test_the_single_redis_layout_would_cross_slots() -> None:
    """The control: without hash tags the same calls cross slots, so the check can fail."""
    found = slots.crossings(Keys("gatehouse"))
    scripts = {line.split()[0] for line in found}
    assert {"PUSH_GUARDED", "TAKE_BATCH", "REPLY_AND_ACKNOWLEDGE", "BEGIN_ATTEMPT"} <= scripts


def test_braces_that_break_the_tags_are_refused_by_name() -> None:
    keys = Keys("}gh{", cluster=True)
    with pytest.raises(ConfigError, match="crosses cluster slots") as refused:
        slots.check_layout(keys)
    message = str(refused.value)
    assert "TAKE_BATCH would touch" in message
    assert keys.request_queue("user") in message
    assert f"(slot {slots.slot(keys.request_queue('user'))})" in message


def test_a_service_s_keys_share_its_tag_and_sessions_do_not_share_one() -> None:
    keys = Keys("gh", cluster=True)
    service_keys = [
        keys.request_queue("user"),
        keys.processing("user", "u-1"),
        keys.instances("user"),
        keys.instance_info("user", "u-1"),
    ]
    assert {slots.slot(key) for key in service_keys} == {slots.slot("{gh:user}")}
    assert slots.slot(keys.request_queue("auth")) != slots.slot(keys.request_queue("user"))
    assert len({slots.slot(keys.session(n)) for n in range(50)}) > 40


def test_the_single_redis_names_do_not_change() -> None:
    keys = Keys("gh")
    assert keys.request_queue("user") == "gh:rpc:user"
    assert keys.processing("user", "u-1") == "gh:rpc:user:processing:u-1"
    assert keys.reply_queue("gw") == "gh:reply:gw"
    assert keys.session(7) == "gh:session:7"
    assert keys.login_failures("ip", "x") == "gh:login-failures:ip:x"


def test_split_calls_on_a_cluster_touch_one_owner_each() -> None:
    keys = Keys("gh", cluster=True)
    queue, processing = keys.request_queue("user"), keys.processing("user", "u-1")
    guards = [("1", keys.session(1)), ("", queue)]
    assert slotted.push_key_groups(queue, guards, cluster=True) == [[queue, queue, queue]]
    replies = [keys.reply_queue("a"), keys.reply_queue("b"), keys.reply_queue("a")]
    assert slotted.reply_key_groups(processing, replies, cluster=True) == [
        [replies[0]] * 3,
        [replies[1]] * 2,
        [processing],
    ]


def test_a_worker_refuses_to_start_with_a_layout_that_crosses_slots(servers: Servers) -> None:
    """Before it opens anything: no Redis Cluster is needed to be refused."""
    env = {**base_env(servers, "}gh{"), "REDIS_CLUSTER": "true"}
    assert Settings.from_env(env).rpc.redis_cluster
    for module in ("user_app", "gateway_app"):
        finished = subprocess.run(
            [sys.executable, "-m", module], env=env, capture_output=True, timeout=60, check=False
        )
        assert finished.returncode == 2, finished.stderr
        stderr = finished.stderr.decode()
        assert "configuration error" in stderr
        assert "crosses cluster slots" in stderr
