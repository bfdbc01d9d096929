"""The political classifier's cost against the issue's budget: load < 1 s, >= 1,000 articles/s on
one core, parameters <= 20 MB.

    python bench/classify.py DATASET_DIR [--limit N]

DATASET_DIR: any folder of text files (first line the title), searched recursively, e.g. the BBC
News Summary articles. Each file is scored once after a warm-up; the parameters are loaded in a
fresh process so the load time is a cold start.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

LOAD = (
    "import time; t = time.perf_counter(); from digest.classify import political_score; "
    "political_score('warm', 'up'); print(time.perf_counter() - t)"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args(argv)
    paths = sorted(args.dataset.rglob("*.txt"))[: args.limit]
    if not paths:
        print(f"{args.dataset}: no .txt files", file=sys.stderr)
        return 2
    texts = []
    for path in paths:
        title, _, body = path.read_bytes().decode("utf-8", errors="replace").partition("\n")
        texts.append((title, body))

    from digest.classify import political_score
    from digest.classify.parameters import PARAMS_PATH

    load = float(
        subprocess.run(
            [sys.executable, "-c", LOAD], capture_output=True, text=True, check=True
        ).stdout
    )
    political_score(*texts[0])
    started = time.perf_counter()
    for title, body in texts:
        political_score(title, body)
    elapsed = time.perf_counter() - started
    rate = len(texts) / elapsed
    size = PARAMS_PATH.stat().st_size + PARAMS_PATH.with_name("terms.bin").stat().st_size
    words = sum(len(body.split()) for _, body in texts) / len(texts)
    print(f"{len(texts)} articles, {words:.0f} words on average\n")
    print("| measure | value | budget | value / budget |")
    print("|---|---|---|---|")
    print(f"| cold load + first score | {load:.2f} s | 1 s | {load:.2f} |")
    print(f"| articles per second, one core | {rate:,.0f} | 1,000 | {rate / 1000:.1f} |")
    print(f"| shipped parameters | {size / 1e6:.1f} MB | 20 MB | {size / 20e6:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
