"""``registry dashboard``: the Streamlit command line, refusals, and a real server answering."""

from __future__ import annotations

import socket
import urllib.request
from contextlib import closing

import pytest

from dashboard.server import (
    APP,
    DashboardError,
    allowed_hosts,
    check_port_free,
    free_port,
    running_dashboard,
    streamlit_argv,
)
from tests.conftest import Cli


def test_streamlit_runs_headless_on_loopback_without_usage_stats() -> None:
    argv = streamlit_argv("127.0.0.1", 8765)
    assert argv[1:5] == ["-m", "dashboard.launch", "run", str(APP)]
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8765"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"


def test_a_taken_port_is_one_clear_error(sqlite_cli: Cli) -> None:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = sqlite_cli("dashboard", "--port", str(port))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"registry: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_a_database_that_cannot_open_is_refused_before_serving(sqlite_cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = sqlite_cli("dashboard", "--db", str(tmp_path))
    assert result.exit_code == 1
    assert "is a folder, not a database file" in result.stderr


@pytest.mark.slow
def test_the_real_command_serves_the_app_on_loopback(sqlite_db: str) -> None:
    with running_dashboard(sqlite_db) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=5) as response:
            assert response.read() == b"ok"


@pytest.mark.parametrize("given", [None, "elsewhere/agents"])
def test_the_export_folder_reaches_the_app_resolved(
    sqlite_cli: Cli, monkeypatch: pytest.MonkeyPatch, given: str | None
) -> None:
    seen: list[dict[str, str]] = []
    monkeypatch.setattr("dashboard.command.os.execve", lambda _p, _a, env: seen.append(env))
    extra = [] if given is None else ["--export-dir", given]
    result = sqlite_cli("dashboard", "--port", str(free_port()), *extra)
    assert result.exit_code == 0, result.stderr
    expected = sqlite_cli.cwd.resolve() / (given or ".claude/agents")
    assert seen[0]["REGISTRY_EXPORT_DIR"] == str(expected)


def test_a_port_just_released_is_free_again_at_once() -> None:
    # A server that closed a connection first leaves it in TIME_WAIT, as a dashboard stopped
    # with Ctrl+C does: its port must be usable again immediately, not after a minute.
    with closing(socket.socket()) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Streamlit does
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with closing(socket.create_connection(("127.0.0.1", port))) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server side closes first: TIME_WAIT is on its port
            client.recv(1)
    check_port_free("127.0.0.1", port)


def test_a_port_another_server_listens_on_is_refused() -> None:
    with closing(socket.socket()) as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(DashboardError, match=f"cannot listen on 127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)


def websocket_status(base_url: str, host: str, origin: str) -> str:
    """The status line the server answers a browser's websocket handshake with."""
    address = base_url.removeprefix("http://")
    name, _, port = address.rpartition(":")
    request = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host}\r\nOrigin: {origin}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with closing(socket.create_connection((name, int(port)), timeout=10)) as sock:
        sock.sendall(request.encode())
        return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_allowed_hosts_follow_the_bound_address() -> None:
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "::1"]
    assert allowed_hosts("192.168.1.5") == ["192.168.1.5"]
    assert allowed_hosts("0.0.0.0") == []
    argv = streamlit_argv("192.168.1.5", 8765)
    assert argv[-2:] == ["--server.allowedHosts", "192.168.1.5"]


@pytest.mark.slow
def test_the_websocket_refuses_a_rebound_host_and_its_origin(sqlite_db: str) -> None:
    with running_dashboard(sqlite_db) as base_url:
        port = base_url.rpartition(":")[2]
        for name in ("127.0.0.1", "localhost"):
            address = f"{name}:{port}"
            assert " 101 " in websocket_status(base_url, address, f"http://{address}")
        # A page of evil.example, whose name now resolves to 127.0.0.1: same "origin" as host.
        rebound = f"evil.example:{port}"
        assert " 403 " in websocket_status(base_url, rebound, f"http://{rebound}")
        assert " 403 " in websocket_status(base_url, f"127.0.0.1:{port}", f"http://{rebound}")
