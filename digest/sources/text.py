"""Bytes to text: the encoding is detected, never assumed.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32), then strict UTF-8, then cp1252 (a superset of
latin-1's printable range, and what "latin-1" files from Windows really are), then latin-1, which
decodes anything. Bytes that are plainly not text (NUL bytes, many control characters) are refused.
Line endings come out as `\\n`.
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
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.05


def detect_encoding(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    if b"\x00" in data[:8192]:
        raise ParseError("binary content (NUL bytes), not text")
    for encoding in ("utf-8", "cp1252"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def decode_bytes(data: bytes) -> str:
    """The text of `data`, with `\\n` line endings; ParseError if it is not text."""
    encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise ParseError(f"not valid {encoding} text") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        raise ParseError("binary content (NUL characters), not text")
    controls = len(_CONTROL.findall(text))
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        raise ParseError("binary content (control characters), not text")
    return text
