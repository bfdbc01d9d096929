"""bench/extraction.py on a tiny hand-made dataset in the article-extraction-benchmark layout."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench" / "extraction.py"
SENTENCES = [
    "The council met on Tuesday to discuss the budget for the coming year and agreed a rise.",
    "Opposition members said the rise was too steep for families already struggling with bills.",
    "The leader of the council said the money would go to schools, roads and care for the old.",
]


def page(title: str, date: str) -> bytes:
    paragraphs = "".join(f"<p>{s}</p>" for s in SENTENCES)
    return (
        f'<!doctype html><html><head><title>{title}</title><meta name="author" '
        f'content="Jo Page"><meta property="article:published_time" content="{date}"></head>'
        f"<body><nav>Home | World | Politics</nav><article><h1>{title}</h1>{paragraphs}"
        "<p>Comments</p></article><footer>Copyright 2026 The Paper</footer></body></html>"
    ).encode()


def test_bench_scores_both_extractors_side_by_side(tmp_path: Path) -> None:
    (tmp_path / "html").mkdir()
    truth = {}
    for number, title in enumerate(["Council agrees budget", "Budget vote delayed"]):
        page_id = f"p{number}"
        (tmp_path / "html" / f"{page_id}.html.gz").write_bytes(
            gzip.compress(page(title, "2026-11-17T09:00:00+00:00"))
        )
        truth[page_id] = {"articleBody": f"{title}\n" + "\n".join(SENTENCES), "url": ""}
    (tmp_path / "html" / "p2.html").write_bytes(b"<html><body></body></html>")
    truth["p2"] = {"articleBody": "A page whose text we never find.", "url": ""}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth))

    result = subprocess.run(
        [sys.executable, str(BENCH), str(tmp_path)], capture_output=True, text=True, check=True
    )
    table = result.stdout.splitlines()[2:4]
    lines = {line.split()[0]: line.split() for line in table}
    assert result.stdout.startswith("3 pages\n")
    digest, trafilatura = lines["digest"], lines["trafilatura"]
    # two pages read whole, furniture left out (F1 1.0 each), one with nothing to find (0)
    assert digest[1:4] == ["0.667", "0.667", "0.667"]
    assert 0 < float(trafilatura[3]) <= 0.667
    assert digest[4:7] == trafilatura[4:7] == ["66.7%", "66.7%", "1"]
    assert "F1 ratio digest / trafilatura: " in result.stdout
    assert "digest false truncated flags: 0 of 3 complete pages (0.0%; target <= 3%)" in (
        result.stdout
    )
