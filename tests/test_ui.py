"""The Dagster UI's own server, started on 127.0.0.1, serves the asset graph with its checks and launches runs; a
validation report renders in a real browser (headless Chromium).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from definitions import defs
from tests.report_state import validation_report

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


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    """The webserver on a state folder of its own, so the runs it launches touch nothing else."""
    home = tmp_path_factory.mktemp("ui-home")
    (home / "dagster").mkdir()
    (home / "dagster" / "dagster.yaml").write_text(INSTANCE)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env={**os.environ, "WORKBENCH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not answer within 90 s")
        yield url, home
    finally:
        server.terminate()
        server.wait(timeout=30)


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


def test_a_validation_report_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it with apt-get)")
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000", f"--screenshot={shot}",
                    Path(validation_report()["html"]).as_uri()], check=True, capture_output=True, timeout=120)
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
    colours = pixels.getcolors(maxcolors=1 << 24)
    assert pixels.size == (1200, 2000) and len(colours) > 100, "a blank or unstyled page has a handful of colours"
    assert sum(n for n, colour in colours if colour != (255, 255, 255)) > 0.02 * 1200 * 2000
