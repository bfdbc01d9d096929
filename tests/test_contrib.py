"""The shipped cron and systemd recipes work as written: the cron line's own shell command, and
the systemd unit's EnvironmentFile= handling, deliver the environment to a real `digest run`
that sends through a loopback relay."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from send_support import Authenticator, FaultyRelay, Relay, add_issue, make_project

from digest.schedule import period_key
from digest.store import now_utc

CONTRIB = Path(__file__).parent.parent / "contrib"
DIGEST = str(Path(sys.executable).parent / "digest")
# cron's environment is nearly empty: nothing of ours may come from the test's shell
CRON_ENV = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
# systemd's EnvironmentFile= reads NAME=value lines; values with quotes, spaces, `$` or
# backslashes would be read differently by sh, and `export` is not systemd syntax
PLAIN_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=[^\s\"'$`\\]*$")


@pytest.fixture
def deployment(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A project with this period's issue waiting, a relay that needs a login, and an env file
    made from the shipped example with this deployment's values."""
    project = make_project(tmp_path / "newsletter", 3)
    add_issue(project, period_key(now_utc(), "week"), status="approved")  # the editor said go
    project.close()
    authenticator = Authenticator(b"relay-pw-123")
    relay = Relay(FaultyRelay(), authenticator=authenticator, auth_require_tls=False).start()
    values = {
        "DIGEST_SMTP_URL": f"smtp://mailer@127.0.0.1:{relay.port}?starttls=no",
        "DIGEST_SMTP_PASSWORD": "relay-pw-123",
        "DIGEST_SECRET": "cron-secret-0123456789abcdef-0123456789",
        "DIGEST_BASE_URL": "https://digest.example.org",
    }
    lines = []
    for line in (CONTRIB / "digest.env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    env_file = tmp_path / "digest.env"
    env_file.write_text("\n".join(lines) + "\n")
    yield project.root, env_file, relay, authenticator
    relay.stop()


def check_delivered(root: Path, relay: Relay, authenticator: Authenticator) -> None:
    copies = relay.handler.copies()
    assert sum(copies.values()) == 3
    assert authenticator.logins and set(authenticator.logins) == {(b"mailer", b"relay-pw-123")}
    message = relay.handler.received[0].data
    assert b"https://digest.example.org/unsubscribe?token=" in message.replace(b"=\r\n", b"")
    # DIGEST_SECRET reached digest: it did not make up a secret of its own
    assert not (root / ".digest" / "secret").exists()


def test_the_env_example_is_read_the_same_by_sh_and_systemd() -> None:
    for line in (CONTRIB / "digest.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert PLAIN_ASSIGNMENT.match(line), line


@pytest.mark.slow
def test_the_cron_line_runs_digest_with_the_env_file(deployment) -> None:  # type: ignore[no-untyped-def]
    root, env_file, relay, authenticator = deployment
    entry = [
        line
        for line in (CONTRIB / "digest.cron").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(entry) == 1
    command = entry[0].split(None, 5)[5]  # after minute, hour, day, month, weekday
    log = root.parent / "digest.log"
    command = (
        command.replace("/srv/newsletter/.venv/bin/digest", DIGEST)
        .replace("/srv/newsletter", str(root))
        .replace("/etc/digest.env", str(env_file))
        .replace("/var/log/digest.log", str(log))
    )
    done = subprocess.run(["/bin/sh", "-c", command], env=CRON_ENV, timeout=120)
    output = log.read_text()
    assert done.returncode == 0, output
    assert f"via smtp://mailer@127.0.0.1:{relay.port}" in output
    check_delivered(root, relay, authenticator)


def test_the_systemd_unit_reads_the_env_file(deployment) -> None:  # type: ignore[no-untyped-def]
    root, env_file, relay, authenticator = deployment
    unit = dict(
        line.split("=", 1)
        for line in (CONTRIB / "digest.service").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert unit["EnvironmentFile"] == "/etc/digest.env"
    assert unit["WorkingDirectory"] == "/srv/newsletter"
    # EnvironmentFile= as systemd reads it: NAME=value lines, comments skipped
    environment = dict(CRON_ENV)
    for line in env_file.read_text().splitlines():
        if line.strip() and not line.startswith(("#", ";")):
            assert PLAIN_ASSIGNMENT.match(line), line
            name, value = line.split("=", 1)
            environment[name] = value
    argv = unit["ExecStart"].replace("/srv/newsletter/.venv/bin/digest", DIGEST).split()
    done = subprocess.run(
        argv, cwd=root, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"via smtp://mailer@127.0.0.1:{relay.port}" in done.stdout + done.stderr
    check_delivered(root, relay, authenticator)
