"""The whole `digest summarize FILE... --json` process against sumy's LexRank on the same bodies.

    python bench/summarize.py ARTICLES_DIR [--runs 3] [--megabytes 5]

ARTICLES_DIR: a folder of article files (e.g. BBC News Summary's `dev/articles/politics`, 208
articles with a title line). In one run, interleaved `--runs` times (the best run of each counts):
- `digest summarize` over every file as a fresh process (`python -m digest summarize ... --json`):
  start-up, imports, parsing and summarising included;
- sumy's LexRank in this process (imports and warm-up excluded) on the same bodies as `digest`
  parses them: `PlaintextParser` with digest's offline tokenizer (sumy's default wants NLTK data),
  the English stemmer and stop words, 3 sentences; and, when pysbd is installed (the `bench`
  extra), the same with pysbd's sentences, as `OfflineTokenizer` gave them before issue 22;
then articles per second and the ratios (target: digest >= 2x LexRank with digest's own
splitter, the strict baseline: it shares the faster splitter). The process runs as an installed
`digest` does, with its bytecode cached (a warm-up run writes it, PYTHONDONTWRITEBYTECODE is
dropped for the child). Both wall-clock
and CPU seconds are shown: on a shared machine CPU time is the steadier figure. Last, one
`--megabytes` article run together from the bodies, summarised by a fresh process (the
summariser reads its first 50,000 characters; splitting and parsing are linear).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 2.0


# An installed package has its bytecode compiled (pip does it at install, Python on first import);
# with PYTHONDONTWRITEBYTECODE set (as on some development machines) a source checkout would
# compile every module on every run instead, which no installed `digest` does.
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def process_seconds(command: list[str]) -> tuple[float, float, int]:
    """(wall, CPU, lines of output) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=ENVIRONMENT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        failure = result.stderr[-500:]
        sys.exit(f"{' '.join(command[:4])} ... failed ({result.returncode}): {failure}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, len(result.stdout.splitlines())


class PysbdTokenizer:
    """sumy's tokenizer interface over pysbd: the sentences `OfflineTokenizer` gave before."""

    language = "english"

    def __init__(self) -> None:
        import pysbd

        self.segmenter = pysbd.Segmenter(language="en", clean=False)

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(str(s).strip() for s in self.segmenter.segment(paragraph) if str(s).strip())

    def to_words(self, sentence: str) -> tuple[str, ...]:
        from digest.summarize.sentences import words

        return words(sentence)


def lexrank_seconds(bodies: list[str], tokenizer: object) -> tuple[float, float]:
    """(wall, CPU) of sumy's LexRank over `bodies`, 3 sentences each."""
    from sumy.nlp.stemmers import Stemmer
    from sumy.parsers.plaintext import PlaintextParser
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.utils import get_stop_words

    summarizer = LexRankSummarizer(Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")
    summarizer(PlaintextParser.from_string(bodies[0], tokenizer).document, 3)  # warm up
    started, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        summarizer(PlaintextParser.from_string(body, tokenizer).document, 3)
    return time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("articles", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--megabytes", type=float, default=4.99)
    args = parser.parse_args(argv)
    from digest.sources import parse_file

    files = sorted(path for path in args.articles.iterdir() if path.is_file())
    bodies = []
    for path in files:
        try:
            bodies.append(parse_file(path).body)
        except Exception as error:  # noqa: BLE001 - the bench reports and goes on
            print(f"{path}: skipped ({error})", file=sys.stderr)
    if not bodies:
        print(f"{args.articles}: no readable articles", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "digest", "summarize", *map(str, files), "--json"]
    process_seconds(command[:5] + ["--json"])  # warm-up: bytecode cached as when installed
    from digest.summarize import OfflineTokenizer

    baselines: dict[str, object] = {"sumy LexRank, digest's splitter": OfflineTokenizer()}
    try:
        baselines["sumy LexRank, pysbd's sentences (before)"] = PysbdTokenizer()
    except ImportError:
        print("pysbd is not installed: the pysbd baseline is left out", file=sys.stderr)
    ours: list[tuple[float, float]] = []
    theirs: dict[str, list[tuple[float, float]]] = {label: [] for label in baselines}
    for _ in range(args.runs):
        wall, cpu, lines = process_seconds(command)
        if lines != len(bodies):
            sys.exit(f"digest summarize printed {lines} summaries for {len(bodies)} articles")
        ours.append((wall, cpu))
        for label, tokenizer in baselines.items():
            theirs[label].append(lexrank_seconds(bodies, tokenizer))
    count = len(bodies)
    print(f"{count} articles from {args.articles}, best of {args.runs} interleaved runs\n")
    print("| baseline (in process) | measure | digest summarize (process) | baseline | ratio |")
    print("|---|---|---|---|---|")
    for label, runs in theirs.items():
        for measure, index in (("wall clock", 0), ("CPU time", 1)):
            mine = min(run[index] for run in ours)
            base = min(run[index] for run in runs)
            print(
                f"| {label} | {measure} | {count / mine:.0f} articles/s ({mine:.2f} s) "
                f"| {count / base:.0f} articles/s ({base:.2f} s) | {base / mine:.2f}x |"
            )
    print(f"\ntarget: >= {TARGET_RATIO:.0f}x the baseline with digest's splitter")

    body = "\n\n".join(bodies)
    body = (body + "\n\n") * math.ceil(args.megabytes * 1_000_000 / (len(body) + 2))
    # cut to the size in bytes (under the 5,000,000-byte limit on an input file by default)
    body = body.encode()[: int(args.megabytes * 1_000_000)].decode(errors="ignore")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        big.write_text("A very long article\n" + body, encoding="utf-8")
        single = [sys.executable, "-m", "digest", "summarize", str(files[0]), "--json"]
        one_wall, one_cpu, _ = min(process_seconds(single) for _ in range(args.runs))
        wall, cpu, _ = min(
            process_seconds([*single[:-2], str(big), "--json"]) for _ in range(args.runs)
        )
    print(
        f"\nOne {os.path.getsize(files[0]) / 1000:.1f} kB article, whole process: "
        f"{one_wall:.2f} s wall, {one_cpu:.2f} s CPU"
    )
    print(
        f"One {len(body) / 1e6:.1f} MB article, whole process: {wall:.2f} s wall, {cpu:.2f} s CPU"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
