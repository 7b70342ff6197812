"""JupyterLab serves the templates and runs a kernel that uses workbench and the store.

Starts ``jupyter lab`` (what ``make lab`` runs) on a loopback port with a token and a private
Jupyter configuration, then drives it through its REST API and a kernel websocket: the
templates are listed, a kernel starts, and a cell imports ``workbench`` and queries an
embedded store of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CELL = """
from workbench.store import connect
from workbench.reporting import list_templates
store = connect()
one = int(store.query_df("SELECT 1 AS one").one[0])
print("answer", one, store.describe())
store.close()
print("templates", sorted(t.name for t in list_templates()))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base: str, token: str, path: str, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(
        base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def execute(ws, code: str, timeout_s: float = 60) -> tuple[dict, list[str]]:
    """Send one execute_request on the kernel's channels; return the reply and stdout."""
    msg_id, session = uuid.uuid4().hex, uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": session,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))  # fmt: skip
    deadline, out, reply = time.monotonic() + timeout_s, [], None
    while time.monotonic() < deadline:
        ws.settimeout(max(0.1, deadline - time.monotonic()))
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            out.append("\n".join(msg["content"]["traceback"]))
        elif kind == "execute_reply":
            reply = msg["content"]
        elif kind == "status" and msg["content"]["execution_state"] == "idle" and reply is not None:
            return reply, out
    raise AssertionError(f"no reply within {timeout_s} s; got {out}")


@pytest.mark.slow
def test_jupyterlab_lists_templates_and_runs_a_workbench_cell(tmp_path):
    websocket = pytest.importorskip("websocket")  # websocket-client, a jupyter_server dependency
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "WB_DATA_DIR": str(tmp_path / "warehouse"), "WB_DATABASE": "lab_test",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "IPYTHONDIR": str(tmp_path / "ipython"), "JUPYTER_PLATFORM_DIRS": "1"}  # fmt: skip
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={REPO / 'notebooks'}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.news_url=", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = call(base, token, "/api/status")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "jupyter lab did not answer within 60 s"
            time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError):  # the token is required
            urllib.request.urlopen(base + "/api/contents/reports", timeout=10)  # noqa: S310
        _, listing = call(base, token, "/api/contents/reports")
        names = {item["name"] for item in listing["content"]}
        assert "traffic_overview.ipynb" in names
        lab = urllib.request.Request(base + "/lab", headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(lab, timeout=20) as page:  # noqa: S310 - loopback only
            assert page.status == 200 and b"JupyterLab" in page.read()
        _, kernel = call(base, token, "/api/kernels", "POST", {"name": "python3"})
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels",
            header=[f"Authorization: token {token}"], timeout=60,
        )  # fmt: skip
        try:
            reply, out = execute(ws, CELL)
        finally:
            ws.close()
        text = "".join(out)
        assert reply["status"] == "ok", text
        assert "answer 1 embedded ClickHouse (chDB) at " + str(tmp_path / "warehouse") in text
        assert "database lab_test" in text and "'traffic_overview'" in text
        assert call(base, token, f"/api/kernels/{kernel['id']}", "DELETE")[0] == 204
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
