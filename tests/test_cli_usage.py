"""The command line as a person reads it: usage lines, help, usage errors, --version, -h, and the
commands' small surprises (a new list out of a typo, a busy port, a hidden cursor)."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import typer
from send_support import FaultyRelay, Relay, make_project
from typer.testing import CliRunner

from digest import __version__
from digest.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent
BOX = "╭│╰"


def commands() -> list[list[str]]:
    """Every command path: ["parse"], ..., ["subscribers", "add"], ..."""
    group = typer.main.get_command(app)
    found: list[list[str]] = [[]]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        found.append([name])
        for sub in getattr(command, "commands", {}):
            found.append([name, sub])
    return found


@pytest.mark.parametrize("path", commands(), ids=lambda p: " ".join(p) or "digest")
def test_help_reads_plainly(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "-h"])
    assert result.exit_code == 0, result.output
    assert result.output == runner.invoke(app, [*path, "--help"]).output
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert not re.search(r"[{}]|\[\[|\]\.\.\.\]|\.\.\.\]\.\.\.|\}\.\.\.", usage), usage
    assert "<bool>" not in result.output and "list[" not in result.output


def test_usage_lines_name_the_arguments_as_people_write_them() -> None:
    expected = {
        ("parse",): "digest parse [OPTIONS] INPUT...",
        ("ingest",): "digest ingest [OPTIONS] [SOURCE]...",
        ("preview",): "digest preview [OPTIONS] [ISSUE]",
        ("send",): "digest send [OPTIONS] [ISSUE]",
        ("classify",): "digest classify [OPTIONS] FILE...",
        ("subscribers", "add"): "digest subscribers add [OPTIONS] EMAIL",
    }
    for path, usage in expected.items():
        assert usage in runner.invoke(app, [*path, "--help"]).output


def test_command_descriptions_are_whole_sentences() -> None:
    """The command list shows each command's whole first paragraph, never a line cut where the
    docstring's source broke it, nor an ellipsis."""
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        short = command.get_short_help_str(limit=45)
        assert "\n" not in short and not short.endswith("..."), (name, short)
        assert short.endswith((".", ")")), (name, short)
    listing = " ".join(runner.invoke(app, ["--help"]).output.replace("│", " ").split())
    assert "deliver it to the sample subscribers through the outbox." in listing


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["build", "--limit", "x"], "digest build: Invalid value for '--limit'"),
        (["parse"], "digest parse: Missing argument 'INPUT...'"),
        (["nosuch"], "digest: No such command 'nosuch'"),
        (["build", "--frobnicate"], "digest build: No such option: --frobnicate"),
        (["subscribers", "add"], "digest subscribers add: Missing argument 'EMAIL'"),
    ],
)
def test_a_usage_error_is_our_one_line_with_exit_code_2(args: list[str], says: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and says in lines[0], lines[0]
    assert "--help" in lines[0] and not any(c in result.stderr for c in BOX)


def test_version_and_short_help() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"digest {__version__}"
    assert runner.invoke(app, ["-h"]).exit_code == 0


def test_a_setting_of_the_wrong_type_is_named_in_words(tmp_path: Path) -> None:
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 0
    config = tmp_path / "digest.toml"
    config.write_text(config.read_text().replace("limit = 10", 'limit = "ten"'))
    result = runner.invoke(app, ["--project", str(tmp_path), "build"])
    assert result.exit_code == 2
    assert "`selection.limit` must be a whole number, not 'ten'" in result.stderr
    assert "a int" not in result.stderr


# -- subscribers add does not make a list out of a typo -----------------------------------------


def test_subscribers_add_never_quietly_creates_a_list(tmp_path: Path) -> None:
    root = tmp_path / "news"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0  # subscribers/example.csv
    lists = root / "subscribers"

    def add(*args: str) -> object:
        return runner.invoke(app, ["--project", str(root), "subscribers", "add", *args])

    result = add("new@example.org")  # the only list there is
    assert result.exit_code == 0 and "new@example.org added to list example" in result.stderr
    result = add("typo@example.org", "--list", "exmaple")
    assert (
        result.exit_code == 2 and "--list exmaple: no such list (lists: example)" in result.stderr
    )
    assert "--new-list" in result.stderr
    assert sorted(p.name for p in lists.iterdir()) == ["example.csv"]  # no default.csv either
    result = add("vip@example.org", "--list", "vip", "--new-list")
    assert result.exit_code == 0 and "created list vip" in result.stderr
    result = add("who@example.org")
    assert result.exit_code == 2 and "several lists (example, vip)" in result.stderr
    assert add("first@example.org", "--list", "default", "--new-list").exit_code == 0
    result = add("who@example.org")  # among several, a list named `default` is the default
    assert result.exit_code == 0 and "added to list default" in result.stderr


# -- preview keeps out of a mail catcher's way ---------------------------------------------------


def test_preview_starts_while_a_mail_catcher_holds_8025(tmp_path: Path) -> None:
    root = tmp_path / "news"
    assert runner.invoke(app, ["init", str(root), "--examples"]).exit_code == 0
    build = runner.invoke(app, ["--project", str(root), "build", "--as-of", "2026-11-21"])
    assert build.exit_code == 0, build.output
    catcher = socket.socket()
    catcher.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        catcher.bind(("127.0.0.1", 8025))
    except OSError:
        pass  # something holds 8025 already: all the better for the test
    else:
        catcher.listen()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "--project", str(root), "preview", "--no-open"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        # the link, with the desk's token: without it the page is refused
        match = re.search(r"issue: (http://127\.0\.0\.1:(\d+)/\?token=\S+)", line)
        assert match, line + (process.stderr.read() if process.poll() is not None else "")
        assert match.group(2) != "8025"
        with urllib.request.urlopen(match.group(1), timeout=10) as response:
            assert "Gibraltar" in response.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=10)
        catcher.close()


# -- SIGTERM gives the terminal its cursor back --------------------------------------------------

HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"


@pytest.mark.slow
def test_sigterm_during_a_send_on_a_terminal_shows_the_cursor_again(tmp_path: Path) -> None:
    """`digest send` on a terminal draws a progress bar (cursor hidden); `kill` (SIGTERM) must
    end it as Ctrl-C does: cursor shown, the way to finish said, exit code 1."""
    addresses = [f"r{n:03d}@example.net" for n in range(200)]
    handler = FaultyRelay(delay=0.05)
    project = make_project(tmp_path / "p", addresses)
    relay = Relay(handler).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(TERM="xterm-256color", COLUMNS="100")
    leader, follower = pty.openpty()
    args = ["--project", str(project.root), "send", "--smtp-url", relay.url, "--concurrency", "2"]
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", *args],
            env=env,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            close_fds=True,
        )
        os.close(follower)
        output = b""
        deadline = time.monotonic() + 60
        while len(handler.received) < 5 and time.monotonic() < deadline:
            output += _read_available(leader)
        assert HIDE_CURSOR in output, output
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            output += _read_available(leader)
        output += _read_available(leader)
        assert process.returncode == 1, output
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
        relay.stop()
    assert output.rfind(SHOW_CURSOR) > output.rfind(HIDE_CURSOR), output[-400:]
    assert b"Traceback" not in output and b"run `digest send` again" in output


def _read_available(fd: int) -> bytes:
    data = b""
    while select.select([fd], [], [], 0.05)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        data += chunk
    return data


def test_every_help_fits_80_columns_without_cutting_an_option() -> None:
    # rich's default table cut names and help at 80 columns: "--forwarded-allo…" (digest serve)
    for path in commands():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert result.exit_code == 0, result.output
        for line in result.output.splitlines():
            assert len(line) <= 80 and "…" not in line, f"{' '.join(path)}: {line}"
    served = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert "--forwarded-allow-ips" in served.output and "--no-proxy-headers" in served.output
