"""Starting Streamlit on the dashboard app: the command line it needs, and a managed server.

The server binds to 127.0.0.1 unless told otherwise: the dashboard has no login, and it can move
labels, so exposing it to a network is an explicit choice (``--host``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from core.errors import AgentRegistryError

APP = Path(__file__).with_name("app.py")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
STARTUP_TIMEOUT_S = 60.0


class DashboardError(AgentRegistryError):
    """The dashboard cannot start (port taken, server did not come up)."""


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def allowed_hosts(host: str) -> list[str]:
    """The Host names a browser may reach the dashboard by: the bound address, and the loopback
    names when it is loopback. A page of another site whose name was rebound to this address
    then cannot open the websocket. Bound to every interface, the names are unknown: any."""
    if host in WILDCARD_HOSTS:
        return []
    return list(LOOPBACK_NAMES) if host in LOOPBACK_NAMES else [host]


def streamlit_argv(host: str, port: int) -> list[str]:
    """Streamlit's ``run app.py`` (through ``dashboard.launch``, which first imports what the
    pages need) headless, on ``host:port``, with no usage statistics, accepting only the Host
    names of ``allowed_hosts``."""
    hosts = [arg for name in allowed_hosts(host) for arg in ("--server.allowedHosts", name)]
    return [
        sys.executable,
        "-m",
        "dashboard.launch",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
        *hosts,
    ]


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another server listens on; one left in TIME_WAIT (a dashboard just stopped
    with Ctrl+C) is free, as it is for Streamlit's own server, which sets SO_REUSEADDR too."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen()
        except OSError as err:
            raise DashboardError(
                f"cannot listen on {host}:{port} ({err.strerror}): choose another --port"
            ) from None


def free_port(host: str = DEFAULT_HOST) -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll Streamlit's ``/_stcore/health`` until it answers ``ok``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DashboardError(f"the dashboard exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise DashboardError(f"the dashboard did not answer at {base_url} within {timeout:.0f} s")


@contextmanager
def running_dashboard(db: str, *, host: str = DEFAULT_HOST) -> Iterator[str]:
    """Run the real ``registry dashboard`` on a free port until the block ends; its base URL."""
    port = free_port(host)
    argv = [
        sys.executable,
        "-m",
        "registry.cli",
        "--db",
        db,
        "dashboard",
        "--host",
        host,
        "--port",
        str(port),
    ]
    # Its own session, so that stopping it also stops the Streamlit process it becomes.
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    base_url = f"http://{host}:{port}"
    try:
        wait_healthy(base_url, process, STARTUP_TIMEOUT_S)
        yield base_url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
