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


def _modern() -> list[Path]:
    return sorted(MODERN.glob("*.txt"))


@pytest.mark.parametrize("path", _modern(), ids=lambda p: p.stem)
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


def test_shipped_parameters_are_small_and_load_once() -> None:
    from digest.classify.parameters import PARAMS_PATH, load

    shipped = PARAMS_PATH.stat().st_size + PARAMS_PATH.with_name("terms.bin").stat().st_size
    assert shipped < 20_000_000  # the budget for shipped parameters
    assert load(PARAMS_PATH) is load(PARAMS_PATH)


def test_a_damaged_weights_file_is_a_user_error(tmp_path: Path) -> None:
    from digest.classify.parameters import PARAMS_PATH

    params = tmp_path / "params.json"
    params.write_bytes(PARAMS_PATH.read_bytes())
    (tmp_path / "terms.bin").write_bytes(b"not zlib")
    with pytest.raises(DigestError, match="params.json"):
        political_score("t", "b", params_path=params)


# Short items whose only political-looking word is used in another sense. Written for these
# tests; none is in the training data.
ONE_GENERIC_WORD = [
    (
        "Gender reveal party sparks brush fire",
        "A couple's gender reveal party in the desert set "
        "off a brush fire that burned two acres before firefighters put it out on Saturday.",
    ),
    (
        "New Star Wars land opens at the theme park",
        "Fans queued from dawn as the theme park "
        "opened its new Star Wars rides, with lightsaber shows and a cantina serving blue milk.",
    ),
    (
        "Chess club elects a new captain",
        "The school chess club held its annual election on "
        "Friday, and a sophomore who plays the Sicilian Defence won by four votes.",
    ),
]


@pytest.mark.parametrize(("title", "body"), ONE_GENERIC_WORD, ids=lambda v: str(v)[:20])
def test_one_generic_political_word_does_not_make_a_short_item_political(
    title: str, body: str
) -> None:
    assert not is_political(political_score(title, body))


def test_present_day_political_vocabulary_counts() -> None:
    # the words the 2005 BBC data had no weight for, or a negative one
    for title, body in [
        (
            "Senate GOP blocks the bill",
            "Republicans in the Senate blocked the spending bill "
            "the White House wanted, leaving Congress days from a federal shutdown.",
        ),
        (
            "Trump signs executive order on tariffs",
            "President Trump signed an order raising "
            "tariffs on steel, drawing criticism from Democrats and some Republican senators.",
        ),
    ]:
        assert is_political(political_score(title, body)), title


def test_explain_names_the_terms_that_moved_the_score() -> None:
    from digest.classify import explain

    why = explain("Senate passes the budget", "The Senate passed the budget bill on Tuesday.")
    assert why.score == political_score(
        "Senate passes the budget", "The Senate passed the budget bill on Tuesday."
    )
    terms = [term for term, _ in why.for_political]
    assert "t:senate" in terms or "senate" in terms
    assert all(move > 0 for _, move in why.for_political)
    assert all(move < 0 for _, move in why.against)


def _write(folder: Path, name: str, title: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{title}\n{body}\n", encoding="utf-8")


def test_training_script_cross_validates_and_writes_usable_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bbc = tmp_path / "bbc"
    for path in _fixtures():
        category, _, name = path.stem.partition("_")
        _write(bbc / category, f"{name}.txt", *_read(path))
    # An exact copy must be dropped, not counted twice.
    (bbc / "politics" / "copy.txt").write_bytes((bbc / "politics" / "001.txt").read_bytes())
    # A modern-news style set: political/ and other/ with a manifest naming each file's section.
    modern = tmp_path / "modern"
    rows = ["file,label,source_dataset,licence,category,date,url,title"]
    for path in _modern():
        kind, _, name = path.stem.partition("_")
        folder = "political" if kind == "political" else "other"
        _write(modern / folder, f"{name}.txt", *_read(path))
        category = "POLITICS" if kind == "political" else "SPORTS"
        rows.append(f"{folder}/{name}.txt,{folder},handwritten,CC0,{category},2024-01-01,,x")
    (modern / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "params.json"
    code = training.main(
        [str(bbc), str(modern), "--folds", "2", "--repeats", "1", "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "1 duplicate dropped" in printed
    for group in ("bbc", "handwritten", "all"):
        assert group in printed
    assert "ROC AUC" in printed and "settings: Settings(" in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["trained_on"]["texts"] == len(_fixtures()) + len(_modern())
    assert set(data["political"]) == {"politics/bbc", "politics/handwritten"}
    assert {"precision", "recall", "f1", "auc"} <= data["cv"]["all"].keys()
    assert (tmp_path / "terms.bin").is_file()
    title, body = _read(FIXTURES / "politics_003.txt")
    assert is_political(political_score(title, body, params_path=out))
    title, body = _read(FIXTURES / "sport_001.txt")
    assert not is_political(political_score(title, body, params_path=out))


def test_training_script_rejects_a_missing_folder(tmp_path: Path) -> None:
    assert training.main([str(tmp_path / "nope")]) == 2
