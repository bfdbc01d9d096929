"""The whole pipeline on a fresh project, and the README's Quick start exactly as written."""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()
DEMO_DIR = "digest-demo"  # where `digest demo` puts its project by default


def outbox_messages(root: Path) -> list:
    box = mailbox.Maildir(root / "outbox", create=False)
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(box.get_bytes(key)) for key in box.iterkeys()]


def test_build_then_send_through_the_outbox(tmp_path: Path) -> None:
    root = tmp_path / "news"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    build = runner.invoke(
        app,
        [
            "--project",
            str(root),
            "build",
            "--articles",
            str(REPO / "examples" / "articles"),
            "--as-of",
            "2026-11-21T00:00:00+00:00",
            "--since",
            "7d",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert build.exit_code == 0, build.output
    assert (tmp_path / "out" / "issue.html").read_text().lower().startswith("<!doctype html")
    send = runner.invoke(app, ["--project", str(root), "send", "--json"])
    assert send.exit_code == 0, send.output

    subscribers = (root / "subscribers" / "example.csv").read_text().strip().splitlines()[1:]
    messages = outbox_messages(root)
    assert len(messages) == len(subscribers) > 0
    ids = set()
    for message in messages:
        assert message.get_content_type() == "multipart/alternative"
        text, html = message.get_payload()
        assert text.get_content_type() == "text/plain"
        assert html.get_content_type() == "text/html"
        assert html.get_content_charset() == "utf-8"
        assert message["Date"] and message["Message-ID"] and message["Subject"]
        ids.add(message["Message-ID"])
        # personalised: the recipient's own address is in To
        assert any(line.split(",")[0] in message["To"] for line in subscribers)
    assert len(ids) == len(messages)


def quick_start_commands() -> list[str]:
    """The two commands under the README's Quick start heading."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", section, re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    return [c for c in commands if not c.lstrip().startswith("#")]


def clone_files(root: Path) -> list[str]:
    """The files a clone of `root` would hold, with the work in progress, but not what git
    ignores: the demo's output from an earlier `digest demo` must not leak into the copy."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [name for name in files if not name.startswith(f"{DEMO_DIR}/")]


def test_the_demo_output_is_ignored_by_git(tmp_path: Path) -> None:
    """`digest demo` run in a clone leaves its folder untracked and out of the Quick start copy."""
    shutil.copy2(REPO / ".gitignore", tmp_path / ".gitignore")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    result = runner.invoke(app, ["demo", str(tmp_path / DEMO_DIR)])
    assert result.exit_code == 0, result.output
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"{DEMO_DIR}/issue/issue.html"], cwd=tmp_path
    )
    assert ignored.returncode == 0, "the demo's output shows up in `git status`"
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True, text=True
    ).stdout
    assert DEMO_DIR not in status


def test_readme_quick_start_has_exactly_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert "pytest" in commands[1]


@pytest.mark.slow
def test_quick_start_main_job_as_written(tmp_path: Path) -> None:
    """Install the project into a new virtual environment and run the first command verbatim."""
    checkout = tmp_path / "checkout"
    for name in clone_files(REPO):
        if (REPO / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, checkout / name)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    # the dependencies are those of the environment running the tests (no download but the build
    # backend); the project itself is installed afresh into the new environment, which wins
    purelib = sysconfig.get_paths()["purelib"]
    new_purelib = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(new_purelib) / "outer-env.pth").write_text(purelib + "\n")
    env = dict(os.environ, PATH=f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}")
    env.pop("DIGEST_PROJECT", None)
    env["PYTHONNOUSERSITE"] = "1"
    command = quick_start_commands()[0]
    result = subprocess.run(
        ["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    demo = checkout / "digest-demo"
    html = demo / "issue" / "issue.html"
    assert str(html) in output.replace("\n", "")
    assert html.is_file()
    # the installed copy (not this checkout) did the work, templates and all
    installed = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import digest; print(digest.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert str(env_dir) in installed
    assert len(outbox_messages(demo)) == 3
    assert sys.version_info >= (3, 11)


def test_a_send_names_the_list_rows_it_could_not_read(tmp_path: Path) -> None:
    root = tmp_path / "news"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    (root / "subscribers" / "example.csv").write_text(
        'email,name\nann@example.org,Ann\nbob@example.org,"Bob Jr\ncy@example.org,Cy\n'
    )
    build = runner.invoke(
        app,
        ["--project", str(root), "build", "--articles", str(REPO / "examples" / "articles")]
        + ["--as-of", "2026-11-21T00:00:00+00:00"],
    )
    assert build.exit_code == 0, build.output
    send = runner.invoke(app, ["--project", str(root), "send"])
    assert send.exit_code == 0, send.output
    assert "example.csv:3" in send.stderr  # Bob's unclosed quote is named, not swallowed
    delivered = {m["To"].addresses[0].addr_spec for m in outbox_messages(root)}
    assert delivered == {"ann@example.org", "cy@example.org"}
