"""The shipped political classifier on BBC articles and modern political news."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.classify import POLITICAL_THRESHOLD, is_political, political_score
from digest.classify import train as training
from digest.errors import DigestError

FIXTURES = Path(__file__).parent / "fixtures" / "classify"


def _read(path: Path) -> tuple[str, str]:
    title, _, body = path.read_text(encoding="utf-8", errors="replace").partition("\n")
    return title.strip(), body.strip()


def _fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: p.stem)
def test_fixture_articles_are_classified_by_their_category(path: Path) -> None:
    score = political_score(*_read(path))
    assert 0.0 <= score <= 1.0
    expected = path.stem.startswith(("politics_", "modern_"))
    assert is_political(score) is expected, f"{path.name}: {score:.3f}"


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


def test_training_script_cross_validates_and_writes_usable_parameters(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    for path in _fixtures():
        if path.stem.startswith("modern_"):
            continue
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
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["trained_on"]["articles"] == len(list(dataset.glob("*/*.txt"))) - 1
    assert {"precision", "recall", "f1"} <= data["cv"].keys()
    title, body = _read(FIXTURES / "politics_003.txt")
    assert 0.0 <= political_score(title, body, params_path=out) <= 1.0


def test_training_script_rejects_a_missing_folder(tmp_path: Path) -> None:
    assert training.main([str(tmp_path / "nope")]) == 2
