"""Rendering an issue: escaping of untrusted article text, inlined CSS, the text part, the size
limit, template overrides and the web version."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from samples import sample_entries

from digest.config import Config
from digest.errors import DigestError
from digest.models import Issue, IssueEntry
from digest.project import data_path
from digest.render import (
    GMAIL_CLIP_BYTES,
    PERSONAL_FIELDS,
    PLACEHOLDER_RE,
    render_issue,
    web_version,
)
from digest.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "email"
TEMPLATES = [data_path("templates")]


def config(tmp_path: Path, **overrides: object) -> Config:
    return Config(path=tmp_path / "digest.toml", **overrides)  # type: ignore[arg-type]


class Elements(HTMLParser):
    """Every start tag with its attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def hostile_entry() -> IssueEntry:
    return IssueEntry(
        article_id=99,
        title="<script>alert('t')</script> Minister quits",
        source_url="javascript:alert(1)",
        source_name='evil" onmouseover="x',
        published=None,
        authors=["<b>Ann</b>"],
        summary=['Body <img src=x onerror="alert(1)"> text @@digest:unsubscribe_url@@ end.'],
        political_score=0.9,
        other_sources=[
            "/srv/articles/secret.txt",
            "https://ok.example.org/story",
            "data:text/html,x",
        ],
    )


def test_article_text_is_escaped_not_interpreted(tmp_path: Path) -> None:
    parts = render_issue(
        [hostile_entry()], config=config(tmp_path), template_dirs=TEMPLATES, subject="S <i>"
    )
    tags = parse(parts.html).tags
    assert not [t for t, _ in tags if t in ("script", "img", "b", "i")]
    assert "&lt;script&gt;alert(" in parts.html
    assert "&lt;img src=x onerror=" in parts.html
    hrefs = [a.get("href") or "" for t, a in tags if t == "a"]
    # neither javascript: nor a file path nor data: becomes a link; the https one does
    assert not [h for h in hrefs if h.startswith(("javascript:", "/srv", "data:"))]
    assert "https://ok.example.org/story" in hrefs
    assert "/srv/articles/secret.txt" not in parts.html + parts.text
    # an attribute-breaking source name stays inside its text node
    assert not [a for _, a in tags if "onmouseover" in a]
    # a placeholder spelled out in article text is not a placeholder
    assert "@@\u200ddigest:unsubscribe_url@@" in parts.html
    html_fields = [m.group(1) for m in PLACEHOLDER_RE.finditer(parts.html)]
    assert html_fields.count("unsubscribe_url") == 1  # the footer's, not the article's


def test_css_is_inlined_and_media_queries_kept(tmp_path: Path) -> None:
    subject, entries = sample_entries()
    parts = render_issue(entries, config=config(tmp_path), template_dirs=TEMPLATES, subject=subject)
    elements = parse(parts.html)
    titles = [a for t, a in elements.tags if t == "h2"]
    assert len(titles) == len(entries)
    assert all("font-size" in (a.get("style") or "") for a in titles)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", parts.html, re.S)
    kept = "".join(styles)
    assert "prefers-color-scheme: dark" in kept and "max-width: 620px" in kept
    assert "!important" in kept  # dark-mode colours must beat the inlined ones
    assert parts.html.startswith("<!DOCTYPE html>")
    assert re.search(r'<html[^>]* lang="en"', parts.html)


def test_every_article_is_complete_in_both_parts(tmp_path: Path) -> None:
    subject, entries = sample_entries()
    parts = render_issue(entries, config=config(tmp_path), template_dirs=TEMPLATES, subject=subject)
    elements = parse(parts.html)
    hrefs = {a.get("href") for t, a in elements.tags if t == "a"}
    visible = " ".join(" ".join(elements.text).split())
    for entry in entries:
        assert entry.source_url in hrefs
        assert entry.title in visible
        assert entry.source_name.upper() in visible.upper()
        for author in entry.authors:
            assert author in visible
        for paragraph in entry.summary:
            assert paragraph in visible
            assert paragraph in " ".join(parts.text.split())
        assert f"Read more: {entry.source_url}" in parts.text
        assert entry.title in parts.text
    assert "Also reported by" in visible and "news.example.org" in visible
    assert "23 November 2026" in visible


def test_plain_text_part_reads_on_its_own(tmp_path: Path) -> None:
    subject, entries = sample_entries()
    text = render_issue(
        entries, config=config(tmp_path), template_dirs=TEMPLATES, subject=subject
    ).text
    assert not re.search(r"<[a-z/][^>]*>", text)  # no markup leaks into the text part
    assert "&amp;" not in text and "&#" not in text
    assert re.search(r"^1\. Parliament passes the housing bill", text, re.M)
    assert re.search(r"^10\. Opposition leader", text, re.M)
    # prose is wrapped for plain-text readers; URLs are never broken
    for line in text.splitlines():
        assert len(line) <= 72 or "://" in line or "@@digest:" in line
    assert "Unsubscribe: @@digest:unsubscribe_url@@" in text


def test_ten_article_issue_stays_under_gmail_clip(tmp_path: Path) -> None:
    subject, entries = sample_entries()
    # the longest summaries the summariser produces: 3 sentences, 90 words
    for entry in entries:
        entry.summary = [" ".join(["parliamentary"] * 30) + "."] * 3
    parts = render_issue(entries, config=config(tmp_path), template_dirs=TEMPLATES, subject=subject)
    assert len(entries) == 10
    assert len(parts.html.encode()) <= GMAIL_CLIP_BYTES
    assert parts.warnings == []


def test_oversized_issue_warns(tmp_path: Path) -> None:
    subject, entries = sample_entries()
    for entry in entries:
        entry.summary = ["A long paragraph about the budget. " * 40] * 10
    parts = render_issue(entries, config=config(tmp_path), template_dirs=TEMPLATES, subject=subject)
    assert len(parts.html.encode()) > GMAIL_CLIP_BYTES
    assert len(parts.warnings) == 1 and "Gmail clips" in parts.warnings[0]


def test_project_template_overrides_default(tmp_path: Path) -> None:
    subject, entries = sample_entries()
    own = tmp_path / "templates"
    own.mkdir()
    (own / "digest.txt").write_text(
        "{{ newsletter.name }} / {% for e in entries %}[{{ e.title }}]{% endfor %}\n"
        "{{ recipient.unsubscribe_url }}\n",
        encoding="utf-8",
    )
    (own / "_story.html").write_text("<h2>EDITED {{ entry.title }}</h2>", encoding="utf-8")
    parts = render_issue(
        entries, config=config(tmp_path), template_dirs=[own, *TEMPLATES], subject=subject
    )
    assert parts.text.startswith("The Political Digest / [Parliament passes")
    assert parts.html.count("EDITED ") == len(entries)
    assert "masthead" in parts.html  # the untouched base layout still comes from the defaults


def test_template_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    subject, entries = sample_entries()
    own = tmp_path / "templates"
    own.mkdir()
    (own / "digest.txt").write_text("{% for x in %}\n", encoding="utf-8")
    with pytest.raises(DigestError, match=r"digest\.txt:1"):
        render_issue(
            entries, config=config(tmp_path), template_dirs=[own, *TEMPLATES], subject=subject
        )
    with pytest.raises(DigestError, match="'digest.html' not found"):
        render_issue(
            entries, config=config(tmp_path), template_dirs=[tmp_path / "none"], subject=subject
        )


def test_web_version_has_no_personal_data(tmp_path: Path) -> None:
    subject, entries = sample_entries()
    parts = render_issue(entries, config=config(tmp_path), template_dirs=TEMPLATES, subject=subject)
    store = Store(tmp_path / "state.sqlite3")
    for entry in entries:
        store.db.execute(
            "INSERT INTO articles (id, body_hash, title, body, added) VALUES (?, ?, ?, '', '')",
            (entry.article_id, f"h{entry.article_id}", entry.title),
        )
    issue: Issue = store.create_issue(
        key="2026-W48", subject=subject, entries=entries, html=parts.html, text=parts.text
    )
    page = web_version(issue)
    assert "@@digest:" not in page
    assert "token=" not in page and "Unsubscribe" not in page
    assert "Hello," in page
    for entry in entries:
        assert entry.title in page
    store.close()


# every placeholder a template could hold, spelled out in data
SPELLED = "".join(f"@@digest:{f}@@" for f in [*PERSONAL_FIELDS, "attr:city"])


def placeholder_entry(article_id: int) -> IssueEntry:
    return IssueEntry(
        article_id=article_id,
        title=f"Title {SPELLED}",
        source_url=f"https://evil.example/r/{SPELLED}?u=@@digest:unsubscribe_url@@#{SPELLED}",
        source_name=f"Source {SPELLED}",
        published=None,
        authors=[f"Author {SPELLED}"],
        summary=[f"Summary {SPELLED}"],
        political_score=0.9,
        other_sources=[
            f"https://other.example/{SPELLED}",
            "https://@@digest:web_url@@.example/x",
            "https://user@@digest:name@@@host.example/",
        ],
    )


def test_no_placeholder_from_data_survives_anywhere(tmp_path: Path) -> None:
    """Only the templates' own placeholders are filled per subscriber: one spelled out in an
    article's URL would hand every reader's unsubscribe token to that site."""
    subject, clean = sample_entries()
    hostile = [placeholder_entry(n) for n in (1, 2)]
    own = render_issue(clean, config=config(tmp_path), template_dirs=TEMPLATES, subject=subject)
    parts = render_issue(
        hostile, config=config(tmp_path), template_dirs=TEMPLATES, subject=f"S {SPELLED}"
    )
    # the same placeholders as an issue without any in its data, in both parts
    assert Counter(PLACEHOLDER_RE.findall(parts.html)) == Counter(PLACEHOLDER_RE.findall(own.html))
    assert Counter(PLACEHOLDER_RE.findall(parts.text)) == Counter(PLACEHOLDER_RE.findall(own.text))
    # no attribute holds one, except the template's own personal links
    tags = parse(parts.html).tags
    for _, attributes in tags:
        for name, value in attributes.items():
            found = PLACEHOLDER_RE.findall(value or "")
            assert found in ([], ["unsubscribe_url"], ["preferences_url"], ["web_url"]), (
                name,
                value,
            )
    article_hrefs = [a["href"] for t, a in tags if t == "a" and "example/" in (a["href"] or "")]
    assert article_hrefs and all("%40%40digest:" in h for h in article_hrefs)
    assert "https://evil.example/r/%40%40digest:name@@" in parts.text


def test_attributes_render_as_placeholders_and_bad_keys_are_template_errors(
    tmp_path: Path,
) -> None:
    subject, entries = sample_entries()
    own = tmp_path / "templates"
    own.mkdir()
    (own / "digest.txt").write_text(
        "{{ recipient.attributes.city }}/{{ recipient.attributes['Zip_2'] }}\n", encoding="utf-8"
    )
    parts = render_issue(
        entries, config=config(tmp_path), template_dirs=[own, *TEMPLATES], subject=subject
    )
    assert parts.text == "@@digest:attr:city@@/@@digest:attr:Zip_2@@\n"
    assert PLACEHOLDER_RE.findall(parts.text) == ["attr:city", "attr:Zip_2"]
    (own / "digest.txt").write_text("{{ recipient.attributes['home city'] }}\n", encoding="utf-8")
    with pytest.raises(DigestError, match="template error: .*home city"):
        render_issue(
            entries, config=config(tmp_path), template_dirs=[own, *TEMPLATES], subject=subject
        )
