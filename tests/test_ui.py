"""The Dagster UI's own server, started on 127.0.0.1, serves the asset graph with its checks."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from definitions import defs

ROOT = Path(__file__).resolve().parents[1]
QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webserver():
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["data"]


def test_ui_serves_every_asset_with_its_checks_and_lineage(webserver):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in graphql(webserver, QUERY)["assetNodes"]}
    assert set(nodes) == {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert [d["path"] for d in nodes["silver/pharmacy_fills"]["dependencyKeys"]] == [["bronze", "pharmacy_fills"]]
    checks = {c["name"]: c["blocking"] for c in nodes["silver/pharmacy_fills"]["assetChecksOrError"]["checks"]}
    assert checks == {"schema": True, "reconciliation": True, "quarantine_rate": False}
    assert nodes["gold/features"]["groupName"] == "gold"
