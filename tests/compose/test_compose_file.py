"""compose/docker-compose.yml against the Compose specification's JSON schema.

The schema is the copy check-jsonschema ships (its ``vendor.compose-spec``),
so the check needs no network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from common.config import DEFAULT_PORTS

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"
APP_MODULES = {"gateway": "gateway_app", "user": "user_app", "auth": "auth_app"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(text.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_the_compose_file_follows_the_compose_specification(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_check_can_fail(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    broken = {**compose, "services": {**compose["services"], "gateway": {"portz": ["3000"]}}}
    assert list(validator.iter_errors(broken))


def test_check_jsonschema_agrees_from_the_command_line() -> None:
    """The same check as CI tooling would run it, offline."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_each_process_runs_its_module_and_checks_its_own_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for service, module in APP_MODULES.items():
        assert services[service]["command"] == ["python", "-m", module]
        probe = " ".join(services[service]["healthcheck"]["test"])
        assert f"127.0.0.1:{DEFAULT_PORTS[service]}/health" in probe


def test_app_containers_run_read_only(compose: dict[str, Any]) -> None:
    for service in (*APP_MODULES, "migrate"):
        definition = compose["services"][service]
        assert definition["read_only"] is True, service
        assert "/tmp" in definition["tmpfs"], service  # noqa: S108 - a tmpfs, by design
        assert "no-new-privileges:true" in definition["security_opt"], service
