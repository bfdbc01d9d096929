"""The shipped political classifier on BBC articles and modern political news."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.classify import POLITICAL_THRESHOLD, is_political, political_score
from digest.classify import train as training
from digest.errors import DigestError

FIXTURES = Path(__file__).parent / "fixtures" / "classify"
# Hand-written 2023-24 style news, never trained on: `political_*` and `other_*`. Some are in the
# scraper's format (navigation line, then body, then "By:/Title:/Sourced From:" footer).
MODERN = FIXTURES / "modern"
# Foreign-affairs pieces the BBC-trained model still scores below the threshold (see
# docs/selection.md). Strict, so fixing the gap makes these tests say so.
KNOWN_MISSES = {"political_china_taiwan", "political_eu_sanctions"}


def _read(path: Path) -> tuple[str, str]:
    title, _, body = path.read_text(encoding="utf-8", errors="replace").partition("\n")
    return title.strip(), body.strip()


def _fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: p.stem)
def test_fixture_articles_are_classified_by_their_category(path: Path) -> None:
    score = political_score(*_read(path))
    assert 0.0 <= score <= 1.0
    expected = path.stem.startswith("politics_")
    assert is_political(score) is expected, f"{path.name}: {score:.3f}"


def _modern() -> list[object]:
    return [
        pytest.param(
            path,
            id=path.stem,
            marks=[pytest.mark.xfail(strict=True, reason="known gap: foreign affairs")]
            if path.stem in KNOWN_MISSES
            else [],
        )
        for path in sorted(MODERN.glob("*.txt"))
    ]


@pytest.mark.parametrize("path", _modern())
def test_modern_articles_are_classified_by_their_kind(path: Path) -> None:
    score = political_score(*_read(path))
    expected = path.stem.startswith("political_")
    assert is_political(score) is expected, f"{path.name}: {score:.3f}"


def test_modern_set_covers_both_kinds_and_the_scraper_format() -> None:
    stems = [p.stem for p in MODERN.glob("*.txt")]
    assert sum(s.startswith("political_") for s in stems) >= 10
    assert sum(s.startswith("other_") for s in stems) >= 10
    scraped = [p for p in MODERN.glob("*.txt") if "\nSourced From: " in p.read_text("utf-8")]
    assert {p.stem.partition("_")[0] for p in scraped} == {"political", "other"}


def test_every_modern_political_article_outscores_every_other_one() -> None:
    # Even where the threshold misses, the ranking must not: select_stories(min_score=) and the
    # ranking step rely on the order.
    scores = {p.stem: political_score(*_read(p)) for p in MODERN.glob("*.txt")}
    political = [v for k, v in scores.items() if k.startswith("political_")]
    other = [v for k, v in scores.items() if k.startswith("other_")]
    assert min(political) > max(other), scores


def test_is_political_uses_the_threshold() -> None:
    assert is_political(POLITICAL_THRESHOLD)
    assert not is_political(POLITICAL_THRESHOLD - 1e-9)


@pytest.mark.parametrize(
    ("title", "body"),
    [("", ""), ("x", "123 456"), ("Ω", "\u0000\ufffd" * 50), ("a" * 10_000, "b " * 50_000)],
)
def test_degenerate_input_still_gives_a_score_in_range(title: str, body: str) -> None:
    assert 0.0 <= political_score(title, body) <= 1.0


def test_unreadable_parameters_are_a_user_error(tmp_path: Path) -> None:
    broken = tmp_path / "params.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(DigestError, match="params.json"):
        political_score("t", "b", params_path=broken)


def test_shipped_parameters_are_small() -> None:
    from digest.classify import PARAMS_PATH

    assert PARAMS_PATH.stat().st_size < 300_000


def test_training_script_cross_validates_and_writes_usable_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "articles"
    for path in _fixtures():
        category, _, name = path.stem.partition("_")
        (dataset / category).mkdir(parents=True, exist_ok=True)
        (dataset / category / f"{name}.txt").write_bytes(path.read_bytes())
    # An exact copy must be dropped, not counted twice.
    (dataset / "politics" / "copy.txt").write_bytes((FIXTURES / "politics_001.txt").read_bytes())
    out = tmp_path / "params.json"
    code = training.main(
        [
            str(dataset),
            "--folds",
            "2",
            "--repeats",
            "1",
            "--epochs",
            "5",
            "--min-df",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "F1 per repeat: " in printed and "settings: features " in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["trained_on"]["articles"] == len(list(dataset.glob("*/*.txt"))) - 1
    assert {"precision", "recall", "f1"} <= data["cv"].keys()
    title, body = _read(FIXTURES / "politics_003.txt")
    assert 0.0 <= political_score(title, body, params_path=out) <= 1.0


def test_training_script_rejects_a_missing_folder(tmp_path: Path) -> None:
    assert training.main([str(tmp_path / "nope")]) == 2
