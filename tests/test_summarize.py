"""The summarisation stage: newsletter constraints for every algorithm, offline, and quality."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sumy.parsers.plaintext import PlaintextParser

from digest.errors import DigestError
from digest.summarize import (
    ALGORITHMS,
    OfflineTokenizer,
    get_summarizer,
    split_sentences,
    summarize,
    train,
)
from digest.summarize.base import candidates
from digest.summarize.digest_ranker import select
from digest.summarize.features import (
    FEATURE_NAMES,
    content_terms,
    rank_shares,
    reduction_ratings,
    sentence_features,
    textrank,
)
from digest.summarize.lede_prior import SHAPE_NAMES
from digest.summarize.metrics import rouge2_recall, sentence_precision
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
        "edmundson", "lead", "central",
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


@pytest.mark.parametrize("name", FIXTURE_NAMES[:4])
def test_the_reduction_feature_ranks_sentences_as_sumy_reduction_does(name):
    title, body, _ = load_fixture(name)
    spans = candidates(body)
    ratings = reduction_ratings([content_terms(span.text) for span in spans])
    ours = sorted(range(len(spans)), key=lambda i: (-ratings[i], i))
    sumy_scores = get_summarizer("reduction").score(spans, title)
    theirs = sorted(range(len(spans)), key=lambda i: (-sumy_scores[i], i))
    assert ours == theirs


def test_rank_shares_put_the_highest_first_and_break_ties_by_position():
    assert rank_shares([3.0, 1.0, 3.0, 2.0]) == [0.0, 0.75, 0.25, 0.5]


def test_textrank_favours_the_sentence_that_shares_terms_with_all_others():
    sets = [{"vote", "tax"}, {"vote", "labour"}, {"vote", "tax", "labour"}, {"weather"}]
    ranks = textrank(sets)
    assert max(range(4), key=ranks.__getitem__) == 2
    assert min(range(4), key=ranks.__getitem__) == 3
    assert ranks[3] == pytest.approx(0.15 / 4)  # shares nothing: only the random jump reaches it


def test_every_sentence_gets_one_value_per_feature():
    title, body, _ = load_fixture(FIXTURE_NAMES[0])
    rows = sentence_features(candidates(body), title)
    assert rows and all(len(row) == len(FEATURE_NAMES) for row in rows)
    top = FEATURE_NAMES.index("reduction_in_top_share")
    assert 0 < sum(row[top] for row in rows) < len(rows)


def test_selection_takes_k_sentences_in_document_order_within_the_budget():
    lengths = [30, 10, 12, 40, 8]
    probabilities = [0.9, 0.2, 0.8, 0.95, 0.7]
    chosen = select(lengths, probabilities, sentences=3, words=None)
    assert chosen is not None and len(chosen) == 3 and chosen == sorted(chosen)
    assert 1 not in chosen  # the least probable sentence is never worth taking
    within = select(lengths, probabilities, sentences=3, words=50)
    assert within is not None and sum(lengths[i] for i in within) <= 50
    assert select(lengths, probabilities, sentences=3, words=5) is None


def test_selection_prefers_what_a_reader_sees_before_the_cut():
    # A long early sentence would hide the later ones behind the 75-word view: by certainty alone
    # it is taken, with the weight on words shown the later, fuller sentences win.
    lengths = [70, 35, 35, 5]
    probabilities = [0.55, 0.9, 0.9, 0.5]
    assert select(lengths, probabilities, sentences=3, words=None, shown_weight=0.0) == [0, 1, 2]
    assert select(lengths, probabilities, sentences=3, words=None, shown_weight=2.0) == [1, 2, 3]


def test_rouge2_recall_counts_reference_bigrams_in_the_first_75_words():
    reference = "The cat sat on the mat"
    assert rouge2_recall(reference, reference) == 1.0
    assert rouge2_recall("dogs bark loudly", reference) == 0.0
    assert rouge2_recall("The cat sat.", reference) == pytest.approx(2 / 5)
    padding = " ".join(["word"] * 75)
    assert rouge2_recall(f"{padding} the cat sat on the mat", reference) == 0.0
    assert sentence_precision(["The cat  sat on", "a dog"], reference) == 0.5


def test_training_reports_cross_validation_against_reduction_and_writes_weights(tmp_path, capsys):
    for kind in ("articles", "summaries"):
        folder = tmp_path / "data" / kind / "politics"
        folder.mkdir(parents=True)
        for name in FIXTURE_NAMES:
            (folder / name).write_bytes((FIXTURES / kind / name).read_bytes())
    out, prior = tmp_path / "weights.json", tmp_path / "prior.json"
    arguments = ["--refit-ranker", "--out", str(out), "--prior-out", str(prior)]
    assert train.main([str(tmp_path / "data"), *arguments]) == 0
    printed = capsys.readouterr().out
    rows = {
        line.split("|")[1].strip(): line for line in printed.splitlines() if line.startswith("| ")
    }
    assert {"digest", "central", "reduction"} <= set(rows)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["features"] == list(FEATURE_NAMES)
    assert len(saved["weights"]) == len(FEATURE_NAMES)
    fitted = json.loads(prior.read_text(encoding="utf-8"))
    assert fitted["shape"] == list(SHAPE_NAMES)
    assert all(math.isfinite(c) for c in fitted["coefficients"])


def test_training_refuses_a_folder_without_articles(tmp_path, capsys):
    assert train.main([str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err


# -- readability: every algorithm's choice reads on its own ---------------------------------------

QUOTE_BODY = """The council voted on Tuesday to close the town's last public library in March.

The leader of the council, Ann Smith, defended the decision at a packed meeting. She said: "We \
have run out of options. Every other service has already been cut to the bone. We will not \
borrow to keep the doors open." Campaigners said they would take the council to court.

He attacked the plan as short-sighted and said it would hurt the poorest families most.

And there was an insistence from ministers that the money would be found elsewhere in the budget.

"It is a dark day for the town," he said.

Library users have collected more than four thousand signatures against the closure since June.
"""


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_algorithm_opens_with_a_sentence_that_needs_the_one_before(algorithm: str) -> None:
    from digest.summarize.readability import needs_antecedent

    for sentences in (1, 2, 3):
        chosen = summarize(QUOTE_BODY, sentences=sentences, words=90, algorithm=algorithm)
        assert chosen, algorithm
        assert not needs_antecedent(chosen[0]), (algorithm, chosen[0])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_part_of_a_multi_sentence_quotation_is_ever_shown(algorithm: str) -> None:
    from digest.summarize.readability import unbalanced

    for sentences in (1, 2, 3, 5):
        for item in summarize(QUOTE_BODY, sentences=sentences, words=0, algorithm=algorithm):
            assert not unbalanced(item), (algorithm, item)
            assert item in QUOTE_BODY and "run out of options" not in item


def test_quotation_runs_and_openers_are_recognised() -> None:
    from digest.summarize.readability import needs_antecedent, quote_groups, unbalanced

    assert needs_antecedent("He attacked Tory plans for the health service.")
    assert needs_antecedent("And there was an insistence that it would go ahead.")
    assert needs_antecedent("However, the minister said no decision had been made.")
    assert needs_antecedent('"It is a dark day for the town," he said.')
    assert needs_antecedent("This is the third time the vote has been delayed.")
    # a summary opens with the news, not with what somebody said about it
    assert needs_antecedent('"It is a dark day for the town," the mayor said.')
    assert not needs_antecedent("This week the council voted to close the library.")
    assert not needs_antecedent("The government said it would act.")
    assert unbalanced('She said: "We have run out of options.')
    assert unbalanced('We will not borrow," she said.')
    assert not unbalanced("The fans' view was clear, and the 'protect' clause stays.")
    assert quote_groups(['She said: "One.', "Two.", 'Three," she added.', "Next."]) == [0, 0, 0, 3]
    # a quotation left open at the end of its paragraph can never be shown whole
    assert quote_groups(['She said: "One.', '"Two."', "Next."], [0, 0, 1]) == [-1, 1, 2]


def test_captions_widgets_and_repeated_ledes_are_not_candidates() -> None:
    body = (
        "The prime minister announced a snap election for June on Tuesday morning.\n\n"
        "Enlarge this image toggle caption Andrew Harnik/AP\n\n"
        "The prime minister (pictured) spoke outside Downing Street for five minutes.\n\n"
        "Scroll down for video.\n\n"
        "The prime minister announced a snap election for June on Tuesday morning.\n\n"
        "Opposition leaders said they welcomed the chance to put their case to voters.\n"
    )
    texts = [span.text for span in candidates(body)]
    assert texts == [
        "The prime minister announced a snap election for June on Tuesday morning.",
        "Opposition leaders said they welcomed the chance to put their case to voters.",
    ]


def test_a_huge_body_is_bounded_and_still_summarised_from_its_start() -> None:
    # 5 MB in one paragraph-less run: only the first part is considered, so this is quick and
    # linear (the old code built dense n x n matrices over every sentence)
    lede = "The senate passed the spending bill late on Friday after a week of talks. "
    filler = "Officials in several departments reviewed the figures again on Thursday. "
    body = lede + filler * (5_000_000 // len(filler))
    chosen = summarize(body, sentences=3, words=90)
    assert chosen[0] == lede.strip()
    assert all(sentence in body for sentence in chosen)


def test_the_seed_style_lede_opens_the_summary() -> None:
    article = (
        "WASHINGTON — The Senate voted 52 to 48 on Thursday to confirm the new attorney general, "
        "ending a months-long fight over the nomination.\n\n"
        "The vote fell largely along party lines, with two Democrats joining Republicans.\n\n"
        "He had faced questions over his record as a state prosecutor and his views on "
        "executive power.\n\n"
        '"This is a great day for the rule of law," the majority leader said after the vote.\n\n'
        "Critics said they would keep pressing for answers on his handling of past cases.\n"
    )
    chosen = summarize(article, sentences=3, words=90)
    # the lede opens the summary, without its dateline
    assert chosen[0].startswith("The Senate voted 52 to 48")


def test_photo_captions_are_not_summary_material() -> None:
    from digest.summarize.boilerplate import is_boilerplate

    for caption in [
        "Tragic: this May 2, 2014, file photo shows a memorial outside the school.",
        "Mourning friends: Jarrod Butts, left, and Jill Bendlak, right, remember her.",
        "The prime minister (pictured) spoke outside Downing Street for five minutes.",
    ]:
        assert is_boilerplate(caption), caption
    for sentence in [
        "WASHINGTON: The president said he would sign the bill on Friday.",
        "Exclusive: the minister plans to resign next week, aides say.",
        'Mr Straw said: "The savings made will help the service."',
        "The party (left of centre) said it would act on the report.",
    ]:
        assert not is_boilerplate(sentence), sentence


def test_a_lede_repeated_as_a_caption_is_kept_once() -> None:
    body = (
        "Hbo has launched its streaming channel on the apple tv box ahead of the new season.\n\n"
        "The service costs $14.99 a month and will be available to all subscribers in April.\n\n"
        "Hbo has launched its new streaming channel on the apple tv box ahead of the season.\n"
    )
    texts = [span.text for span in candidates(body)]
    assert len(texts) == 2 and texts[0].startswith("Hbo has launched its streaming")
