"""The summarisation stage: newsletter constraints for every algorithm, offline, and quality."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sumy.parsers.plaintext import PlaintextParser

from digest.errors import DigestError
from digest.summarize import ALGORITHMS, OfflineTokenizer, split_sentences, summarize
from digest.summarize.sentences import word_count

FIXTURES = Path(__file__).parent / "fixtures" / "summarize"
SPACES = re.compile(r"\s+")

NOISY_BODY = """By Jane Reporter, Political Editor

SPECIAL REPORT

The government announced on Monday that it would raise the minimum wage for workers over the \
age of 21 from next April, after months of pressure from unions and backbench MPs.

Subscribe to our newsletter for the latest political news every morning.

The Chancellor said the rise would help more than a million low-paid workers across the country. \
Business groups warned that small firms in the north could struggle with the extra costs of the \
change. Photo: Getty Images / Reuters

Read more: how the minimum wage has changed since 1999
https://example.com/minimum-wage-history

Opposition parties said the increase did not go far enough and called for a living wage for all \
workers. The Liberal Democrats said they would set up an independent commission to review pay \
for workers. Click here to share this article with your friends.

Ministers will publish the full details of the plan in a white paper before the summer recess, \
and the government expects the changes to win wide support in the Commons when MPs vote"""

BOILERPLATE_MARKERS = (
    "Subscribe",
    "Read more",
    "Click here",
    "Photo:",
    "https://",
    "By Jane",
    "SPECIAL",
)


def load_fixture(name: str) -> tuple[str, str, str]:
    title, _, body = (FIXTURES / "articles" / name).read_text(encoding="utf-8").partition("\n")
    reference = (FIXTURES / "summaries" / name).read_text(encoding="utf-8")
    return title.strip(), body, reference


FIXTURE_NAMES = sorted(path.name for path in (FIXTURES / "articles").glob("*.txt"))


def test_algorithm_names_are_the_documented_ones():
    assert set(ALGORITHMS) == {
        "digest", "lexrank", "textrank", "lsa", "luhn", "kl", "sumbasic", "reduction",
        "edmundson", "lead",
    }  # fmt: skip
    assert ALGORITHMS[0] == "digest"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_constraints_hold_for_every_algorithm(algorithm):
    chosen = summarize(NOISY_BODY, sentences=3, words=90, algorithm=algorithm, truncated=True)
    assert 1 <= len(chosen) <= 3
    assert sum(word_count(s) for s in chosen) <= 90
    positions = [NOISY_BODY.index(s) for s in chosen]  # verbatim: each is a substring
    assert positions == sorted(positions)  # document order
    for sentence in chosen:
        assert not any(marker in sentence for marker in BOILERPLATE_MARKERS), sentence
        assert not sentence.startswith("and the government expects")
        assert "when MPs vote" not in sentence  # the cut-off last fragment


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_summarises_a_real_article_verbatim(algorithm):
    title, body, _ = load_fixture(FIXTURE_NAMES[0])
    chosen = summarize(body, sentences=2, words=200, algorithm=algorithm, title=title)
    assert len(chosen) == 2
    assert all(sentence in body for sentence in chosen)


def test_the_last_sentence_is_kept_unless_the_body_was_truncated():
    body = (
        "The minister resigned on Tuesday after a row over expenses claims. "
        "Colleagues said the decision was the right one for the party. "
        "A by-election will now be held in the constituency next month"
    )
    scored_last = summarize(body, sentences=3, words=200, algorithm="lead")
    assert scored_last[-1].startswith("A by-election")
    cut = summarize(body, sentences=3, words=200, algorithm="lead", truncated=True)
    assert cut == [
        "The minister resigned on Tuesday after a row over expenses claims.",
        "Colleagues said the decision was the right one for the party.",
    ]


def test_a_long_sentence_gives_way_to_shorter_ones_within_budget():
    long_sentence = "The report " + " ".join(["said that"] * 30) + " nothing changed."
    body = f"{long_sentence} The vote was close on Monday night. The bill now goes to the Lords."
    chosen = summarize(body, sentences=3, words=20, algorithm="lead")
    assert chosen == ["The vote was close on Monday night.", "The bill now goes to the Lords."]


def test_one_sentence_is_returned_even_when_none_fits_the_budget():
    body = "The committee " + " ".join(["heard evidence"] * 40) + " from ministers on Friday."
    for algorithm in ("digest", "lead", "reduction"):
        chosen = summarize(body, sentences=3, words=10, algorithm=algorithm)
        assert chosen == [body]


def test_a_body_without_usable_sentences_gives_an_empty_summary():
    assert summarize("Subscribe to our newsletter\nhttps://example.com/x\n") == []
    assert summarize("") == []


def test_unknown_algorithm_names_the_valid_ones():
    with pytest.raises(DigestError) as error:
        summarize("Some text here that is a sentence.", algorithm="magic")
    message = str(error.value)
    assert "magic" in message
    assert all(name in message for name in ALGORITHMS)


def test_split_sentences_returns_verbatim_substrings():
    text = (
        'Mr. Blair said: "We will win." The U.S. envoy met him at 5 p.m. on Monday.\n\n'
        'He said it was "a good day". "We are going further," she added. It rose 5%. Then it fell.'
    )
    sentences = split_sentences(text)
    assert all(s in text for s in sentences)
    assert sentences[0] == 'Mr. Blair said: "We will win."'
    assert '"We are going further," she added.' in sentences
    assert sentences[-2:] == ["It rose 5%.", "Then it fell."]


def test_offline_tokenizer_works_with_sumy_plaintext_parser():
    parser = PlaintextParser.from_string(
        "First sentence of the text. Second one here!\n\nA new paragraph.", OfflineTokenizer()
    )
    assert [str(s) for s in parser.document.sentences] == [
        "First sentence of the text.",
        "Second one here!",
        "A new paragraph.",
    ]
    assert parser.document.sentences[0].words == ("First", "sentence", "of", "the", "text")


def test_every_algorithm_runs_with_no_nltk_data(tmp_path):
    empty = tmp_path / "nltk_data"
    empty.mkdir()
    script = (
        "from digest.summarize import ALGORITHMS, summarize\n"
        "import sys\n"
        "body = sys.stdin.read()\n"
        "for name in ALGORITHMS:\n"
        "    assert summarize(body, algorithm=name, title='Minimum wage'), name\n"
        "print('ok', len(ALGORITHMS))\n"
    )
    environment = {**os.environ, "NLTK_DATA": str(empty), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=NOISY_BODY,
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(ALGORITHMS)}"


def precision_at_3(algorithm: str) -> float:
    total = 0.0
    for name in FIXTURE_NAMES:
        title, body, reference = load_fixture(name)
        chosen = summarize(body, sentences=3, words=0, algorithm=algorithm, title=title)
        flat = SPACES.sub(" ", reference)
        total += sum(SPACES.sub(" ", s).strip() in flat for s in chosen) / len(chosen)
    return total / len(FIXTURE_NAMES)


def test_our_ranker_picks_reference_sentences_more_often_than_lead_3():
    ours, lead = precision_at_3("digest"), precision_at_3("lead")
    assert ours >= lead
    assert ours >= 0.7
