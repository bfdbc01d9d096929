"""Field clean-up shared by every format: URLs, dates, author lists, body text."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# --- URLs -----------------------------------------------------------------------------------------

_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


# Query parameters that never belong in an article's address as we store and show it: click and
# campaign trackers, and credentials a feed URL may carry (`?apikey=`), which would otherwise be
# published in every email and in the archive.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "mtm_", "oly_", "_hs")
_TRACKING_PARAMS = frozenset(
    [
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "li_fat_id",
        "mkt_tok",
        "_ga",
        "_gl",
        "_openstat",
        "vero_id",
        "vero_conv",
        "wickedid",
    ]
)
_CREDENTIAL_PARAMS = frozenset(
    [
        "apikey",
        "api_key",
        "api-key",
        "key",
        "access_token",
        "accesstoken",
        "token",
        "auth",
        "auth_token",
        "authtoken",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "signature",
        "sig",
        "session",
        "sessionid",
        "jsessionid",
        "x-amz-credential",
        "x-amz-signature",
        "x-amz-security-token",
    ]
)


def is_private_param(name: str) -> bool:
    """A tracking or credential query parameter: never stored, never shown."""
    name = name.lower()
    return (
        name.startswith(_TRACKING_PREFIXES)
        or name in _TRACKING_PARAMS
        or name in _CREDENTIAL_PARAMS
    )


def normalise_url(raw: str | None) -> str | None:
    """`www.x.com/a` → `https://www.x.com/a`: scheme and host lower-cased, default port; user
    name, password, fragment, and tracking and credential parameters dropped (so the result is
    also what may be published). None when it is not an http(s) URL with a host."""
    if not raw:
        return None
    raw = raw.strip()
    if not raw or any(ch.isspace() for ch in raw) or any(ord(ch) < 32 for ch in raw):
        return None
    guessed_scheme = not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", raw)
    if raw.startswith("//"):
        raw = "https:" + raw
    elif guessed_scheme:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)", raw):  # mailto:, javascript:, ...
            return None
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host or not _HOST.match(host):
        return None
    if guessed_scheme and "." not in host:  # "foo" alone is a word, not a site
        return None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not is_private_param(k)
        ]
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


# --- dates ----------------------------------------------------------------------------------------

_RFC_2822 = re.compile(
    r"^(?:[A-Za-z]{3},?\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?"
    r"(?P<zone>.*)$"
)
# RFC 2822's "-0000": the time is UTC and the writer's local zone is not said.
_UNKNOWN_LOCAL_ZONE = re.compile(r"^-0000\b")
# "+01:00" is not RFC 2822, but common; email.utils wants "+0100".
_COLON_OFFSET = re.compile(r"^([+-]\d{2}):(\d{2})\b")
_UTC_SUFFIX = re.compile(r"\s*(?:Z|UTC|GMT)$", re.IGNORECASE)
# Written dates with no numeric ambiguity; numeric d/m/y orders are handled separately.
_FORMATS = (
    "%d %B %Y %H:%M:%S",
    "%d %B %Y %H:%M",
    "%d %B %Y",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y %H:%M",
    "%d %b %Y",
    "%B %d, %Y %I:%M %p",
    "%B %d, %Y %H:%M",
    "%B %d, %Y",
    "%b %d, %Y %I:%M %p",
    "%b %d, %Y %H:%M",
    "%b %d, %Y",
    "%A, %B %d, %Y",
    "%A %d %B %Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_EARLIEST_YEAR, _LATEST_YEAR = 1900, 2200


def parse_published(raw: str | None) -> tuple[datetime | None, list[str]]:
    """A timezone-aware datetime and any warnings. Never guesses: an unreadable or ambiguous date
    is None plus a warning. A date with no zone at all is taken as UTC, and says so."""
    if raw is None or not raw.strip():
        return None, []
    text = " ".join(raw.split())
    try:
        found = _parse_date(text)
    except UnknownTimeZone as exc:
        return None, [f"unknown time zone {exc.zone!r} in published date {text[:80]!r}: left empty"]
    if found is None or not _EARLIEST_YEAR <= found.year <= _LATEST_YEAR:
        return None, [f"published date not understood: {text[:80]!r}"]
    if found.tzinfo is None or found.utcoffset() is None:
        return found.replace(tzinfo=UTC), [
            f"published date has no time zone, UTC assumed: {text[:80]!r}"
        ]
    return found, []


class UnknownTimeZone(ValueError):
    """A date whose zone is named, but not one we know: reading it as UTC would be a guess."""

    def __init__(self, zone: str) -> None:
        super().__init__(f"unknown time zone {zone!r}")
        self.zone = zone


# "November 17, 2026 at 4:05 PM": the "at" between date and time
_AT_TIME = re.compile(r"(\d),?\s+at\s+(?=\d{1,2}[:.]\d{2})", re.IGNORECASE)


def _parse_date(text: str) -> datetime | None:
    text = _AT_TIME.sub(r"\1 ", text)
    rfc = _RFC_2822.match(text)
    if rfc:  # as in feeds and the scraper's footer
        return _parse_rfc_2822(text, rfc.group("zone").strip())
    try:
        return datetime.fromisoformat(text)  # ISO 8601, with or without zone
    except ValueError:
        pass
    utc = bool(_UTC_SUFFIX.search(text))
    bare = _UTC_SUFFIX.sub("", text)
    if utc:
        try:
            found = datetime.fromisoformat(bare)
        except ValueError:
            pass
        else:
            return found if found.tzinfo else found.replace(tzinfo=UTC)
    for fmt in _FORMATS:
        try:
            found = datetime.strptime(bare, fmt)
        except ValueError:
            continue
        return found.replace(tzinfo=UTC) if utc else found
    numeric = _NUMERIC_DMY.match(bare)
    if numeric:
        first, second, year = (int(g) for g in numeric.groups())
        if first > 12 >= second:
            day, month = first, second
        elif second > 12 >= first:
            day, month = second, first
        else:  # 03/04/2026: April or March? Refuse rather than guess.
            return None
        try:
            return datetime(year, month, day, tzinfo=UTC if utc else None)
        except ValueError:
            return None
    return None


def _parse_rfc_2822(text: str, zone: str) -> datetime | None:
    """email.utils does the parsing, but it reads an unknown zone name (CEST, BST) as "no zone",
    which would then be taken as UTC: such a date is refused instead."""
    if _COLON_OFFSET.match(zone):
        text = text[: len(text) - len(zone)] + _COLON_OFFSET.sub(r"\1\2", zone)
    try:
        found = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if found.tzinfo is not None or not zone:
        return found
    if _UNKNOWN_LOCAL_ZONE.match(zone):
        return found.replace(tzinfo=UTC)
    raise UnknownTimeZone(zone.split()[0][:20])


def unknown_time_zone(raw: str | None) -> str | None:
    """The zone name of a date that names a zone we do not know (`CEST`), else None."""
    try:
        _parse_date(" ".join((raw or "").split()))
    except UnknownTimeZone as exc:
        return exc.zone
    return None


# --- authors --------------------------------------------------------------------------------------

_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,\s*and\s+|,|&|\band\b|\|)\s*", re.IGNORECASE)
_BY_PREFIX = re.compile(r"^\s*(?:written\s+)?by\s*[:\-]?\s*", re.IGNORECASE)
# RSS's "jane@example.org (Jane Doe)": the name, not the address
_EMAIL_WITH_NAME = re.compile(r"^\s*\S+@\S+\s*\((.+)\)\s*$")
_EMAIL = re.compile(r"^\S+@\S+$")


def split_authors(raw: str | list[str] | None) -> list[str]:
    """`"By A and B"`, `"A, B and C"`, `"A; B"` → `["A", "B", ...]`, in order, without repeats."""
    if not raw:
        return []
    pieces = raw if isinstance(raw, list) else [raw]
    authors: list[str] = []
    for piece in pieces:
        with_name = _EMAIL_WITH_NAME.match(piece)
        if with_name:
            piece = with_name.group(1)
        for name in _AUTHOR_SPLIT.split(_BY_PREFIX.sub("", piece)):
            name = " ".join(_BY_PREFIX.sub("", name).split()).strip(" .-:")
            if name and name not in authors and not _EMAIL.match(name):
                authors.append(name)
    return authors


# --- body text ------------------------------------------------------------------------------------

# A sentence ends with . ! ? or … , possibly followed by closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")


def ends_sentence(text: str) -> bool:
    """True when the text closes with sentence-final punctuation."""
    return bool(_SENTENCE_END.search(text.rstrip()))


def ends_mid_sentence(body: str) -> bool:
    """True when the text stops without closing its last sentence (the scraper cut it off)."""
    return bool(body.strip()) and not ends_sentence(body)


# The fields every format fills the same way; each notes what it could not find in `warnings`.


def source_url_field(raw: str | None, warnings: list[str]) -> str | None:
    source_url = normalise_url(raw)
    if source_url is None:
        warnings.append(f"source URL not understood: {raw[:80]!r}" if raw else "no source URL")
    return source_url


def published_field(raw: str | None, warnings: list[str]) -> datetime | None:
    published, date_warnings = parse_published(raw)
    warnings.extend(date_warnings)
    if not raw:
        warnings.append("no published date")
    return published


def truncated_field(
    body: str,
    warnings: list[str],
    *,
    cut: bool = False,
    check: Callable[[str], bool] = ends_mid_sentence,
) -> bool:
    """True when the body stops mid-sentence by `check` (or the format says it was `cut`)."""
    truncated = cut or check(body)
    if truncated:
        warnings.append("body stops mid-sentence: marked truncated")
    return truncated


_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def decode_entities(text: str) -> str:
    """HTML character references a scraper left in text (`&#8216;`, `&quot;`, `&amp;`) decoded;
    a bare `&` (AT&T, Q&A) is left as it is."""
    return _ENTITY.sub(lambda found: html.unescape(found.group(0)), text)


def join_paragraphs(lines: list[str]) -> str:
    """Blank-line separated blocks → paragraphs joined by one blank line; a block's wrapped lines
    are joined with spaces and runs of whitespace collapsed."""
    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line.strip())
        elif block:
            paragraphs.append(" ".join(" ".join(block).split()))
            block = []
    return "\n\n".join(paragraphs)


_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
    | {"section", "article", "tr", "table", "pre", "hr", "figure"}
)
_SKIPPED_TAGS = frozenset(
    {"script", "style", "noscript", "template", "head", "iframe", "object", "svg"}
)


class _TextCollector(HTMLParser):
    """Text content of an HTML fragment with paragraph breaks at block tags. Markup is dropped,
    entities decoded; nothing is run."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.lines[-1] += data.replace("\n", " ")


def html_to_text(fragment: str) -> str:
    """Readable text of an HTML fragment (a feed's content or summary)."""
    if "<" not in fragment and "&" not in fragment:
        return join_paragraphs(fragment.split("\n"))
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return join_paragraphs(collector.lines)
