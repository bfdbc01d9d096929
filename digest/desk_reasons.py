"""Why a story is on the desk, in words an editor reads: "political 0.91; merged with 2 other
reports", and a sentence's place in the ranking ("ranked 2 of 14") rather than the ranker's raw
score (TextRank's or the lead ranker's "-3.30" means nothing to a person)."""

from __future__ import annotations

from collections.abc import Sequence

from digest.models import IssueEntry, RunnerUp


def _reports(count: int) -> str:
    return f"merged with {count} other report{'' if count == 1 else 's'}"


def why_story(story: IssueEntry | RunnerUp) -> str:
    """The reasons a story was chosen (or came close): its political score, how many other
    reports of it were merged into it, and whether it develops a story already sent."""
    reasons = [f"political {story.political_score:.2f}"]
    merged = len(story.merged_ids) or len(story.other_sources)
    if merged:
        reasons.append(_reports(merged))
    if isinstance(story, RunnerUp) and story.update_of:
        reasons.append(story.update_of)
    return "; ".join(reasons)


def ranks(scores: Sequence[float]) -> list[int]:
    """Each score's place from 1 (the highest), ties sharing the better place."""
    ordered = sorted(scores, reverse=True)
    return [ordered.index(score) + 1 for score in scores]
