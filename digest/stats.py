"""What readers read, counted without watching any reader (docs/stats.md): the follows of each
story's counted link (digest.clicks), per issue and across issues by source.

Counts are per link-follow, not per person: a reader who follows a link twice counts twice. With
`[stats] min_count = k` a count below k is shown as "< k" (and its share not at all), so that on
a small list a number cannot point at one reader.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median
from typing import Any

from digest.models import Issue
from digest.store import Store
from digest.store.clicks import StoryCount

# the issues whose links were sent out, so whose follows count (digest.web.redirects)
SENT_STATUSES = ("sending", "sent")


def shown(count: int, min_count: int) -> int | str:
    """`count`, or "< min_count" when it is below the floor."""
    return f"< {min_count}" if min_count and count < min_count else count


def issue_report(store: Store, issue: Issue, min_count: int = 0) -> dict[str, Any]:
    """Each story of `issue` with its clicks and its share of the issue's clicks, the issue's
    total, and the follows set aside (link scanners, HEAD requests)."""
    counts = {c.story: c for c in store.story_counts([issue.id])}
    total = sum(c.clicks for c in counts.values())
    stories = []
    for number, entry in enumerate(issue.entries, 1):
        clicks = counts[number].clicks if number in counts else 0
        hidden = bool(min_count) and clicks < min_count
        stories.append(
            {
                "story": number,
                "title": entry.title,
                "source": entry.source_name,
                "url": entry.source_url,
                "clicks": shown(clicks, min_count),
                "share": None if hidden or not total else round(clicks / total, 4),
            }
        )
    return {
        "clicks": shown(total, min_count),
        "set_aside": sum(c.set_aside for c in counts.values()),
        "min_count": min_count,
        "stories": stories,
    }


def recent_sent(store: Store, last: int) -> list[Issue]:
    """The last `last` issues sent (or being sent), oldest first."""
    sent = [i for i in store.issues() if i.status in SENT_STATUSES]
    return sorted(sent, key=lambda i: (i.created, i.id))[-last:] if last > 0 else []


def source_clicks(issues: list[Issue], counts: list[StoryCount]) -> dict[str, list[int]]:
    """{source name: the clicks of each of its stories in `issues`}, stories never followed as
    0 ("" for stories without a source name)."""
    by_story = {(c.issue_id, c.story): c.clicks for c in counts}
    per_source: dict[str, list[int]] = defaultdict(list)
    for issue in issues:
        for number, entry in enumerate(issue.entries, 1):
            per_source[entry.source_name].append(by_story.get((issue.id, number), 0))
    return dict(per_source)


def trend(store: Store, last: int = 10, min_count: int = 0) -> dict[str, Any]:
    """Clicks per issue and per source across the last `last` issues sent."""
    issues = recent_sent(store, last)
    counts = store.story_counts([i.id for i in issues])
    per_issue: dict[int, list[StoryCount]] = defaultdict(list)
    for count in counts:
        per_issue[count.issue_id].append(count)
    sources = source_clicks(issues, counts)
    return {
        "min_count": min_count,
        "issues": [
            {
                "issue": issue.id,
                "key": issue.key,
                "subject": issue.subject,
                "stories": len(issue.entries),
                "clicks": shown(sum(c.clicks for c in per_issue[issue.id]), min_count),
                "set_aside": sum(c.set_aside for c in per_issue[issue.id]),
            }
            for issue in issues
        ],
        "sources": [
            {
                "source": source or "(no source)",
                "stories": len(clicks),
                "clicks": shown(sum(clicks), min_count),
                "median": shown(round(median(clicks)), min_count),
            }
            for source, clicks in sorted(sources.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
        ],
    }


def source_history(store: Store, last: int = 10, min_count: int = 0) -> dict[str, str]:
    """{source: "stories from this source: median N clicks"} over the last `last` issues sent:
    how stories like a draft's did before (the desk shows it under each story)."""
    issues = recent_sent(store, last)
    sources = source_clicks(issues, store.story_counts([i.id for i in issues]))
    return {
        source: f"stories from this source: median {shown(round(median(clicks)), min_count)}"
        f" clicks ({len(clicks)} sent)"
        for source, clicks in sources.items()
    }
