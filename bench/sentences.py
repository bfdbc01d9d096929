"""The sentence splitter against pysbd: boundary agreement, where they differ, and speed.

    python bench/sentences.py PATH... [--samples N] [--seed S]

Each PATH is a folder of `.txt` articles (searched recursively; the first line is the title and is
left out), e.g. BBC News Summary's `dev/articles` or `modern-news`, or a JSON-lines file whose
records have an `article` field (e.g. modern-summaries-dev's `pairs.jsonl`). Nothing is shipped:
pass the paths. Needs pysbd (`pip install -e '.[bench]'`).

Both splitters see the same blocks (`digest.summarize.sentences` cuts a body into paragraphs and
joins hard-wrapped lines first), so what is compared is where each puts boundaries inside a
block. Two references:
- `pysbd`: pysbd's own segmentation (`Segmenter(language="en", clean=False)`), where a boundary is
  where the next sentence starts once a closing quote it handed to that sentence is given back;
- `pysbd+repairs`: pysbd as digest used it before, with its repairs of the boundaries pysbd
  misses (`weeks. "We`, `said." The`, `children. The`).
Precision is the share of our boundaries the reference has too; recall the share of the
reference's boundaries we have. Then a sample of the disagreements of each kind, and the time
each splitter takes over all the bodies (ours is `split_spans`, blocks included; pysbd's is its
`segment` over the same blocks, blocks not included).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from digest.summarize.sentences import _blocks, split_spans

_QUOTES = '"“”'
# the boundaries pysbd misses, as digest repaired them when it split with pysbd
_MISSED_BOUNDARY = re.compile(
    r"""(?<=[.!?])\s+(?=["“][A-Z])"""
    r"""|(?<=[.!?]["”])\s+(?=["“]?[A-Z])"""
    r"""|(?<=\b[a-z]{2}[.!?])\s+(?=[A-Z])|(?<=[a-z]{3}[.!?])\s+(?=[A-Z])"""
    r"""|(?<=\d\d[.!?])\s+(?=[A-Z])|(?<=%[.!?])\s+(?=[A-Z])"""
)
Boundaries = set[int]


def load(path: Path) -> list[str]:
    """The bodies of the articles at `path` (a folder of .txt files or a JSON-lines file)."""
    if path.is_dir():
        return [
            file.read_bytes().decode("utf-8", errors="replace").partition("\n")[2]
            for file in sorted(path.rglob("*.txt"))
        ]
    if path.is_file():
        with path.open(encoding="utf-8") as lines:
            return [json.loads(line)["article"] for line in lines if line.strip()]
    print(f"{path}: not a folder or a file; skipped", file=sys.stderr)
    return []


def _segmenter():  # type: ignore[no-untyped-def]
    try:
        import pysbd
    except ImportError:
        sys.exit("bench/sentences.py needs pysbd: pip install -e '.[bench]'")
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def pysbd_starts(body: str, segmenter, repaired: bool) -> Boundaries:  # type: ignore[no-untyped-def]
    """Where pysbd starts a sentence inside a block (offsets into `body`)."""
    starts: Boundaries = set()
    for block_start, block_end, _ in _blocks(body):
        flat = body[block_start:block_end].replace("\n", " ").replace("\r", " ")
        cursor = 0
        pieces: list[tuple[int, int]] = []
        for segment in segmenter.segment(flat):
            raw = segment.sent
            start = (
                segment.start
                if flat[segment.start : segment.end] == raw
                else flat.find(raw, cursor)
            )
            if start < 0:
                continue
            cursor = start + len(raw)
            cuts = [start]
            if repaired:
                for match in _MISSED_BOUNDARY.finditer(flat, start, cursor):
                    cuts.extend((match.start(), match.end()))
            cuts.append(cursor)
            pieces.extend((cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2))
        first = True
        for start, end in pieces:
            while start < end and flat[start].isspace():
                start += 1
            # pysbd hands a closing quote to the next sentence (`" She said`): give it back
            if (
                start < end
                and flat[start] in _QUOTES
                and (end - start == 1 or flat[start + 1].isspace())
            ):
                start += 1
                while start < end and flat[start].isspace():
                    start += 1
            if start >= end:
                continue
            if not first:
                starts.add(block_start + start)
            first = False
    return starts


def starts_by_block(body: str) -> Boundaries:
    """Our sentence starts that are not the first of their block."""
    blocks = _blocks(body)
    first_starts: Boundaries = set()
    spans = split_spans(body)
    index = 0
    for block_start, block_end, _ in blocks:
        while index < len(spans) and spans[index].start < block_start:
            index += 1
        if index < len(spans) and spans[index].start < block_end:
            first_starts.add(spans[index].start)
    return {span.start for span in spans} - first_starts


def context(body: str, offset: int, width: int = 60) -> str:
    before = body[max(0, offset - width) : offset]
    after = body[offset : offset + width]
    return " ".join(f"{before} ‖ {after}".split())


def compare(
    bodies: Sequence[str], reference: Callable[[str], Boundaries]
) -> tuple[int, int, int, list[tuple[str, str]]]:
    """(ours, theirs, shared, disagreements) over all bodies."""
    ours_total = theirs_total = shared_total = 0
    disagreements: list[tuple[str, str]] = []
    for body in bodies:
        ours, theirs = starts_by_block(body), reference(body)
        ours_total += len(ours)
        theirs_total += len(theirs)
        shared_total += len(ours & theirs)
        disagreements.extend(("only ours", context(body, o)) for o in sorted(ours - theirs))
        disagreements.extend(("only theirs", context(body, o)) for o in sorted(theirs - ours))
    return ours_total, theirs_total, shared_total, disagreements


def timed(work: Callable[[str], object], bodies: Iterable[str]) -> float:
    started = time.perf_counter()
    for body in bodies:
        work(body)
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--samples", type=int, default=12, help="disagreements shown per kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sets = [(path, load(path)) for path in args.paths]
    bodies = [body for _, loaded in sets for body in loaded]
    if not bodies:
        print("no articles read", file=sys.stderr)
        return 2
    segmenter = _segmenter()
    print("Sentence boundaries inside blocks, ours against each reference:\n")
    print("| articles | count | reference | ours | theirs | shared | precision | recall |")
    print("|---|---|---|---|---|---|---|---|")
    samples: dict[str, list[tuple[str, str]]] = {"pysbd": [], "pysbd+repairs": []}
    totals = {label: [0, 0, 0] for label in samples}
    for path, loaded in sets:
        for label, repaired in (("pysbd", False), ("pysbd+repairs", True)):
            ours, theirs, shared, disagreements = compare(
                loaded, lambda body, r=repaired: pysbd_starts(body, segmenter, r)
            )
            print(
                f"| {path.name} | {len(loaded)} | {label} | {ours} | {theirs} | {shared} "
                f"| {shared / max(ours, 1):.4f} | {shared / max(theirs, 1):.4f} |"
            )
            samples[label].extend(disagreements)
            for i, value in enumerate((ours, theirs, shared)):
                totals[label][i] += value
    for label, (ours, theirs, shared) in totals.items():
        print(
            f"| all | {len(bodies)} | {label} | {ours} | {theirs} | {shared} "
            f"| {shared / max(ours, 1):.4f} | {shared / max(theirs, 1):.4f} |"
        )
    rng = random.Random(args.seed)
    for label, disagreements in samples.items():
        for kind in ("only ours", "only theirs"):
            found = [text for side, text in disagreements if side == kind]
            shown = rng.sample(found, min(args.samples, len(found)))
            print(f"\n{kind} (reference {label}): {len(found)}, {len(shown)} shown")
            for text in shown:
                print(f"  {text}")

    split_spans(bodies[0])  # warm up both
    segmenter.segment(bodies[0][:2000])
    ours_seconds = timed(split_spans, bodies)

    def pysbd_only(body: str) -> None:
        for block_start, block_end, _ in _blocks(body):
            segmenter.segment(body[block_start:block_end].replace("\n", " "))

    theirs_seconds = timed(pysbd_only, bodies)
    characters = sum(len(body) for body in bodies)
    print(f"\nSpeed over all {len(bodies)} articles ({characters / 1e6:.1f} M characters):\n")
    print("| splitter | seconds | ms / article | speed vs pysbd |")
    print("|---|---|---|---|")
    for label, seconds in (("digest", ours_seconds), ("pysbd", theirs_seconds)):
        print(
            f"| {label} | {seconds:.2f} | {1000 * seconds / len(bodies):.3f} "
            f"| {theirs_seconds / seconds:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
