"""Sample data shared by several test modules."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from digest.models import IssueEntry

FIXTURES = Path(__file__).parent / "fixtures" / "email"


def sample_entries() -> tuple[str, list[IssueEntry]]:
    """The subject and entries of a ten-story sample issue."""
    data = json.loads((FIXTURES / "sample_issue.json").read_text(encoding="utf-8"))
    entries = [
        IssueEntry(
            article_id=i + 1,
            title=item["title"],
            source_url=item["source_url"],
            source_name=re.sub(r"^www\.", "", item["source_url"].split("/")[2]),
            published=datetime.fromisoformat(item["published"]),
            authors=item["authors"],
            summary=item["summary"],
            political_score=item["political_score"],
            other_sources=item["other_sources"],
        )
        for i, item in enumerate(data["entries"])
    ]
    return data["subject"], entries
