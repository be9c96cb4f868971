"""Kustomize builds for the tests: ``kubectl kustomize`` when it is installed,
else a small renderer of what compose/k8s uses (resources, namespace, images,
JSON 6902 patches with a name pattern, ``-`` appending to a list)."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]
# Kinds that live outside any namespace (those compose/k8s uses).
CLUSTER_SCOPED = {"Namespace"}


def build(directory: Path) -> list[Manifest]:
    """The objects ``kubectl apply -k directory`` would send."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return render_locally(directory)
    output = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def render_locally(directory: Path) -> list[Manifest]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    objects: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if path.is_dir():
            objects += render_locally(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    namespace = kustomization.get("namespace")
    for manifest in objects:
        if namespace and manifest["kind"] not in CLUSTER_SCOPED:
            manifest["metadata"]["namespace"] = namespace
        for container in containers(manifest):
            _set_image(container, kustomization.get("images", []))
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        for manifest in objects:
            if manifest["kind"] == target["kind"] and re.fullmatch(
                target["name"], manifest["metadata"]["name"]
            ):
                _apply_json_patch(manifest, yaml.safe_load(patch["patch"]))
    return objects


def pod_spec(manifest: Manifest) -> Manifest | None:
    template = manifest.get("spec", {}).get("template")
    return template["spec"] if isinstance(template, dict) else None


def containers(manifest: Manifest) -> list[Manifest]:
    spec = pod_spec(manifest)
    return [] if spec is None else [*spec.get("initContainers", []), *spec["containers"]]


def _set_image(container: Manifest, images: list[Manifest]) -> None:
    name, _, _ = container["image"].partition(":")
    for image in images:
        if image["name"] == name:
            container["image"] = f"{image.get('newName', name)}:{image['newTag']}"


def _apply_json_patch(manifest: Manifest, operations: list[Manifest]) -> None:
    for operation in operations:
        *parents, last = operation["path"].strip("/").split("/")
        node = manifest
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if operation["op"] == "remove":
            del node[last]
        elif operation["op"] == "add" and last == "-":
            node.append(copy.deepcopy(operation["value"]))
        elif operation["op"] in ("add", "replace"):
            node[last] = copy.deepcopy(operation["value"])
        else:
            raise ValueError(f"unsupported patch op {operation['op']!r}")
