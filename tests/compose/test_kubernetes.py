"""compose/k8s: the Kustomize builds validated against the Kubernetes schemas,
KEDA's ScaledObjects for their required fields, and what a cluster user expects."""

from __future__ import annotations

import shutil
from pathlib import Path

import kubernetes_validate
import pytest

from common.config import DEFAULT_PORTS
from common.keys import Keys
from tests.compose.kustomize import Manifest, build, containers, pod_spec, render_locally

K8S = Path(__file__).resolve().parents[2] / "compose" / "k8s"
BUILDS = ["base", "keda", "sentinel"]
# The oldest Kubernetes the manifests promise to fit (autoscaling/v2, policy/v1).
KUBERNETES_VERSION = "1.29.0"
WORKERS = ("user", "auth")


@pytest.fixture(scope="module", params=BUILDS)
def objects(request: pytest.FixtureRequest) -> list[Manifest]:
    return build(K8S / request.param)


def by_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_every_object_validates_against_the_kubernetes_schema(objects: list[Manifest]) -> None:
    for manifest in objects:
        if manifest["apiVersion"].startswith("keda.sh/"):
            continue  # a CRD: checked below
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_broken_manifest(objects: list[Manifest]) -> None:
    """The check above can fail: an unknown field in a container is refused."""
    deployment = dict(next(iter(by_kind(objects, "Deployment").values())))
    broken = {**deployment, "spec": {**deployment["spec"], "replicaz": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", BUILDS)
def test_the_local_renderer_agrees_with_kubectl(directory: str) -> None:
    """So that machines without kubectl validate the same objects."""

    def key(manifest: Manifest) -> tuple[str, str]:
        return manifest["kind"], manifest["metadata"]["name"]

    assert sorted(render_locally(K8S / directory), key=key) == sorted(
        build(K8S / directory), key=key
    )


def test_every_container_has_limits_and_a_locked_down_security_context(
    objects: list[Manifest],
) -> None:
    workloads = [o for o in objects if pod_spec(o) is not None]
    assert {o["metadata"]["name"] for o in workloads} >= {
        "gatehouse-gateway",
        "gatehouse-user",
        "gatehouse-auth",
        "gatehouse-migrate",
    }
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec is not None
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where


def test_every_long_running_pod_is_scraped_on_its_port(objects: list[Manifest]) -> None:
    deployments = by_kind(objects, "Deployment")
    for service, port in DEFAULT_PORTS.items():
        template = deployments[f"gatehouse-{service}"]["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["prometheus.io/port"] == str(port)
        ports = [p["containerPort"] for c in template["spec"]["containers"] for p in c["ports"]]
        assert port in ports


def test_the_gateway_is_served_scaled_and_protected(objects: list[Manifest]) -> None:
    gateway = by_kind(objects, "Deployment")["gatehouse-gateway"]
    pod_labels = gateway["spec"]["template"]["metadata"]["labels"]
    # The HPA owns the replica count.
    assert "replicas" not in gateway["spec"]

    service = by_kind(objects, "Service")["gatehouse-gateway"]
    assert labels_match(service["spec"]["selector"], pod_labels)
    [service_port] = service["spec"]["ports"]

    ingress = by_kind(objects, "Ingress")["gatehouse-gateway"]
    backends = [
        path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends == [{"name": "gatehouse-gateway", "port": {"name": service_port["name"]}}]

    hpa = by_kind(objects, "HorizontalPodAutoscaler")["gatehouse-gateway"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gatehouse-gateway",
    }
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_each_long_running_process_has_a_disruption_budget(objects: list[Manifest]) -> None:
    budgets = by_kind(objects, "PodDisruptionBudget").values()
    for name, deployment in by_kind(objects, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [
            b for b in budgets if labels_match(b["spec"]["selector"]["matchLabels"], labels)
        ]
        assert len(matching) == 1, name


@pytest.mark.parametrize("directory", ["keda", "sentinel"])
def test_keda_scaled_objects_have_their_required_fields(directory: str) -> None:
    objects = build(K8S / directory)
    deployments = by_kind(objects, "Deployment")
    scaled = by_kind(objects, "ScaledObject")
    authentication = by_kind(objects, "TriggerAuthentication")
    assert set(scaled) == {f"gatehouse-{service}" for service in WORKERS}
    keys = Keys("gatehouse")
    for service in WORKERS:
        spec = scaled[f"gatehouse-{service}"]["spec"]
        assert scaled[f"gatehouse-{service}"]["apiVersion"] == "keda.sh/v1alpha1"
        assert spec["scaleTargetRef"]["name"] in deployments
        # KEDA's HPA owns the count: the patch removed it from the Deployment.
        assert "replicas" not in deployments[spec["scaleTargetRef"]["name"]]["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert spec["triggers"], service
        for trigger in spec["triggers"]:
            assert trigger["type"]
            assert isinstance(trigger["metadata"], dict)
            for value in trigger["metadata"].values():
                assert isinstance(value, str), trigger  # KEDA's metadata is a string map
        [redis] = [t for t in spec["triggers"] if t["type"] in ("redis", "redis-sentinel")]
        # The list the workers consume, as the code names it.
        assert redis["metadata"]["listName"] == keys.request_queue(service)
        assert int(redis["metadata"]["listLength"]) > 0
        assert redis["authenticationRef"]["name"] in authentication
