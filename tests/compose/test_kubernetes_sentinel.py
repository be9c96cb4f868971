"""compose/k8s/sentinel: what its pods and KEDA's scaler read is a Sentinel set-up."""

from __future__ import annotations

from pathlib import Path

import yaml

from common.config import Settings
from tests.compose.kustomize import Manifest, build

K8S = Path(__file__).resolve().parents[2] / "compose" / "k8s"


def named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_the_pods_environment_finds_redis_through_sentinel() -> None:
    objects = build(K8S / "sentinel")
    config = named(objects, "ConfigMap", "gatehouse-config")["data"]
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())["stringData"]
    # What envFrom gives every container (a long enough secret for production).
    env = {**config, **secret, "JWT_SECRET": "Zq7-Lm2_Vx9pRt4kWc8nYb3hJd6fGs5a"}

    rpc = Settings.from_env(env).rpc

    assert rpc.sentinel is not None
    assert len(rpc.sentinel.addresses) == 3
    assert rpc.sentinel.master == config["REDIS_SENTINEL_MASTER"]
    assert rpc.replica_wait.enabled
    assert "REDIS_HOST" not in config, "one way to find Redis, not two"


def test_keda_reads_the_queue_from_the_primary_the_sentinels_name() -> None:
    objects = build(K8S / "sentinel")
    config = named(objects, "ConfigMap", "gatehouse-config")["data"]
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())["stringData"]
    authentication = named(objects, "TriggerAuthentication", "gatehouse-redis")["spec"]
    for service in ("user", "auth"):
        [trigger, *_] = named(objects, "ScaledObject", f"gatehouse-{service}")["spec"]["triggers"]
        assert trigger["type"] == "redis-sentinel"
        metadata = trigger["metadata"]
        assert "hostFromEnv" not in metadata
        # The variables KEDA reads from the worker's environment exist there.
        assert metadata["addressesFromEnv"] in config
        assert metadata["sentinelMasterFromEnv"] in config
    parameters = {ref["parameter"]: ref["key"] for ref in authentication["secretTargetRef"]}
    assert parameters == {
        "password": "REDIS_PASSWORD",
        "sentinelPassword": "REDIS_SENTINEL_PASSWORD",
    }
    assert set(parameters.values()) <= set(secret)
