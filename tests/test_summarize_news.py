"""The default summariser serves modern news: datelines, the learned lede prior, `central`.

The articles here were written for these tests (none is in `written_news.txt`, the prior's
training set), in the two shapes the prior must tell apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.summarize import ALGORITHMS, summarize
from digest.summarize.base import candidates
from digest.summarize.datelines import dateline_end
from digest.summarize.digest_ranker import ranker_logits
from digest.summarize.features import sentence_features
from digest.summarize.lede_prior import article_shape, basis, shipped_prior
from digest.summarize.lede_training import read_written, written_labels

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "articles"

# An inverted pyramid: what happened, then detail, then background nobody summarises.
LEDE_SHAPED = """A freight train carrying chlorine derailed outside the town of Millbrook on \
Tuesday night, forcing 4,000 residents from their homes and closing the main highway, officials \
said.

No leaks have been found so far, but crews will not move the damaged tank cars until Thursday, \
the county's emergency director said.

Residents within two miles of the tracks were told to stay with friends or at one of three \
shelters.

The train was travelling from a chemical plant in Ohio to a water treatment company in Georgia.

Eleven of its 60 cars left the tracks on a curve near the river.

The railroad said the cause of the crash was under investigation.

Chlorine gas can damage the lungs even in small amounts.

Federal investigators arrived on Wednesday morning.

The same stretch of track was the site of a smaller derailment in 2019.

Local schools will be closed for the rest of the week.

The railroad has set up a hotline for residents who want to claim expenses.

Several residents said they had long worried about the trains that pass through the town.

"You hear them every night and you wonder," said one woman at a shelter.

The town's mayor said she would ask the state for help with the cost of the evacuation.

The highway is expected to reopen on Friday.

The railroad's shares fell slightly in trading on Wednesday.
"""

# A feature: a scene first, the news (the nut graf) a few paragraphs in.
FEATURE_SHAPED = """On a grey Saturday morning, I watched Rosa Delgado open the doors of her \
shop.

You could smell the coffee from the street.

Her regulars, most of them retired, were already waiting.

Delgado's cafe is one of 140 small businesses on Canal Street that will have to move when the \
city demolishes the block next spring to build a new bus depot.

The city council approved the $90 million depot last month, and offered each business up to \
$25,000 to relocate.

Owners say that is not enough to cover a year's rent elsewhere in the neighbourhood.

"Twenty-two years I have been here," Delgado said.

A group of owners has hired a lawyer and plans to challenge the decision in court.

The city says the depot will replace one that is too small and more than 70 years old.

Delgado has not decided what she will do.
"""


@pytest.mark.parametrize(
    ("sentence", "news"),
    [
        ("(CNN) -- The president signed the bill on Friday.", "The president signed"),
        ("(CNN)The president signed the bill on Friday.", "The president signed"),
        ("(cnn) on the surface, the plan seems simple.", "on the surface"),
        ("WASHINGTON — Congress passed the budget late on Thursday.", "Congress passed"),
        ("MADRID (AP) – Spain won the final on Sunday.", "Spain won"),
        ("LONDON, England (Reuters) -- Shares fell sharply.", "Shares fell"),
        ("NEW YORK (CNN) -- Police arrested two men.", "Police arrested"),
        ("Atlanta, Georgia (CNN) -- A storm hit the city.", "A storm hit"),
        ("ST. LOUIS, Mo. — The jury returned its verdict.", "The jury returned"),
    ],
)
def test_a_wire_dateline_is_dropped_and_the_rest_kept_verbatim(sentence: str, news: str) -> None:
    rest = sentence[dateline_end(sentence) :]
    assert rest.startswith(news)
    assert sentence.endswith(rest)


@pytest.mark.parametrize(
    "sentence",
    [
        "Washington — the city, not the state — has a new mayor.",
        "The minister (AP) said nothing.",
        "Police said on Friday that the road would reopen.",
        "(CNN) --",
    ],
)
def test_prose_is_not_taken_for_a_dateline(sentence: str) -> None:
    assert dateline_end(sentence) == 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_summary_sentence_starts_with_a_dateline(algorithm: str) -> None:
    body = LEDE_SHAPED.replace("A freight train", "MILLBROOK, Ohio (AP) — A freight train", 1)
    body = body.replace("No leaks", "(CNN) -- No leaks", 1)
    chosen = summarize(body, sentences=3, words=90, algorithm=algorithm)
    assert chosen
    for sentence in chosen:
        assert sentence in body  # verbatim, only shorter by its dateline
        assert dateline_end(sentence) == 0
        assert not sentence.startswith(("MILLBROOK", "(CNN)"))
    spans = candidates(body)
    assert spans[0].text.startswith("A freight train")
    assert body[spans[0].start : spans[0].end] == spans[0].text


def _lede_gain(body: str) -> float:
    """What the shipped prior adds to the lede over the tenth sentence for `body`."""
    spans = candidates(body)
    rows = sentence_features(spans, None)
    shape = article_shape([s.text for s in spans], rows, ranker_logits(rows))
    strengths = shipped_prior().strengths(shape)
    return sum(s * (a - b) for s, a, b in zip(strengths, basis(0), basis(10), strict=True))


def test_the_prior_is_stronger_for_an_inverted_pyramid_than_for_a_feature() -> None:
    assert _lede_gain(LEDE_SHAPED) > _lede_gain(FEATURE_SHAPED) + 1.0
    assert _lede_gain(LEDE_SHAPED) > 2.0


def test_a_lede_shaped_article_keeps_its_top_and_a_feature_its_nut_graf() -> None:
    news = summarize(LEDE_SHAPED, sentences=3, words=90)
    assert news[0].startswith("A freight train carrying chlorine derailed")
    assert any(s.startswith("No leaks have been found") for s in news)
    feature = summarize(FEATURE_SHAPED, sentences=3, words=90)
    assert not any(s.startswith(("On a grey Saturday", "You could smell")) for s in feature)
    assert any(s.startswith("Delgado's cafe is one of 140") for s in feature)


def test_central_is_the_bbc_tuned_option_and_can_pass_over_the_lede() -> None:
    assert "central" in ALGORITHMS and "digest" in ALGORITHMS
    news = summarize(LEDE_SHAPED, sentences=3, words=90)
    central = summarize(LEDE_SHAPED, sentences=3, words=90, algorithm="central")
    assert central and all(sentence in LEDE_SHAPED for sentence in central)
    # the news ranker keeps more of the top of the pyramid than the central one
    first = LEDE_SHAPED.index
    assert sum(map(first, news)) < sum(map(first, central))


def test_the_cli_takes_central_as_an_algorithm() -> None:
    article = sorted(EXAMPLES.glob("*.txt"))[0]
    result = CliRunner().invoke(
        app, ["summarize", str(article), "--algorithm", "central", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert '"sentences"' in result.stdout


def test_the_written_training_articles_are_labelled() -> None:
    articles = read_written()
    assert {a.shape for a in articles} == {"lede", "feature"}
    for article in articles:
        sentences, labels = written_labels(article)
        assert sum(labels) == len(article.marks) == 3, article.title
        assert "[S]" not in article.body
        if article.shape == "lede":
            assert labels[0] == 1
        else:
            assert labels[0] == 0


def test_quotation_density_counts_single_quote_marks_too() -> None:
    from digest.summarize.readability import has_quotation

    assert has_quotation('She said: "We will appeal."')
    assert has_quotation("'We have not objected to the kick-off,' he told reporters.")
    assert not has_quotation("It's the fans' day, the club said.")
    assert not has_quotation("Police said the road would reopen on Friday.")
