"""`digest summarize FILE... --json` without the typer application.

Summarising is the command run over many files by other programs, and its work per article is a
few milliseconds: loading typer, rich and every command's modules would cost more than the
articles. `run_quick` reads the command line itself when it is a well-formed `summarize` with
`--json`; anything else (help, text output, a mistake to report) goes to the typer application,
which says what is wrong the usual way. `summarised` is the loop both share.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from digest.errors import EXIT_OK, EXIT_PARTIAL, DigestError
from digest.models import Article

_INTEGER_OPTIONS = {
    "--sentences": "sentences",
    "-k": "sentences",
    "--words": "words",
    "-w": "words",
}
_ALGORITHM_OPTIONS = ("--algorithm", "-a")


@dataclass
class SummarizeRequest:
    files: list[Path] = field(default_factory=list)
    sentences: int = 3
    words: int = 90
    algorithm: str = "digest"


def summarised(
    files: Sequence[Path],
    *,
    sentences: int,
    words: int,
    algorithm: str,
    report: Callable[[str], None],
) -> Iterator[tuple[Path, Article, list[str]]]:
    """(path, article, summary) for each file that parses; `report` gets the line for each
    file that does not."""
    from digest.sources import parse_file
    from digest.summarize import summarize

    for path in files:
        try:
            article = parse_file(path)
        except DigestError as exc:
            report(str(exc))
            continue
        chosen = summarize(
            article.body,
            sentences=sentences,
            words=words,
            algorithm=algorithm,
            truncated=article.truncated,
            title=article.title,
        )
        yield path, article, chosen


def parse_summarize(argv: Sequence[str]) -> SummarizeRequest | None:
    """The request when `argv` is a well-formed `summarize FILE... --json`, else None."""
    if not argv or argv[0] != "summarize":
        return None
    request = SummarizeRequest()
    json_out = only_files = False
    rest = list(argv[1:])
    while rest:
        arg = rest.pop(0)
        if only_files or arg == "-" or not arg.startswith("-"):
            request.files.append(Path(arg))
            continue
        if arg == "--":
            only_files = True
            continue
        if arg == "--json":
            json_out = True
            continue
        if arg.startswith("--"):
            name, has_value, value = arg.partition("=")
        else:
            name, value = arg[:2], arg[2:]
            has_value = "=" if value else ""
        if not has_value:
            if not rest:
                return None
            value = rest.pop(0)
        if name in _ALGORITHM_OPTIONS:
            request.algorithm = value
        elif name in _INTEGER_OPTIONS and value.isascii() and value.isdigit() and int(value) >= 1:
            setattr(request, _INTEGER_OPTIONS[name], int(value))
        else:
            return None  # an unknown option or a bad value: the full parser says what is wrong
    if not json_out or not request.files:
        return None
    from digest.summarize import ALGORITHMS

    return request if request.algorithm in ALGORITHMS else None


def run_quick(argv: Sequence[str]) -> int | None:
    """Run `argv` when `parse_summarize` takes it, and return the exit code; else None."""
    request = parse_summarize(argv)
    if request is None:
        return None
    import json

    def report(line: str) -> None:
        sys.stderr.write(line + "\n")

    done = 0
    try:
        for path, article, chosen in summarised(
            request.files,
            sentences=request.sentences,
            words=request.words,
            algorithm=request.algorithm,
            report=report,
        ):
            record = {"path": str(path), "title": article.title, "sentences": chosen}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            done += 1
    except KeyboardInterrupt:
        report("error: interrupted; run the command again to finish")
        return EXIT_PARTIAL
    finally:
        sys.stdout.flush()
    return EXIT_OK if done == len(request.files) else EXIT_PARTIAL
