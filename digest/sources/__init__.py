"""Sources: articles in from the scraper's format, plain text, RSS/Atom feeds and HTML pages.

    parse_file(path) -> Article                       one article file, or ParseError
    read_source(source) -> Iterator[Article | ParseFailure]
                                                      a folder (recursive), a file, a feed or page
                                                      URL; one bad input never stops the rest

The format is sniffed from the content, not the file name: a feed (`<rss`, `<feed`, `<rdf:RDF`),
an HTML page, the scraper's format (a `Title:` footer), else plain text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from digest.models import Article
from digest.sources.chrome import learn_chrome
from digest.sources.errors import ParseError, ParseFailure
from digest.sources.feed import (
    LinkOnly,
    as_utf8_xml,
    is_feed_root,
    looks_like_feed,
    parse_feed,
    xml_root,
)
from digest.sources.page import looks_like_html, parse_page
from digest.sources.plaintext import parse_plaintext
from digest.sources.scraped import looks_scraped, parse_scraped
from digest.sources.text import decode_bytes, decode_html
from digest.wording import plural

if TYPE_CHECKING:  # fetching (http.client, ssl) is imported when a URL is read, not for files
    from digest.sources.fetch import PrivatePolicy

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "ParseError",
    "ParseFailure",
    "parse_bytes",
    "parse_file",
    "read_source",
]

_LINK_OUT = "a link out of the source folder: not read (add its target as a source of its own)"
DEFAULT_MAX_BYTES = 5_000_000
DEFAULT_TIMEOUT = 10.0
_HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def parse_bytes(
    data: bytes,
    origin: str | None = None,
    *,
    hint: str = "",
    url: str | None = None,
    charset: str | None = None,
) -> list[Article]:
    """Every article in `data` (one, or a feed's entries). `hint` is a file suffix or a media
    type; `url` the address it was fetched from and `charset` the one its HTTP header declared.
    A feed entry with only a headline and a link is no article here (`read_source` can follow
    it); a feed of nothing else is a ParseError saying so. Raises ParseError only."""
    return _articles_only(_items(data, origin, hint=hint, url=url, charset=charset), origin)


def _items(
    data: bytes,
    origin: str | None,
    *,
    hint: str,
    url: str | None,
    charset: str | None,
    learned: frozenset[str] = frozenset(),
) -> list[Article | LinkOnly]:
    try:
        return _parse_bytes(
            data, origin, hint=hint.lower(), url=url, charset=charset, learned=learned
        )
    except ParseError as exc:
        raise (exc.at(origin) if origin else exc) from None


def _articles_only(items: list[Article | LinkOnly], origin: str | None) -> list[Article]:
    articles = [item for item in items if isinstance(item, Article)]
    if not articles:
        error = ParseError(_headlines_only(len(items)))
        raise (error.at(origin) if origin else error)
    return articles


def _headlines_only(count: int) -> str:
    have = "has" if count == 1 else "have"
    return (
        f"{plural(count, 'feed entry', 'feed entries')} {have} only a headline and a link, no "
        f"text: not read (set [sources] follow_links = true, or pass --follow-links, to fetch "
        f"{'its page' if count == 1 else 'their pages'})"
    )


def _parse_bytes(
    data: bytes,
    origin: str | None,
    *,
    hint: str,
    url: str | None,
    charset: str | None,
    learned: frozenset[str],
) -> list[Article | LinkOnly]:
    if not data.strip():
        raise ParseError("empty")
    if looks_like_feed(data):
        return parse_feed(data, origin, url)
    # HTML in an ASCII-compatible encoding is decoded as a browser would, before any guess
    head = data[:4096].removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    if looks_like_html(head) or hint in _HTML_SUFFIXES or hint in _HTML_TYPES:
        return [parse_page(decode_html(data, charset), origin, url=url)]
    text = decode_bytes(data)
    if not text.strip():
        raise ParseError("empty: only whitespace")
    root = xml_root(text)
    if is_feed_root(root):  # a feed in UTF-16/32 or another encoding the byte sniff cannot read
        return parse_feed(as_utf8_xml(text), origin, url)
    if looks_like_html(text):  # a page in UTF-16 or UTF-32
        return [parse_page(text, origin, url=url)]
    if text.lstrip().startswith("<?xml") or (root and text.rstrip().endswith(">")):
        # markup is never an article's title: say what the document is instead
        found = f"its root element is <{root}>" if root else "no root element found"
        raise ParseError(f"XML document, not an RSS/Atom feed or HTML page ({found})")
    if looks_scraped(text):
        return [parse_scraped(text, origin, learned)]
    return [parse_plaintext(text, origin, learned)]


def _read_capped(path: Path, max_bytes: int) -> bytes:
    try:
        if not path.is_file():
            raise ParseError("no such file" if not path.exists() else "not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ParseError(f"too large: {size} bytes, limit {max_bytes}")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except PermissionError:
        raise ParseError("cannot read: permission denied") from None
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc.__class__.__name__}") from None
    if len(data) > max_bytes:  # grew while we looked
        raise ParseError(f"too large: more than {max_bytes} bytes")
    return data


def _path_items(
    path: Path, *, max_bytes: int, learned: frozenset[str] = frozenset()
) -> list[Article | LinkOnly]:
    origin = str(path)
    try:
        data = _read_capped(path, max_bytes)
    except ParseError as exc:
        raise exc.at(origin) from None
    return _items(data, origin, hint=path.suffix, url=None, charset=None, learned=learned)


def _read_folder(
    paths: list[Path], max_bytes: int, fetching: _Fetching
) -> Iterator[Article | ParseFailure]:
    """The files of one folder, read with the chrome their site repeats in all of them."""
    learned = learn_chrome(_texts(paths, max_bytes)) if len(paths) > 2 else frozenset()
    for path in paths:
        read = partial(_path_items, path, max_bytes=max_bytes, learned=learned)
        yield from _guarded(str(path), read, fetching)


def _texts(paths: list[Path], max_bytes: int) -> Iterator[str]:
    """The text files among `paths` (not feeds or pages), for learning their site's chrome."""
    for path in paths:
        try:
            text = decode_bytes(_read_capped(path, max_bytes))
        except ParseError:
            continue
        if not text.lstrip().startswith("<"):
            yield text


def parse_path(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Article]:
    """Every article in one file (several when it is a feed)."""
    return _articles_only(_path_items(path, max_bytes=max_bytes), str(path))


def parse_file(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """The article in one file; ParseError (naming the file) when there is none, or when the file
    is a feed of several entries (read those with `read_source`)."""
    path = Path(path)
    articles = parse_path(path, max_bytes=max_bytes)
    if len(articles) != 1:
        raise ParseError(f"a feed of {len(articles)} entries, not one article", str(path))
    return articles[0]


@dataclass(frozen=True)
class _Fetching:
    """How URLs are fetched: the source's own, and the pages its headline-only entries link to
    when `follow_links`."""

    max_bytes: int
    timeout: float
    allow_private: PrivatePolicy
    follow_links: bool

    def url_items(self, url: str) -> list[Article | LinkOnly]:
        from digest.sources.fetch import fetch

        fetched = fetch(
            url, timeout=self.timeout, max_bytes=self.max_bytes, allow_private=self.allow_private
        )
        return _items(
            fetched.data, url, hint=fetched.content_type, url=fetched.url, charset=fetched.charset
        )

    def linked(self, origin: str, entries: list[LinkOnly]) -> Iterator[Article | ParseFailure]:
        """The articles behind a feed's headline-only entries, or one line saying why not."""
        if not self.follow_links:
            yield ParseFailure(origin, _headlines_only(len(entries)))
            return
        for entry in entries:
            try:
                page = next(i for i in self.url_items(entry.url) if isinstance(i, Article))
            except StopIteration:
                yield ParseFailure(entry.url, f"linked from {origin}: no article text")
                continue
            except ParseError as exc:
                yield ParseFailure(entry.url, f"linked from {origin}: {exc.reason}")
                continue
            except Exception as exc:  # as in _guarded: a bug costs this page, not the feed
                yield ParseFailure(entry.url, _unexpected(exc))
                continue
            yield _with_feed_fields(page, entry)


def _with_feed_fields(page: Article, entry: LinkOnly) -> Article:
    """The page's text under the feed's headline (a page's <title> often carries the site's
    name), with the feed's date and authors where the page has none."""
    page.title = entry.title
    page.published = page.published or entry.published
    page.authors = page.authors or entry.authors
    page.source_url = page.source_url or entry.url
    return page


def parse_url(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    allow_private: PrivatePolicy = False,
) -> list[Article]:
    """The articles at a feed or page URL (a public one unless `allow_private`)."""
    fetching = _Fetching(max_bytes, timeout, allow_private, follow_links=False)
    return _articles_only(fetching.url_items(url), url)


def read_source(
    source: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    allow_private: PrivatePolicy = False,
    follow_links: bool = False,
) -> Iterator[Article | ParseFailure]:
    """Articles from a folder (recursively, every format, hidden files skipped), a file, or a feed
    or page URL, with a ParseFailure for each input that gave none. Never raises for bad input.
    URLs are fetched from public addresses only unless `allow_private` (see `fetch`). A feed
    entry with only a headline and a link is fetched from its link when `follow_links`, else
    the feed's failure line says how many were left unread."""
    from digest.sources.fetch import is_url

    fetching = _Fetching(max_bytes, timeout, allow_private, follow_links)
    if is_url(source):
        yield from _guarded(source, partial(fetching.url_items, source), fetching)
        return
    root = Path(source)
    if root.is_dir():
        folder: list[Path] = []
        for path in _walk(root):
            if isinstance(path, ParseFailure):
                yield path
                continue
            if folder and path.parent != folder[0].parent:
                yield from _read_folder(folder, max_bytes, fetching)
                folder = []
            folder.append(path)
        yield from _read_folder(folder, max_bytes, fetching)
    elif root.exists() or root.is_symlink():
        yield from _guarded(source, partial(_path_items, root, max_bytes=max_bytes), fetching)
    else:
        yield ParseFailure(source, "no such file, folder or http(s) URL")


def _guarded(
    origin: str, parse: Callable[[], list[Article | LinkOnly]], fetching: _Fetching
) -> Iterator[Article | ParseFailure]:
    try:
        items = parse()
    except ParseError as exc:
        yield ParseFailure(origin, exc.reason)
        return
    except Exception as exc:  # a bug must cost one input, not the run; the reason says so
        yield ParseFailure(origin, _unexpected(exc))
        return
    yield from (item for item in items if isinstance(item, Article))
    entries = [item for item in items if isinstance(item, LinkOnly)]
    if entries:
        yield from fetching.linked(origin, entries)


def _unexpected(exc: Exception) -> str:
    return f"unexpected error: {exc.__class__.__name__}: {exc}"[:200]


def _walk(root: Path) -> Iterator[Path | ParseFailure]:
    """Files under `root` in a stable order; hidden files and folders skipped. Links are followed
    only while they stay inside `root` (itself may be a link): `articles/loop -> ..` would
    otherwise read digest.toml and the subscriber lists as articles. A link out is a failure
    naming it; a folder to read is a source of its own. Each real folder is read once, so a
    second link to a folder reads nothing twice. An unreadable folder is a failure, not a gap."""
    unreadable: list[OSError] = []
    seen: set[tuple[int, int]] = set()
    try:
        seen.add(_folder_id(root))
        inside = root.resolve(strict=True)
    except OSError as exc:
        yield ParseFailure(str(root), f"cannot read folder: {exc.strerror}")
        return
    for folder, dirnames, filenames in os.walk(root, onerror=unreadable.append, followlinks=True):
        while unreadable:
            error = unreadable.pop()
            yield ParseFailure(
                str(error.filename or folder), f"cannot read folder: {error.strerror}"
            )
        kept = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            path = Path(folder) / name
            try:
                folder_id = _folder_id(path)
            except OSError as exc:
                yield ParseFailure(str(path), f"cannot read folder: {exc.strerror}")
                continue
            if not path.resolve().is_relative_to(inside):
                yield ParseFailure(str(path), _LINK_OUT)
                continue
            if folder_id in seen:  # a second way into a folder: nothing is lost
                continue
            seen.add(folder_id)
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.startswith("."):
                path = Path(folder) / name
                if path.is_symlink() and not path.resolve().is_relative_to(inside):
                    yield ParseFailure(str(path), _LINK_OUT)
                else:
                    yield path
    for error in unreadable:
        yield ParseFailure(str(error.filename or root), f"cannot read folder: {error.strerror}")


def _folder_id(path: Path) -> tuple[int, int]:
    """What makes a folder the same folder, however it is reached (through links included)."""
    status = path.stat()
    return status.st_dev, status.st_ino
