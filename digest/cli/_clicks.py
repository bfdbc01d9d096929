"""What `digest report` prints of the counted story links (digest.stats, docs/stats.md)."""

from __future__ import annotations

from typing import Any


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def print_story_clicks(report: dict[str, Any]) -> None:
    print(
        f"clicks: {report['clicks']}, set aside {report['set_aside']} (link scanners, HEAD"
        " requests); per link-follow, not per reader"
    )
    for story in report["stories"]:
        source = f" — {story['source']}" if story["source"] else ""
        print(
            f"{story['story']:3d}. {story['clicks']!s:>6} {_share(story['share']):>5}"
            f"  {story['title']}{source}"
        )


def print_trend(report: dict[str, Any]) -> None:
    if not report["issues"]:
        print("no issue has been sent yet")
        return
    print("clicks per issue:")
    for issue in report["issues"]:
        print(
            f"  {issue['issue']}\t{issue['key']}\t{issue['clicks']} clicks"
            f"\t{issue['set_aside']} set aside\t{issue['subject']}"
        )
    print("clicks per source (stories, total, median per story):")
    for source in report["sources"]:
        print(f"  {source['source']}\t{source['stories']}\t{source['clicks']}\t{source['median']}")
