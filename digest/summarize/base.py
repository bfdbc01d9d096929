"""What every summarisation algorithm shares: the candidates, the newsletter constraints, the pick.

An algorithm only scores candidate sentences (`Summarizer.score`); `Summarizer.summarize` applies
the constraints the same way for all of them, so they can be compared fairly:
- candidates are whole sentences, from the first word after a wire dateline ("WASHINGTON --"):
  boilerplate, captions and a truncated body's cut-off last fragment are left out, and so is
  every part of a quotation that runs over several sentences;
- the summary must read on its own: it never opens with a sentence that needs the one before it
  (`readability.needs_antecedent`); when the best choice would, the sentence before it is taken
  too, or another is chosen;
- the work is bounded: only the first MAX_BODY_CHARS of a body and its first MAX_CANDIDATES
  sentences are considered (news puts what matters first), so no article can stall a build.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace

from digest.summarize.boilerplate import is_boilerplate
from digest.summarize.datelines import dateline_end
from digest.summarize.readability import needs_antecedent, quote_groups
from digest.summarize.sentences import Span, split_spans, word_count, words

MAX_BODY_CHARS = 50_000  # ~8,000 words: far beyond any news story's summary-worthy part
MAX_CANDIDATES = 120
NEAR_COPY = 0.6  # word-set Jaccard at which a sentence repeats an earlier one


def candidates(body: str, *, truncated: bool = False) -> list[Span]:
    """The sentences of `body` a summary may use, in document order: no boilerplate or captions,
    no cut-off last fragment, no part of a quotation that runs over several sentences."""
    if len(body) > MAX_BODY_CHARS:
        # cut where a paragraph ends when one is near, and drop the fragment either way
        cut = body.rfind("\n", MAX_BODY_CHARS // 2, MAX_BODY_CHARS)
        body, truncated = body[: cut if cut > 0 else MAX_BODY_CHARS], True
    spans = [_without_dateline(span) for span in split_spans(body)]
    if truncated and spans:
        spans = spans[:-1]
    return _without_furniture(_whole_sentences(spans))[:MAX_CANDIDATES]


def _without_dateline(span: Span) -> Span:
    """The span from the first word after a wire dateline ("WASHINGTON (AP) --"): where a
    story was filed is not news, and the rest of the sentence stays verbatim."""
    skip = dateline_end(span.text)
    if not skip:
        return span
    return replace(span, text=span.text[skip:], start=span.start + skip)


def _whole_sentences(spans: Sequence[Span]) -> list[Span]:
    """The spans that hold no part of a quotation running over several sentences: any such part
    would show a quote mark without its partner, and a summary item is one sentence."""
    groups = quote_groups([span.text for span in spans], [span.paragraph for span in spans])
    alone = [
        group == i and (i + 1 == len(spans) or groups[i + 1] != i) for i, group in enumerate(groups)
    ]
    return [span for span, ok in zip(spans, alone, strict=True) if ok]


def _without_furniture(units: Sequence[Span]) -> list[Span]:
    """No boilerplate or captions, and one copy of a sentence the page repeats."""
    seen: list[tuple[int, float, set[str]]] = []  # size, NEAR_COPY x size, words
    kept = []
    for unit in units:
        if is_boilerplate(unit.text):
            continue
        # pages repeat their lede, lightly edited, as a caption or a pull quote: one is enough
        terms = {w.lower() for w in words(unit.text)}
        size = len(terms)
        least = NEAR_COPY * size
        for other_size, other_least, other in seen[-40:]:
            # word-set Jaccard at least NEAR_COPY, which sets of sizes further apart cannot reach
            if least <= other_size and other_least <= size:
                shared = len(terms & other)
                if shared >= NEAR_COPY * (size + other_size - shared):
                    break
        else:
            seen.append((size, least, terms))
            kept.append(unit)
    return kept


def openers(spans: Sequence[Span]) -> list[bool]:
    """Whether each span may open a summary (it does not lean on the sentence before it)."""
    return [not needs_antecedent(span.text) for span in spans]


def pick(
    spans: Sequence[Span],
    scores: Sequence[float],
    *,
    sentences: int,
    words: int | None,
    can_open: Sequence[bool] | None = None,
) -> list[Span]:
    """The best-scored spans, at most `sentences` of them within `words` words, in document order,
    opening with a span that can open a summary.

    Goes down the ranking and skips a sentence that would overrun the budget, so a long high-ranked
    sentence gives way to shorter ones. A sentence that would become the summary's first but leans
    on the one before it brings that one along when it fits, and is skipped otherwise. If not even
    one sentence fits, the best-ranked opener is returned alone: a summary over budget is more
    useful to a reader than an empty one.
    """
    if not spans or sentences <= 0:
        return []
    opens = list(can_open) if can_open is not None else openers(spans)
    lengths = [word_count(span.text) for span in spans]
    ranking = sorted(range(len(spans)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    for index in ranking:
        if len(chosen) == sentences:
            break
        addition = [index]
        if (not chosen or index < min(chosen)) and not opens[index]:
            before = index - 1
            if before < 0 or not opens[before] or before in chosen:
                continue
            addition.append(before)
        if len(chosen) + len(addition) > sentences:
            continue
        if words is not None and sum(lengths[i] for i in chosen + addition) > words:
            continue
        chosen.extend(addition)
    if not chosen:
        chosen = [next((i for i in ranking if opens[i]), ranking[0])]
    return [spans[i] for i in sorted(chosen)]


class Summarizer(ABC):
    """One extractive algorithm: scores candidate sentences, higher is more summary-worthy."""

    name: str

    @abstractmethod
    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        """One score per span, in the order given."""

    def summarize(
        self,
        body: str,
        *,
        sentences: int = 3,
        words: int | None = 90,
        truncated: bool = False,
        title: str | None = None,
    ) -> list[str]:
        spans = candidates(body, truncated=truncated)
        if not spans:
            return []
        scores = self.score(spans, title)
        return [span.text for span in self.choose(spans, scores, sentences=sentences, words=words)]

    def choose(
        self, spans: Sequence[Span], scores: Sequence[float], *, sentences: int, words: int | None
    ) -> list[Span]:
        """The summary's spans in document order; by default the greedy `pick`."""
        return pick(spans, scores, sentences=sentences, words=words, can_open=openers(spans))
