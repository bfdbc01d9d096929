"""`digest summarize … --json` as a process: the quick path without typer, and its fallbacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.cli.quick import SummarizeRequest, parse_summarize

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples" / "articles").glob("*.txt"))
# sumy's package itself is read for its stop-word list; its summarisers and NLTK are not loaded
HEAVY = {"typer", "click", "rich", "sumy.nlp", "sumy.summarizers", "nltk", "premailer", "psycopg"}
HEAVY |= {"jinja2", "starlette", "requests"}


def digest(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def test_the_process_prints_what_the_typer_command_prints(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    files = [*map(str, EXAMPLES), str(tmp_path / "empty.txt")]
    quick = digest("summarize", *files, "-k", "2", "--words=60", "--json")
    typed = CliRunner().invoke(app, ["summarize", *files, "-k", "2", "--words=60", "--json"])
    assert quick.returncode == typed.exit_code == 1  # the empty file: partial
    assert quick.stdout == typed.stdout
    assert len(quick.stdout.splitlines()) == len(EXAMPLES)
    assert "empty.txt" in quick.stderr and "Traceback" not in quick.stderr


def test_the_quick_path_loads_no_command_line_or_sumy_machinery() -> None:
    script = (
        "import sys\n"
        "from digest.cli import main\n"
        f"sys.argv = ['digest', 'summarize', {str(EXAMPLES[0])!r}, '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    loaded = sorted(sys.modules)\n"
        "    print(json.dumps([exit.code, loaded]), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + script],
        capture_output=True,
        text=True,
        check=False,
    )
    code, loaded = json.loads(result.stderr.strip().splitlines()[-1])
    assert code == 0, result.stderr
    assert json.loads(result.stdout)["sentences"]
    assert not HEAVY & set(loaded)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["summarize", "a.txt", "--json"], SummarizeRequest([Path("a.txt")])),
        (
            ["summarize", "--json", "-k3", "-w", "40", "-a", "lead", "a", "b"],
            SummarizeRequest([Path("a"), Path("b")], 3, 40, "lead"),
        ),
        (
            ["summarize", "--sentences=2", "--words", "7", "--json", "--", "-x.txt"],
            SummarizeRequest([Path("-x.txt")], 2, 7),
        ),
        (["summarize", "a.txt"], None),  # text output: typer's
        (["summarize", "--json"], None),  # no file: typer's usage error
        (["summarize", "a.txt", "--json", "-k", "0"], None),
        (["summarize", "a.txt", "--json", "--words", "many"], None),
        (["summarize", "a.txt", "--json", "--algorithm", "magic"], None),
        (["summarize", "a.txt", "--json", "--sentences"], None),
        (["summarize", "a.txt", "--json", "--help"], None),
        (["summarize", "a.txt", "--json", "--colour"], None),
        (["--project", "p", "summarize", "a.txt", "--json"], None),
        (["classify", "a.txt", "--json"], None),
        ([], None),
    ],
)
def test_only_a_well_formed_json_summarize_takes_the_quick_path(
    argv: list[str], expected: SummarizeRequest | None
) -> None:
    assert parse_summarize(argv) == expected


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--algorithm", "magic"], "magic"),
        (["-k", "0"], "--sentences"),
        (["--colour"], "--colour"),
    ],
)
def test_a_mistake_is_reported_by_the_full_command_line(args: list[str], needle: str) -> None:
    result = digest("summarize", str(EXAMPLES[0]), "--json", *args)
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
