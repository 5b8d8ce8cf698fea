"""The Dagster UI's own server, started on 127.0.0.1, serves the asset graph with its checks and launches runs; a
validation report renders in a real browser (headless Chromium).
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from definitions import defs
from tests.report_state import reviewed_model, validation_report

ROOT = Path(__file__).resolve().parents[1]
QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"
# Runs start as soon as they are launched: the default queued coordinator would wait for a dagster-daemon.
INSTANCE = "telemetry:\n  enabled: false\nrun_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
LAUNCH = """mutation Launch($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }"""
STATUS = "query Status($id: String!) { runsOrError(filter: {runIds: [$id]}) { ... on Runs { results { status } } } }"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(command: list[str], env: dict[str, str], probe: str) -> Iterator[None]:
    """A server process of the project's own in a process group of its own, up once `probe` answers, stopped with its children."""
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(probe, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"{Path(command[0]).name} did not answer {probe} within 90 s")
        yield
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the whole group: `make` and the code servers or kernels the server started
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    """The webserver on a state folder of its own, so the runs it launches touch nothing else."""
    home = tmp_path_factory.mktemp("ui-home")
    (home / "dagster").mkdir()
    (home / "dagster" / "dagster.yaml").write_text(INSTANCE)
    url = f"http://127.0.0.1:{free_port()}"
    command = [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", url.rsplit(":", 1)[1]]
    with serving(command, {"WORKBENCH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}, f"{url}/server_info"):
        yield url, home


@pytest.fixture(scope="module")
def mlflow_ui():
    """`workbench mlflow-ui` (what `make ui` starts beside Dagster) serving the report state's MLflow store."""
    home, _ = reviewed_model()
    url = f"http://127.0.0.1:{free_port()}"
    with serving([str(Path(sys.executable).with_name("workbench")), "mlflow-ui"], {"WORKBENCH_HOME": str(home), "WORKBENCH_MLFLOW_UI_URL": url},
                 f"{url}/health"):
        yield url


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["data"]


def test_ui_serves_every_asset_with_its_checks_and_lineage(webserver):
    url, _ = webserver
    nodes = {"/".join(n["assetKey"]["path"]): n for n in graphql(url, QUERY)["assetNodes"]}
    assert set(nodes) == {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert [d["path"] for d in nodes["silver/pharmacy_fills"]["dependencyKeys"]] == [["bronze", "pharmacy_fills"]]
    checks = {c["name"]: c["blocking"] for c in nodes["silver/pharmacy_fills"]["assetChecksOrError"]["checks"]}
    assert checks == {"schema": True, "reconciliation": True, "quarantine_rate": False}
    assert nodes["gold/features"]["groupName"] == "gold"


def test_ui_launches_an_asset_materialization_that_succeeds(webserver):
    url, home = webserver
    params = {"selector": {"repositoryLocationName": "caregap-workbench", "repositoryName": "__repository__", "pipelineName": "__ASSET_JOB",
                           "assetSelection": [{"path": ["governance", "lineage_export"]}]}}
    launched = graphql(url, LAUNCH, {"params": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id, status, deadline = launched["run"]["runId"], None, time.monotonic() + 120
    while status not in ("SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
        time.sleep(1)
        status = graphql(url, STATUS, {"id": run_id})["runsOrError"]["results"][0]["status"]
    assert status == "SUCCESS"
    assert json.loads((home / "governance" / "lineage.openlineage.json").read_text())


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is not installed (.ci/run installs it with apt-get)")
    return found


def test_the_report_link_in_dagster_opens_the_html_in_the_mlflow_ui(mlflow_ui, tmp_path):
    meta, registry = validation_report(), reviewed_model()[1]["model_registry"]
    run_id = meta["mlflow_artifact"].split("/")[1]
    assert meta["report"] == f"{registry.ui_url}/#/experiments/{registry.experiment_id()}/runs/{run_id}/artifactPath/reports/validation_report.html"
    served = f"{mlflow_ui}/get-artifact?path=reports/validation_report.html&run_uuid={run_id}"
    with urllib.request.urlopen(served, timeout=30) as response:
        assert hashlib.sha256(response.read()).hexdigest() == meta["html_sha256"], "the server hands out the very report Dagster recorded"
    page = mlflow_ui + meta["report"].removeprefix(registry.ui_url)
    dom = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=30000", "--dump-dom", page],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    assert "reports/validation_report.html" in dom and 'class="mlflow-html-iframe"' in dom, "the MLflow UI renders the report in its HTML viewer"


def test_a_validation_report_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000", f"--screenshot={shot}",
                    Path(validation_report()["html"]).as_uri()], check=True, capture_output=True, timeout=120)
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
    colours = pixels.getcolors(maxcolors=1 << 24)
    assert pixels.size == (1200, 2000) and len(colours) > 100, "a blank or unstyled page has a handful of colours"
    assert sum(n for n, colour in colours if colour != (255, 255, 255)) > 0.02 * 1200 * 2000
