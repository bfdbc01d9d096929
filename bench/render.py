"""Personalised, serialised MIME messages per second on one core: the fast way (render and inline
once, substitute per recipient) against the naive way (render + premailer + email package per
recipient), in one run.

    python bench/render.py ../shared/datasets/bbc-news-summary/dev [--recipients 5000] [--naive 200]

The issue is 10 articles from the data set's `politics` folder (title = first line, summary = the
reference summary's first three sentences). Targets: ≥ 2,000 messages/s and ≥ 10× naive.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from digest.config import Config
from digest.message import MessageFactory
from digest.models import Issue, IssueEntry, Subscriber
from digest.project import data_path
from digest.render import inline_css, render_issue, render_templates

SECRET = b"bench-secret"


def load_entries(dataset: Path, count: int = 10) -> list[IssueEntry]:
    articles = sorted((dataset / "articles" / "politics").glob("*.txt"))[:count]
    if len(articles) < count:
        sys.exit(f"{dataset}: expected articles/politics/*.txt with at least {count} files")
    entries = []
    for number, path in enumerate(articles, start=1):
        title = path.read_text(encoding="latin-1").strip().splitlines()[0].strip()
        summary_path = dataset / "summaries" / "politics" / path.name
        summary_text = summary_path.read_text(encoding="latin-1") if summary_path.exists() else ""
        sentences = re.split(r"(?<=[.!?])\s*(?=[A-Z\"])", summary_text.strip())
        entries.append(
            IssueEntry(
                article_id=number,
                title=title,
                source_url=f"https://www.bbc.co.uk/news/politics-{path.stem}",
                source_name="bbc.co.uk",
                published=datetime(2005, 3, number, tzinfo=UTC),
                authors=["BBC News"],
                summary=[" ".join(sentences[:3])],
                political_score=0.9,
            )
        )
    return entries


def subscribers(count: int) -> list[Subscriber]:
    names = ["Ann Lee", "Bob O'Neil", "Zoë Šťastná", "", "Chris <Admin> & Co"]
    return [
        Subscriber(email=f"reader{n}@example.org", name=names[n % len(names)], list="weekly")
        for n in range(count)
    ]


def naive_message(
    issue: Issue, config: Config, factory: MessageFactory, subscriber: Subscriber
) -> bytes:
    """What one would write first: render the templates for this person, inline, build."""
    values = factory.personal_values(subscriber)
    html, text = render_templates(
        issue.entries,
        config=config,
        template_dirs=[data_path("templates")],
        subject=issue.subject,
        recipient=values,
    )
    html = inline_css(html)
    message = EmailMessage()
    message["From"] = config.from_address
    message["To"] = (
        f"{subscriber.name} <{subscriber.email}>" if subscriber.name else subscriber.email
    )
    message["Subject"] = issue.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = factory.message_id(subscriber)
    message["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="bbc-news-summary/dev folder")
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--naive", type=int, default=200, help="recipients for the naive way")
    args = parser.parse_args()

    entries = load_entries(args.dataset)
    config = Config(path=Path(tempfile.gettempdir()) / "digest.toml", reply_to="eds@example.org")
    subject = f"{config.name}: {entries[0].title}"

    started = time.perf_counter()
    parts = render_issue(
        entries, config=config, template_dirs=[data_path("templates")], subject=subject
    )
    render_seconds = time.perf_counter() - started
    issue = Issue(
        id=1,
        key="bench",
        subject=subject,
        created=datetime.now(UTC),
        entries=entries,
        html=parts.html,
        text=parts.text,
    )

    people = subscribers(args.recipients)
    started = time.perf_counter()
    factory = MessageFactory(issue, config, SECRET)
    fast_bytes = 0
    for person in people:
        fast_bytes += len(factory.envelope(person).data)
    fast_seconds = time.perf_counter() - started
    fast_rate = len(people) / fast_seconds

    naive_people = people[: args.naive]
    started = time.perf_counter()
    for person in naive_people:
        naive_message(issue, config, factory, person)
    naive_seconds = time.perf_counter() - started
    naive_rate = len(naive_people) / naive_seconds

    result = {
        "articles": len(entries),
        "html_bytes": len(parts.html.encode()),
        "render_once_ms": round(render_seconds * 1000, 1),
        "fast_messages": len(people),
        "fast_per_second": round(fast_rate),
        "mean_message_bytes": round(fast_bytes / len(people)),
        "naive_messages": len(naive_people),
        "naive_per_second": round(naive_rate, 1),
        "speedup": round(fast_rate / naive_rate, 1),
        "targets_met": fast_rate >= 2000 and fast_rate / naive_rate >= 10,
    }
    print(json.dumps(result))
    print(
        f"fast: {fast_rate:,.0f} msg/s   naive: {naive_rate:,.1f} msg/s   "
        f"speed-up: {fast_rate / naive_rate:,.0f}×   (targets: ≥ 2,000/s, ≥ 10×)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
