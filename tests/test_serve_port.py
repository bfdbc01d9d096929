"""`digest serve` on a port already taken: one line naming the port and how to choose another."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from digest.cli import app
from digest.project import init_project


def test_a_busy_port_is_one_line_naming_it_and_the_way_out(tmp_path: Path) -> None:
    init_project(tmp_path / "news")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["--project", str(tmp_path / "news"), "serve", "--port", str(port)]
        )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is in use" in line and "--port" in line
    assert "Serving" not in result.output and "ERROR" not in result.output
