"""Settings for Redis under Sentinel, replica-confirmed writes and gateways sharing a port."""

from __future__ import annotations

import pytest

from common.config import ConfigError, Settings
from common.config.rpc import ReplicaWait, SentinelSettings


def test_no_sentinel_and_no_wait_by_default() -> None:
    rpc = Settings.from_env({}).rpc

    assert rpc.sentinel is None
    assert rpc.replica_wait == ReplicaWait(replicas=0, timeout=0.1)
    assert not rpc.replica_wait.enabled


def test_sentinel_variables_are_read() -> None:
    rpc = Settings.from_env(
        {
            "REDIS_SENTINELS": "s1:26379, s2:26380,[::1]:26381",
            "REDIS_SENTINEL_MASTER": "accounts",
            "REDIS_PASSWORD": "data-secret",
            "REDIS_USERNAME": "gatehouse",
            "REDIS_DB": "3",
            "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
            "REDIS_TLS": "true",
            "REDIS_TLS_CA_FILE": "/etc/ssl/redis-ca.pem",
        }
    ).rpc

    assert rpc.sentinel == SentinelSettings(
        addresses=(("s1", 26379), ("s2", 26380), ("::1", 26381)),
        master="accounts",
        username="gatehouse",
        password="data-secret",
        db=3,
        sentinel_password="sentinel-secret",
        tls=True,
        tls_ca_file="/etc/ssl/redis-ca.pem",
    )
    # Under Sentinel a failover can happen: writes wait for one replica by default.
    assert rpc.replica_wait == ReplicaWait(replicas=1, timeout=0.1)


def test_sentinel_passwords_stay_out_of_the_settings_repr() -> None:
    rpc = Settings.from_env(
        {
            "REDIS_SENTINELS": "s1:26379",
            "REDIS_PASSWORD": "data-secret",
            "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
        }
    ).rpc

    assert "secret" not in repr(rpc.sentinel)


def test_the_master_name_defaults_to_sentinels_own_default() -> None:
    sentinel = Settings.from_env({"REDIS_SENTINELS": "s1:26379"}).rpc.sentinel

    assert sentinel is not None
    assert sentinel.master == "mymaster"
    assert not sentinel.tls


def test_replica_wait_is_configurable_either_way() -> None:
    off = Settings.from_env({"REDIS_SENTINELS": "s1:26379", "REDIS_WAIT_REPLICAS": "0"}).rpc
    on = Settings.from_env(
        {"REDIS_URL": "redis://r:6379/0", "REDIS_WAIT_REPLICAS": "2", "REDIS_WAIT_TIMEOUT": "250ms"}
    ).rpc

    assert not off.replica_wait.enabled
    assert on.replica_wait == ReplicaWait(replicas=2, timeout=0.25)


def test_redis_url_and_sentinels_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL or REDIS_SENTINELS"):
        Settings.from_env({"REDIS_URL": "redis://r:6379/0", "REDIS_SENTINELS": "s1:26379"})


@pytest.mark.parametrize("raw", ["s1", "s1:", ":26379", "s1:port", "s1:70000", "s1:0"])
def test_a_bad_sentinel_address_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="REDIS_SENTINELS"):
        Settings.from_env({"REDIS_SENTINELS": f"s0:26379,{raw}"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("REDIS_WAIT_REPLICAS", "-1"), ("REDIS_WAIT_REPLICAS", "17"), ("REDIS_WAIT_TIMEOUT", "0")],
)
def test_bad_wait_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_gateways_sharing_a_port_listen_there_whatever_port_honcho_gave() -> None:
    http = Settings.from_env({"PORT": "5001", "GATEWAY_SHARED_PORT": "5000"}).http

    assert http.reuse_port
    assert http.port_for("gateway") == 5000
    assert http.port_for("user") == 5001  # the workers' health ports stay their own


def test_a_gateway_alone_does_not_share_its_port() -> None:
    http = Settings.from_env({"PORT": "5000"}).http

    assert not http.reuse_port
    assert http.port_for("gateway") == 5000
