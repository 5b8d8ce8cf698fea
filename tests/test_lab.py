"""`make lab` itself, started on 127.0.0.1: JupyterLab serves the project's notebooks, offers the kernel the Makefile
registers, and that kernel imports the pipeline's own definitions (what every notebook's first cell does).
"""

import json
import sys
import time
import uuid
import urllib.request
from pathlib import Path

import websocket

from tests.test_ui import free_port, serving

NOTEBOOKS = {"explore.ipynb", "measure_rates.ipynb", "monitoring_report.ipynb", "validation_report.ipynb"}
KERNEL = "caregap-workbench"
PROBE = "from definitions import defs; import sys; print(sys.executable, len(defs.resolve_all_asset_keys()))"


def api(url: str, path: str, token: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/api/{path}", data=data, method="GET" if body is None else "POST",
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def execute(url: str, kernel_id: str, token: str, code: str) -> tuple[str, list[str]]:
    """Run `code` in a served kernel over Jupyter's websocket protocol: its stdout and any error names."""
    socket = websocket.create_connection(f"ws{url.removeprefix('http')}/api/kernels/{kernel_id}/channels?token={token}", timeout=300)
    msg_id = uuid.uuid4().hex
    socket.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "session": uuid.uuid4().hex, "username": "test",
                                       "version": "5.3"},
                            "parent_header": {}, "metadata": {}, "channel": "shell",
                            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}}))
    stdout, errors = [], []
    try:
        while True:
            message = json.loads(socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id or message["channel"] != "iopub":
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                errors.append(content["ename"])
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(stdout), errors
    finally:
        socket.close()


def test_make_lab_serves_the_notebooks_in_the_projects_kernel():
    port, token = free_port(), uuid.uuid4().hex
    url = f"http://127.0.0.1:{port}"
    with serving(["make", "--no-print-directory", "lab"], {"LAB_PORT": str(port), "LAB_TOKEN": token}, f"{url}/api/status?token={token}"):
        assert NOTEBOOKS <= {item["name"] for item in api(url, "contents", token)["content"]}
        spec = api(url, "kernelspecs", token)["kernelspecs"][KERNEL]["spec"]
        assert Path(spec["argv"][0]).resolve() == Path(sys.executable).resolve(), "the lab kernel is the project's environment"
        kernel = api(url, "kernels", token, {"name": KERNEL})
        stdout, errors = execute(url, kernel["id"], token, PROBE)
        assert errors == []
        executable, assets = stdout.split()
        assert Path(executable).resolve() == Path(sys.executable).resolve() and int(assets) > 20
    assert stopped(f"{url}/api/status?token={token}"), "make lab's server stops with the test"


def stopped(probe: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(probe, timeout=2)
        except OSError:
            return True
        time.sleep(0.5)
    return False
