"""The sentence splitter: hand-written tricky sentences, offsets, paragraphs and size."""

from __future__ import annotations

import pytest

from digest.summarize.sentences import split_sentences, split_spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # titles before a name never end a sentence
        (
            "Mr. Blair met Dr. Reid and Gov. Perry. Sen. Smith and Rep. Jones were there too.",
            ["Mr. Blair met Dr. Reid and Gov. Perry.", "Sen. Smith and Rep. Jones were there too."],
        ),
        (
            "Mrs. Thatcher and Prof. Hawking met St. John's staff. They spoke briefly.",
            ["Mrs. Thatcher and Prof. Hawking met St. John's staff.", "They spoke briefly."],
        ),
        # initials, unless a sentence plainly starts next
        (
            "George W. Bush met J. K. Rowling. They talked.",
            ["George W. Bush met J. K. Rowling.", "They talked."],
        ),
        ("He took vitamin C. The cold went.", ["He took vitamin C.", "The cold went."]),
        # dotted abbreviations inside a sentence, and ending one
        (
            "The U.S. envoy met him at 5 p.m. on Monday. He left for the U.K. The talks ended.",
            [
                "The U.S. envoy met him at 5 p.m. on Monday.",
                "He left for the U.K.",
                "The talks ended.",
            ],
        ),
        ("They met at 5 p.m. The talks ran late.", ["They met at 5 p.m.", "The talks ran late."]),
        ("The U.S. Senate voted. It passed.", ["The U.S. Senate voted.", "It passed."]),
        (
            "Talks with the U.N., e.g. on aid, went on.",
            ["Talks with the U.N., e.g. on aid, went on."],
        ),
        # decimals, numbers and percentages
        (
            "It cost $3.5m in 2004. Prices rose 5%. No. 10 said on Jan. 5 it was 2.5 times more.",
            [
                "It cost $3.5m in 2004.",
                "Prices rose 5%.",
                "No. 10 said on Jan. 5 it was 2.5 times more.",
            ],
        ),
        # abbreviations that may end a sentence
        (
            "Apple Inc. said sales rose. He sold pens, paper etc. The shop shut.",
            ["Apple Inc. said sales rose.", "He sold pens, paper etc.", "The shop shut."],
        ),
        ("It was Labour vs. Tory again.", ["It was Labour vs. Tory again."]),
        # a month, a day or a state only as written with a capital; the word ends a sentence
        (
            "CRESTVIEW, Fla. (AP) - A woman bought a gift. He fell ill. Doctors came.",
            ["CRESTVIEW, Fla. (AP) - A woman bought a gift.", "He fell ill.", "Doctors came."],
        ),
        # ellipses
        (
            "He paused... and went on. It was late... The end came.",
            ["He paused... and went on.", "It was late...", "The end came."],
        ),
        ("Wait … Nobody moved.", ["Wait …", "Nobody moved."]),
        # quotes closing after the full stop stay with their sentence
        (
            'Mr. Blair said: "We will win." The U.S. envoy agreed.',
            ['Mr. Blair said: "We will win."', "The U.S. envoy agreed."],
        ),
        (
            "She said ‘we are ready.’ Then she left.",
            ["She said ‘we are ready.’", "Then she left."],
        ),
        # a quotation opening after a full stop starts a sentence
        (
            'The talks lasted weeks. "We are close," she said.',
            ["The talks lasted weeks.", '"We are close," she said.'],
        ),
        (
            "It was agreed, she said. “it was time.”",
            ["It was agreed, she said.", "“it was time.”"],
        ),
        # a question or exclamation inside a quotation, then the attribution
        (
            '"Really?" he asked. "Yes!" she said. Why? Nobody knows!',
            ['"Really?" he asked.', '"Yes!" she said.', "Why?", "Nobody knows!"],
        ),
        # a double quote mark set off by spaces closes a quotation the paragraph opened, else
        # opens one; a straight single one opens the next sentence
        (
            '" I was tired. It was tough but I got through it. " Bishop had planned to stay.',
            [
                '" I was tired.',
                'It was tough but I got through it. "',
                "Bishop had planned to stay.",
            ],
        ),
        (
            'He left late. " My team needs a break, " Perry said.',
            ["He left late.", '" My team needs a break, " Perry said.'],
        ),
        (
            "' I was tired. It was tough but I got through it. ' Bishop had planned to stay.",
            [
                "' I was tired.",
                "It was tough but I got through it.",
                "' Bishop had planned to stay.",
            ],
        ),
        # an initial never comes before a quotation
        (
            'Thanks to Mr P. "Never known such a fuss."',
            ["Thanks to Mr P.", '"Never known such a fuss."'],
        ),
        # closing brackets stay with the sentence
        ("The bill passed (narrowly.) MPs left.", ["The bill passed (narrowly.)", "MPs left."]),
        # no boundary before a word in lower case, or a comma
        (
            "The firm, Acme Ltd. was sold. It made 2 p.m., then 3 p.m. deliveries.",
            ["The firm, Acme Ltd. was sold.", "It made 2 p.m., then 3 p.m. deliveries."],
        ),
        ("A web site, example.com. The rest.", ["A web site, example.com.", "The rest."]),
    ],
)
def test_tricky_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_spans_are_verbatim_with_paragraphs_and_first_flags() -> None:
    body = (
        "SPECIAL REPORT\n\n"
        "The government announced on Monday that it would raise the minimum\n"
        "wage. Unions welcomed it.\n"
        "A second line that is short.\n\n"
        '  "It is a start," said Mr. Jones.  \r\n'
    )
    spans = split_spans(body)
    assert [span.text for span in spans] == [
        "SPECIAL REPORT",
        "The government announced on Monday that it would raise the minimum\nwage.",
        "Unions welcomed it.",
        "A second line that is short.",
        '"It is a start," said Mr. Jones.',
    ]
    assert all(body[span.start : span.end] == span.text for span in spans)
    assert [span.paragraph for span in spans] == [0, 1, 1, 1, 2]
    assert [span.first_in_paragraph for span in spans] == [True, True, False, False, True]


def test_empty_and_blank_bodies_have_no_sentences() -> None:
    assert split_spans("") == []
    assert split_spans(" \n\n \t\n") == []
    assert split_sentences("No full stop at all") == ["No full stop at all"]


def test_a_five_megabyte_body_is_split_whole() -> None:
    sentence = "Officials in several departments reviewed the figures again on Thursday. "
    body = sentence * (5_000_000 // len(sentence))
    spans = split_spans(body)
    assert len(spans) == 5_000_000 // len(sentence)
    assert spans[-1].text == sentence.strip()
    assert spans[-1].end == len(body.rstrip())


def test_a_long_dotted_token_is_not_mistaken_for_an_abbreviation() -> None:
    # the look-back for the word before a full stop is bounded; a long word ends a sentence
    text = "x" * 10_000 + ". The end. A.B.C.D.E.F.G.H.I.J.K.L.M. The rest."
    assert split_sentences(text) == [
        "x" * 10_000 + ".",
        "The end.",
        "A.B.C.D.E.F.G.H.I.J.K.L.M.",
        "The rest.",
    ]
