"""The production deployment files are real: Dagster's own schemas accept the instance and the workspace, the ECS run
launcher and the S3 compute log manager import and accept their configuration, the Helm values name what the chart
reads, and every credential comes from an environment variable that the deployment README lists."""

import re
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.workspace.config_schema import ensure_workspace_config
from dagster._serdes.config_class import class_from_code_pointer

from resources.audit import AUDIT_KEY_ENV

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SECRET_VARIABLES = {AUDIT_KEY_ENV, "WORKBENCH_RAW_KEY", "WORKBENCH_PSEUDONYM_KEY", "DAGSTER_PG_PASSWORD", "AWS_SECRET_ACCESS_KEY"}
# Top-level keys of the chart's values (helm/dagster/schema: DagsterHelmValues, plus `concurrency`), to catch a misspelt one.
CHART_KEYS = {"dagsterWebserver", "dagster-user-deployments", "postgresql", "generatePostgresqlPasswordSecret", "generateCeleryConfigSecret",
              "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets", "computeLogManager", "scheduler", "runLauncher", "pythonLogs",
              "dagsterDaemon", "busybox", "migrate", "telemetry", "serviceAccount", "global", "retention", "additionalInstanceConfig",
              "concurrency"}


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def env_names(value: Any) -> set[str]:
    """Every variable a Dagster config reads through `{env: NAME}`."""
    if isinstance(value, dict):
        return {value["env"]} if set(value) == {"env"} else {name for item in value.values() for name in env_names(item)}
    if isinstance(value, list):
        return {name for item in value for name in env_names(item)}
    return set()


@pytest.fixture
def production_env(monkeypatch) -> None:
    """Placeholder values for every variable the instance and workspace read, as the deployment would set them."""
    for name in env_names(load("dagster.yaml")) | env_names(load("workspace.yaml")):
        monkeypatch.setenv(name, f"placeholder-{name.lower()}")


def test_the_production_instance_passes_dagsters_own_schema():
    config, custom_class = dagster_instance_config(str(DEPLOY))
    assert custom_class is None
    assert set(config["storage"]["postgres"]["postgres_db"]) >= {"hostname", "username", "password", "db_name"}
    assert (config["run_launcher"]["module"], config["run_launcher"]["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    assert config["concurrency"]["pools"]["default_limit"] == 1 and config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0


@pytest.mark.parametrize("section", ["run_launcher", "compute_logs"])
def test_each_production_class_imports_and_accepts_its_config(section, production_env):
    spec = load("dagster.yaml")[section]
    configured = class_from_code_pointer(spec["module"], spec["class"])
    result = process_config(configured.config_type(), spec["config"])
    assert result.success, [error.message for error in result.errors]


def test_the_workspace_points_at_the_images_code_server(production_env):
    workspace = ensure_workspace_config(load("workspace.yaml"), str(DEPLOY / "workspace.yaml"))
    server = workspace["load_from"][0]["grpc_server"]
    assert server["port"] == 4000 and server["location_name"] == "caregap-workbench"
    assert "EXPOSE 4000" in (DEPLOY / "Dockerfile").read_text()


def test_credentials_come_only_from_the_environment_and_are_documented():
    instance = load("dagster.yaml")
    assert instance["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    passed_on = set(instance["run_launcher"]["config"]["env_vars"])
    assert not passed_on & SECRET_VARIABLES, "secrets reach run tasks through secrets_tag, never as plain variables"
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (DEPLOY / "README.md").read_text()))
    needed = env_names(instance) | env_names(load("workspace.yaml")) | passed_on | SECRET_VARIABLES - {"AWS_SECRET_ACCESS_KEY"}
    assert needed <= documented, f"undocumented: {sorted(needed - documented)}"


def test_the_helm_values_run_the_same_code_location_with_secrets_from_a_secret():
    values = load("k8s/values.yaml")
    assert set(values) <= CHART_KEYS, f"not chart values: {sorted(set(values) - CHART_KEYS)}"
    assert f"--version {dg.__version__}" in (DEPLOY / "k8s" / "values.yaml").read_text()
    assert values["runLauncher"]["type"] == "K8sRunLauncher" and values["postgresql"]["enabled"] is False
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "definitions"] and deployment["port"] == 4000
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] and deployment["envSecrets"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["WORKBENCH_ENV"] == "production" and env["WORKBENCH_STORAGE_ROOT"].startswith("s3://")
    assert not set(env) & SECRET_VARIABLES
    assert values["concurrency"]["enabled"] and values["concurrency"]["pools"]["defaultLimit"] == 1
    assert "maxConcurrentRuns" not in values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]


def test_the_image_installs_cpu_torch_first_then_the_project_under_its_constraints():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    pin = re.search(r'"dagster-aws==([0-9.]+)"', (DEPLOY.parent / "pyproject.toml").read_text())[1]
    torch = dockerfile.index("--index-url https://download.pytorch.org/whl/cpu torch==2.13.0")
    project = dockerfile.index(f"pip install -c constraints.txt -e . dagster-postgres=={pin} dagster-k8s=={pin}")
    assert torch < project
    assert 'CMD ["dagster", "code-server", "start", "-m", "definitions"' in dockerfile
