"""The political classifier's cost against the issue's budget (load < 1 s, >= 1,000 articles/s on
one core, parameters <= 20 MB), and its quality per kind of story on a held-out set.

    python bench/classify.py DATASET_DIR [--limit N]
    python bench/classify.py --kinds tests/fixtures/classify/policy [--params PATH]

DATASET_DIR: any folder of text files (first line the title), searched recursively, e.g. the BBC
News Summary articles. Each file is scored once after a warm-up; the parameters are loaded in a
fresh process so the load time is a cold start.

--kinds FOLDER: one sub-folder per kind of story (courts, budget, trade...), each holding
`political_*.txt` and `other_*.txt`; prints per kind and pooled the ROC AUC, and precision,
recall and F1 at the shipped threshold. --params scores with another parameter file (e.g. an
older model's, to compare in the same run).
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
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--kinds", type=Path, help="held-out folder of kinds to measure quality")
    parser.add_argument("--params", type=Path, help="params.json to score with (--kinds)")
    args = parser.parse_args(argv)
    if args.kinds:
        return per_kind(args.kinds, args.params)
    if args.dataset is None:
        parser.error("give DATASET_DIR or --kinds FOLDER")
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


def _read(path: Path) -> tuple[str, str]:
    title, _, body = path.read_bytes().decode("utf-8", errors="replace").partition("\n")
    return title, body


def per_kind(folder: Path, params: Path | None) -> int:
    """Per kind of story: ROC AUC, and precision / recall / F1 at the shipped threshold."""
    from digest.classify import POLITICAL_THRESHOLD, political_score
    from digest.classify.parameters import PARAMS_PATH
    from digest.classify.train import metrics

    kinds = sorted(d for d in folder.iterdir() if d.is_dir())
    if not kinds:
        print(f"{folder}: no kind folders", file=sys.stderr)
        return 2
    params_path = params or PARAMS_PATH
    pooled: tuple[list[bool], list[float]] = ([], [])
    misses = []
    print(f"{params_path}, threshold {POLITICAL_THRESHOLD}\n")
    print("| kind | political / other | ROC AUC | precision | recall | F1 |")
    print("|---|---|---|---|---|---|")
    for kind in [*kinds, None]:
        if kind is None:
            name, (truth, scores) = "all kinds", pooled
        else:
            name, truth, scores = kind.name, [], []
            for path in sorted(kind.glob("*.txt")):
                truth.append(path.name.startswith("political_"))
                scores.append(political_score(*_read(path), params_path=params_path))
                if (scores[-1] >= POLITICAL_THRESHOLD) != truth[-1]:
                    misses.append(f"{kind.name}/{path.name} {scores[-1]:.2f}")
            pooled[0].extend(truth)
            pooled[1].extend(scores)
        m = metrics(truth, scores, POLITICAL_THRESHOLD)
        counts = f"{sum(truth)} / {len(truth) - sum(truth)}"
        cells = " | ".join(f"{m[k]:.3f}" for k in ("auc", "precision", "recall", "f1"))
        print(f"| {name} | {counts} | {cells} |")
    print("\nmisclassified: " + (", ".join(misses) or "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
