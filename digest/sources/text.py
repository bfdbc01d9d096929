"""Bytes to text: the encoding is detected, never assumed.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32); UTF-16/32 without one, recognised by where its
zero bytes fall; UTF-8 (also with a few stray bytes, each replaced where it stands, when the valid
multi-byte characters outnumber them); cp1252 (a superset of latin-1's printable range, and what
"latin-1" files from Windows really are); then latin-1, which decodes anything. HTML pages are
decoded as browsers do (`decode_html`): the HTTP header's charset, a BOM, `<meta charset>`, then
detection. Bytes that are plainly not text (more than one NUL byte in 1,000, many control
characters) are refused; a stray NUL in text is dropped. Line endings come out as `\\n`.
"""

from __future__ import annotations

import codecs
import re

from digest.sources.errors import ParseError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: its BOM starts with UTF-16-LE's
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than whitespace, DEL and the C1 range: rare in text, common in binaries.
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.05
# A text file may carry a stray NUL or two (a bad copy, a padded field); a binary is full of them.
_MAX_NUL_SHARE = 0.001
_SNIFF_BYTES = 512
# <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html; charset=x">, and an
# XHTML page's XML declaration, looked for in the first 1024 bytes as the HTML standard says.
_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""",
    re.IGNORECASE,
)
# The WHATWG encoding standard's readings of common labels: "latin-1" pages are cp1252 pages,
# gb2312 pages are GBK (gb18030 is its superset), and a page cannot declare itself UTF-16.
_WHATWG_LABELS = {
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "utf-16": "utf-8",
    "utf-16le": "utf-8",
    "utf-16be": "utf-8",
    "x-user-defined": "cp1252",
}


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32 without a byte-order mark, told by where the zero bytes fall in text
    that is mostly ASCII (as XML's own encoding sniffing does): `<\\0?\\0` is UTF-16-LE."""
    head = data[:_SNIFF_BYTES]
    if len(head) < 4:
        return None
    markup = _markup_encoding(head)
    if markup and _decodes(data, markup):
        return markup  # a document opening with `<`, as XML's own sniffing reads it
    head = head[: len(head) - len(head) % 4]

    def zero_share(width: int, position: int) -> float:
        column = head[position::width]
        return column.count(0) / len(column)

    layouts = (
        ("utf-32-le", 4, (1, 2, 3), 0),
        ("utf-32-be", 4, (0, 1, 2), 3),
        ("utf-16-le", 2, (1,), 0),
        ("utf-16-be", 2, (0,), 1),
    )
    for encoding, width, zeros, text in layouts:
        mostly_ascii = all(zero_share(width, z) > 0.9 for z in zeros)
        if mostly_ascii and zero_share(width, text) < 0.1 and _decodes(data, encoding):
            return encoding
    return None


def _markup_encoding(head: bytes) -> str | None:
    """The wide encoding of a document opening with `<` after any whitespace (as XML 1.0's
    appendix F sniffs it), however non-ASCII the text after that is. In any other encoding
    those bytes do not decode to `<`: its zero bytes are what tell."""
    for encoding in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
        if head[:64].decode(encoding, "ignore").lstrip().startswith("<"):
            return encoding
    return None


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few stray bytes: more valid multi-byte characters than invalid bytes."""
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    return good > 0 and bad <= good


def detect_encoding(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    wide = _wide_encoding(data)
    if wide:
        return wide
    if data and data.count(0) / len(data) > _MAX_NUL_SHARE:
        raise ParseError("binary content (NUL bytes), not text")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if _mostly_utf8(data):
            return "utf-8"
    else:
        return "utf-8"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def decode_bytes(data: bytes) -> str:
    """The text of `data`, with `\\n` line endings; ParseError if it is not text."""
    return _as_text(data, detect_encoding(data))


def decode_html(data: bytes, charset: str | None = None) -> str:
    """An HTML page's text, decoded as a browser would: a BOM, else the HTTP header's `charset`,
    else the page's own `<meta charset>`, else detection. Undecodable bytes are replaced where
    they stand, never a whole-page fallback to another encoding."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _as_text(data, encoding)
    for declared in (charset, _meta_charset(data)):
        codec = _codec(declared)
        if codec:
            return _as_text(data, codec)
    encoding = detect_encoding(data)
    if encoding in ("cp1252", "latin-1"):
        encoding = _detected(data) or encoding
    return _as_text(data, encoding)


def _meta_charset(data: bytes) -> str | None:
    found = _DECLARED_CHARSET.search(data[:1024])
    if not found:
        return None
    return (found.group(1) or found.group(2)).decode("ascii", "replace")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = _WHATWG_LABELS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _detected(data: bytes) -> str | None:
    """charset_normalizer's best reading of an undeclared page that is not UTF-8 (gb2312,
    shift_jis, koi8-r...); None when it finds none."""
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    return _codec(best.encoding) if best is not None else None


def _as_text(data: bytes, encoding: str) -> str:
    text = data.decode(encoding, "replace")
    if text.count("\x00") > len(text) * _MAX_NUL_SHARE:
        raise ParseError("binary content (NUL characters), not text")
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    controls = len(_CONTROL.findall(text))
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        raise ParseError("binary content (control characters), not text")
    return text
