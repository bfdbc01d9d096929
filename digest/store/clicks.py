"""Follows of counted story links (digest.clicks): one row per (issue, story) with how many
follows counted and how many were set aside (HEAD requests, link scanners). No row says who."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from digest.store.database import Database


@dataclass(frozen=True)
class StoryCount:
    issue_id: int
    story: int  # 1-based, as in the link
    clicks: int
    set_aside: int


class StoryClicks:
    db: Database

    def count_story_click(self, issue_id: int, story: int, *, set_aside: bool = False) -> None:
        """One more follow of the story's link: counted, or set aside. One statement, so
        concurrent follows never lose an increment on either backend."""
        clicks, aside = (0, 1) if set_aside else (1, 0)
        self.db.execute(
            """INSERT INTO story_clicks (issue_id, story, clicks, set_aside) VALUES (?, ?, ?, ?)
               ON CONFLICT (issue_id, story) DO UPDATE SET
                 clicks = story_clicks.clicks + excluded.clicks,
                 set_aside = story_clicks.set_aside + excluded.set_aside""",
            (issue_id, story, clicks, aside),
        )

    def story_counts(self, issue_ids: Sequence[int]) -> list[StoryCount]:
        """The counts of these issues' stories, by issue then story (stories never followed
        have no row)."""
        if not issue_ids:
            return []
        marks = ", ".join("?" for _ in issue_ids)
        rows = self.db.all(
            "SELECT issue_id, story, clicks, set_aside FROM story_clicks"
            f" WHERE issue_id IN ({marks}) ORDER BY issue_id, story",
            tuple(issue_ids),
        )
        return [StoryCount(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]
