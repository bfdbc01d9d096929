"""Issue entries → the HTML and plain-text parts of the email, rendered and CSS-inlined once.

Personal parts (the greeting's name, the unsubscribe, preferences and web-version links, the
subscriber's own CSV columns through `recipient.attributes.KEY`) are rendered as placeholders
such as `@@digest:unsubscribe_url@@` or `@@digest:attr:city@@`; `digest.message` swaps in each
subscriber's values, escaped for the part they land in, so premailer runs once per issue and not
once per subscriber. Text from articles is untrusted: HTML templates autoescape, only http(s) URLs
become links, and a placeholder spelled out in article text or URLs is defused before rendering.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from digest.config import Config
from digest.errors import DigestError
from digest.models import Issue, IssueEntry
from digest.project import data_path

HTML_TEMPLATE = "digest.html"
TEXT_TEMPLATE = "digest.txt"
# Gmail hides everything past ~102 KB of HTML behind "[Message clipped]", unsubscribe link included
GMAIL_CLIP_BYTES = 102 * 1024

# The personal values a template can use, through `recipient.<name>`.
PERSONAL_FIELDS = (
    "name",
    "first_name",
    "space_name",
    "unsubscribe_url",
    "preferences_url",
    "web_url",
)
# ... and `recipient.attributes.<key>`: a column of the subscriber's CSV, field "attr:<key>"
ATTRIBUTE_FIELD_PREFIX = "attr:"
ATTRIBUTE_KEY_RE = re.compile(r"[A-Za-z0-9_]+")
_PLACEHOLDER_PREFIX = "@@digest:"
PLACEHOLDER_RE = re.compile(r"@@digest:(" + "|".join(PERSONAL_FIELDS) + r"|attr:[A-Za-z0-9_]+)@@")

# What a subscriber-free copy (web archive, preview) shows in place of the personal values.
_EMAIL_ONLY_RE = re.compile(r"<!--\s*email-only\s*-->.*?<!--\s*/email-only\s*-->", re.S)


@dataclass
class RenderedParts:
    html: str  # inlined once, with placeholders
    text: str  # with placeholders
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Link:
    url: str
    label: str


@dataclass(frozen=True)
class EntryView:
    """An issue entry as the templates see it: URLs vetted, date formatted, text defused."""

    title: str
    url: str | None
    source_name: str
    authors: list[str]
    published: datetime | None
    date: str
    summary: list[str]
    other_sources: list[Link]


def placeholder(name: str) -> str:
    return f"{_PLACEHOLDER_PREFIX}{name}@@"


class RecipientAttributes:
    """`recipient.attributes` in templates: any key (letters, digits, `_`) gives the value of
    that column of the subscriber's CSV. At render time that is a placeholder, filled per
    subscriber by `digest.message` ("" when the subscriber has no such column); given `values`
    (the flat personal values, `attr:KEY` → value), the value itself."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = values

    def __getitem__(self, key: object) -> str:
        if not isinstance(key, str) or not ATTRIBUTE_KEY_RE.fullmatch(key):
            raise KeyError(key)  # Jinja makes it an undefined: a one-line template error
        field = ATTRIBUTE_FIELD_PREFIX + key
        return placeholder(field) if self._values is None else self._values.get(field, "")

    def __getattr__(self, key: str) -> str:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def defuse(text: str) -> str:
    """Text from data can never be mistaken for a placeholder (a zero-width joiner breaks it)."""
    return text.replace("@@digest:", "@@\u200ddigest:") if "@@" in text else text


def defuse_url(url: str) -> str:
    """A URL from data can never hold a placeholder: its `@` are percent-encoded (the same URL
    to a web server), else every reader's link would carry their own unsubscribe token."""
    return url.replace("@@digest:", "%40%40digest:") if "@@" in url else url


def safe_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) URL without whitespace; None otherwise (no
    `javascript:` or file paths in a link)."""
    if not url:
        return None
    url = url.strip()
    if any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return defuse_url(url)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or url).removeprefix("www.")


def format_date(when: datetime | None) -> str:
    return f"{when.day} {when:%B %Y}" if when else ""


def entry_view(entry: IssueEntry) -> EntryView:
    url = safe_url(entry.source_url)
    others: list[Link] = []
    seen = {url} if url else set()
    for source in entry.other_sources:
        link = safe_url(source)
        if link and link not in seen:
            seen.add(link)
            others.append(Link(url=link, label=defuse(_host(link))))
    return EntryView(
        title=defuse(entry.title.strip()) or "(untitled)",
        url=url,
        source_name=defuse(entry.source_name or (_host(url) if url else "")),
        authors=[defuse(a) for a in entry.authors if a.strip()],
        published=entry.published,
        date=format_date(entry.published),
        summary=[defuse(p) for p in entry.summary if p.strip()],
        other_sources=others,
    )


def environment(template_dirs: Iterable[Path]) -> jinja2.Environment:
    """Templates looked up in order: the project's own first, then the packaged defaults."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs]),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = format_date
    return env


@dataclass(frozen=True)
class Intro:
    """The editor's Markdown intro as the templates see it: `html` (safe: raw HTML in the
    Markdown is escaped, links are http(s) or mailto only) and `text`, wrapped at 72."""

    html: Markup
    text: str


def _link_allowed(url: str) -> bool:
    return safe_url(url) is not None or url.lower().startswith("mailto:")


def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML off: `<script>` in an intro is shown as text, never run; links
    # only to http(s) and mailto: addresses
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.validateLink = _link_allowed  # type: ignore[method-assign]
    return md


def render_intro(markdown: str) -> Intro | None:
    """The intro's HTML and text parts; None when it is empty. Placeholders spelled out in it
    are defused, as in article text: an intro cannot reach a reader's personal values."""
    source = defuse(markdown).strip()
    if not source:
        return None
    md = _markdown()
    return Intro(html=Markup(md.render(source).strip()), text=_markdown_text(md.parse(source)))


def _markdown_text(tokens: list[Token]) -> str:
    """Markdown tokens → plain text: paragraphs wrapped at 72, list items bulleted or
    numbered, a link's address after its words."""
    blocks: list[tuple[str, bool]] = []  # (text, is a list item)
    prefixes: list[str] = []  # the marker of each open list item, innermost last
    counters: list[int] = []
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            counters.append(int(token.attrGet("start") or 1) if token.type[0] == "o" else 0)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            counters.pop()
        elif token.type == "list_item_open":
            number = counters[-1]
            prefixes.append(f"{number}. " if number else "- ")
            if number:
                counters[-1] += 1
        elif token.type == "list_item_close":
            prefixes.pop()
        elif token.type in ("inline", "code_block", "fence"):
            text = _inline_text(token) if token.type == "inline" else token.content.rstrip()
            indent = "  " * max(len(prefixes) - 1, 0)
            if prefixes and token.type == "inline":
                marker, prefixes[-1] = prefixes[-1], " " * len(prefixes[-1])
                lead, rest = indent + marker, indent + " " * len(marker)
                wrapped = textwrap.fill(text, 72, initial_indent=lead, subsequent_indent=rest)
                blocks.append((wrapped, True))
            elif token.type == "inline":
                blocks.append((textwrap.fill(text, 72, break_on_hyphens=False), False))
            else:
                blocks.append((textwrap.indent(text, "    "), False))
    out = ""
    for i, (block, item) in enumerate(blocks):
        if i:
            out += "\n" if item and blocks[i - 1][1] else "\n\n"
        out += block
    return out


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    href: list[str | None] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "link_open":
            href.append(str(child.attrGet("href") or ""))
        elif child.type == "link_close":
            url = href.pop() if href else None
            if url:
                parts.append(f" <{url}>")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)


def _context(
    entries: list[IssueEntry],
    *,
    config: Config,
    subject: str,
    recipient: Mapping[str, object],
    issued: datetime | None = None,
    intro: str = "",
    story_links: Sequence[str | None] | None = None,
) -> dict[str, object]:
    views = [entry_view(e) for e in entries]
    if story_links is not None:
        # counted links (digest.clicks): the same for every reader, so rendered here, once
        views = [
            replace(view, url=defuse_url(link)) if link and view.url else view
            for view, link in zip(views, story_links, strict=True)
        ]
    preheader = " · ".join(v.title for v in views[:3])
    return {
        "newsletter": {
            "name": defuse(config.name),
            "base_url": defuse_url(config.base_url.rstrip("/")),
            "language": config.language or "en",
            "postal_address": defuse(" ".join(config.postal_address.split())),
        },
        "subject": defuse(subject),
        # the masthead's line under the name: the issue's date, not the subject again
        "issue_date": format_date(issued or datetime.now(UTC)),
        "preheader": preheader,
        "entries": views,
        "recipient": recipient,
        "intro": render_intro(intro),
    }


def inline_css(html: str) -> str:
    """Inline the `<style>` rules into `style=` attributes; rules that cannot be inlined (media
    queries for phones and dark mode) stay in a `<style>` block."""
    from premailer import Premailer

    inlined = Premailer(
        html,
        cssutils_logging_level=logging.CRITICAL,
        disable_validation=True,
        strip_important=False,  # dark-mode rules need !important to beat the inlined colours
        remove_classes=False,
        allow_network=False,
    ).transform()
    # lxml drops the doctype; without it some clients render in quirks mode
    if not inlined.lstrip().lower().startswith("<!doctype"):
        inlined = "<!DOCTYPE html>\n" + inlined
    return inlined


def render_templates(
    entries: list[IssueEntry],
    *,
    config: Config,
    template_dirs: list[Path],
    subject: str,
    recipient: Mapping[str, str] | None = None,
    issued: datetime | None = None,
    intro: str = "",
    key: str = "",
    story_links: Sequence[str | None] | None = None,
) -> tuple[str, str]:
    """The (un-inlined HTML, text) from the templates; placeholders unless `recipient` (flat
    personal values, as `MessageFactory.personal_values` gives them) is given."""
    env = environment(template_dirs)
    if recipient is None:
        view: dict[str, object] = {name: placeholder(name) for name in PERSONAL_FIELDS}
        view["attributes"] = RecipientAttributes()
    else:
        view = {**recipient, "attributes": RecipientAttributes(recipient)}
    context = _context(
        entries,
        config=config,
        subject=subject,
        recipient=view,
        issued=issued,
        intro=intro,
        story_links=story_links,
    )
    context["issue_period"] = issue_period(key)
    try:
        html = env.get_template(HTML_TEMPLATE).render(context)
        text = env.get_template(TEXT_TEMPLATE).render(context)
    except jinja2.TemplateNotFound as exc:
        dirs = ", ".join(str(d) for d in template_dirs)
        raise DigestError(f"template {exc.name!r} not found in {dirs}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise DigestError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise DigestError(f"template error: {exc.message}") from None
    return html, text


# the keys `digest run` gives its issues (digest.schedule.period_key), and what each period is
# called in the greeting; a hand-built issue (build-…) names no period
_PERIOD_KEYS = (
    (re.compile(r"^\d{4}-W\d{2}$"), "this week’s", "this week’s"),
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "today’s", "today’s"),
    (re.compile(r"^\d{4}-\d{2}$"), "this month’s", "this month’s"),
)


def issue_period(key: str) -> dict[str, str]:
    """How the greeting names the issue's stories: `one` before a single story ("this week’s
    political story", or "one political story"), `these` before a count ("this week’s 6 …",
    or just "6 …")."""
    for pattern, one, these in _PERIOD_KEYS:
        if pattern.match(key):
            return {"one": one, "these": f"{these} "}
    return {"one": "one", "these": ""}


def render_issue(
    entries: list[IssueEntry],
    *,
    config: Config,
    template_dirs: list[Path],
    subject: str,
    issued: datetime | None = None,
    intro: str = "",
    key: str = "",
    story_links: Sequence[str | None] | None = None,
) -> RenderedParts:
    """Render and inline the issue once; the parts carry placeholders for `digest.message`.
    `issued` (default now: the issue's creation) is the date the masthead shows; `intro` is
    the editor's Markdown (`render_intro`); `key` the issue's, whose period the greeting names
    ("this week’s", "today’s", "this month’s": `issue_period`); `story_links` the counted
    links that replace the stories' own (digest.clicks), None for the stories' own."""
    raw_html, text = render_templates(
        entries,
        config=config,
        template_dirs=template_dirs,
        subject=subject,
        issued=issued,
        intro=intro,
        key=key,
        story_links=story_links,
    )
    html = inline_css(raw_html)
    warnings = []
    shown = render_intro(intro)
    if shown is not None and shown.html not in raw_html:
        # a project's own copy of digest.html from before intros existed
        warnings.append(
            f"the intro is not shown: {HTML_TEMPLATE} has no `{{{{ intro.html }}}}`"
            " (copy the intro block from the packaged template, docs/editing.md)"
        )
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        warnings.append(
            f"the HTML part is {size / 1024:.0f} KB; Gmail clips messages over "
            f"{GMAIL_CLIP_BYTES // 1024} KB (fewer stories or shorter summaries keep it whole)"
        )
    return RenderedParts(html=html, text=text, warnings=warnings)


def fill_placeholders(template: str, values: Mapping[str, str], *, escape_html: bool) -> str:
    """Substitute the personal values; HTML-escaped (quotes too: they may sit in attributes)
    when `escape_html`."""

    def value(match: re.Match[str]) -> str:
        raw = values.get(match.group(1), "")
        return html_lib.escape(raw, quote=True) if escape_html else raw

    return PLACEHOLDER_RE.sub(value, template)


def generic_values(issue: Issue, base_url: str = "") -> dict[str, str]:
    """The values for a copy seen by nobody in particular: no name, no token, no attributes
    (`fill_placeholders` gives "" for fields missing here). Links are relative to the web app
    unless a `base_url` is given (for copies read outside it)."""
    base = base_url.rstrip("/")
    return {
        "name": "",
        "first_name": "",
        "space_name": "",
        "unsubscribe_url": f"{base}/unsubscribe",
        "preferences_url": f"{base}/preferences",
        "web_url": f"{base}/issues/{issue.id}",
    }


def web_version(issue: Issue) -> str:
    """The issue's HTML for the web archive and the preview: generic greeting, no unsubscribe
    token, and the parts marked `<!-- email-only -->` (links that only make sense in a mailbox)
    left out."""
    html = _EMAIL_ONLY_RE.sub("", issue.html)
    return fill_placeholders(html, generic_values(issue), escape_html=True)


def default_template_dirs() -> list[Path]:
    return [data_path("templates")]
