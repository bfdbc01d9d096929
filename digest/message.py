"""A stored issue + a subscriber → the serialised MIME message that goes to them.

`MessageFactory` does everything that is the same for every subscriber once per issue: it splits
the stored (already inlined) HTML and text at their placeholders, and folds and encodes the
constant headers. Per subscriber it only joins strings, quoted-printable-encodes the two parts
(C code in `binascii`) and writes the few personal headers, which is what makes tens of thousands
of messages a minute possible without running premailer or the `email` package's header machinery
per message.

    multipart/alternative; text/plain first, text/html last (the preferred part), UTF-8, QP

No value from data reaches a header raw: control characters (CR/LF included) in names and subjects
are folded into spaces, a name or subject that spells out an RFC 2047 encoded word (`=?…?=`) is
itself encoded (so a mail program shows it as written instead of decoding what it hides), and an
address that is not a plain address is refused. Whatever still cannot be written for one
subscriber is a `BadRecipient`: that row is skipped, the send goes on.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import html as html_lib
import re
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote

from digest.config import Config
from digest.errors import DigestError
from digest.greeting import greeting_name
from digest.models import Issue, Subscriber
from digest.render import ATTRIBUTE_FIELD_PREFIX, PLACEHOLDER_RE
from digest.tokens import (
    TOKEN_PLACEHOLDER,
    bounce_address,
    make_bounce_token,
    make_token,
    preferences_token,
)
from digest.transports.base import Envelope

CRLF = b"\r\n"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
_PLAIN_ASCII = re.compile(r"^[\x20-\x7e]*$")
# local@domain with no whitespace, brackets, quotes or commas that could smuggle a second address
_ADDRESS = re.compile(r"^[^\s<>()\[\],;:\"@\\]+@[^\s<>()\[\],;:\"@\\]+$")
MAX_NAME = 120


class BadRecipient(DigestError):
    """A subscriber whose address cannot be written into a message header."""


def one_line(value: str, limit: int | None = None) -> str:
    """The value with every control character (CR, LF, tab, NUL, …) folded into one space."""
    value = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return value[:limit].rstrip() if limit else value


def header_address(email: str) -> str:
    """`email` as it may appear in a header and in RCPT TO, or BadRecipient."""
    address = email.strip()
    if not _ADDRESS.match(address) or _CONTROL.search(address):
        raise BadRecipient(f"{one_line(email, 80)!r}: not a valid email address")
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise BadRecipient(f"{address}: addresses with non-ASCII before the @ are not supported")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise BadRecipient(f"{address}: the domain is not a valid name") from None
    return f"{local}@{domain}"


def _fold(name: str, value: str) -> bytes:
    """An unstructured header, folded and RFC 2047-encoded by the standard library (slow; used
    once per issue). A value spelling out an encoded word is encoded whole: the standard library
    would decode it, CR/LF included, and write the result."""
    if "=?" in value:
        return f"{name}: {_encoded_words(value, name)}\r\n".encode("ascii")
    header = policy.SMTP.header_factory(name, value)
    return header.fold(policy=policy.SMTP).encode("ascii")


def _encoded_words(text: str, header_name: str) -> str:
    """`text` as folded RFC 2047 encoded words, which a mail program decodes to exactly `text`.
    A lone surrogate (no UTF-8 form) raises UnicodeEncodeError, a ValueError."""
    return Header(text, "utf-8", header_name=header_name).encode(linesep="\r\n")


def _address_header(header: str, name: str, address: str) -> bytes:
    """`Header: name <address>` (or the bare address). A name that is not plain ASCII, or that
    holds `=?` and so could be read as an encoded word, is always RFC 2047-encoded."""
    if not name:
        return f"{header}: {address}\r\n".encode()
    if "=?" not in name and _PLAIN_ASCII.match(name):
        line = f"{header}: {formataddr((name, address))}\r\n"
        if len(line) <= 78:
            return line.encode()
    phrase = _encoded_words(name, header)
    last_line = phrase.rpartition("\n")[2] if "\n" in phrase else f"{header}: {phrase}"
    gap = " " if len(last_line) + len(address) + 3 <= 78 else "\r\n "
    return f"{header}: {phrase}{gap}<{address}>\r\n".encode("ascii")


def _split(template: str) -> list[str]:
    """['literal', 'field', 'literal', 'field', …, 'literal']: re.split keeps the group."""
    return PLACEHOLDER_RE.split(template)


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends, lines ≤ 76 characters. A leading dot is encoded, so
    the body survives SMTP untouched."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\n", CRLF)


def _qp_piece(text: str) -> bytes:
    """`_qp(text)` ready to be followed by a soft line break ("=" CRLF): its last line is kept
    to 75 characters so that the "=" still fits in 76."""
    encoded = _qp(text)
    start = encoded.rfind(CRLF) + 2 if CRLF in encoded else 0
    last = encoded[start:]
    while len(last) > 75:
        cut = 75
        # never split an "=XX" escape
        for back in (1, 2):
            if last[cut - back : cut - back + 1] == b"=":
                cut -= back
                break
        encoded = encoded[: start + cut] + b"=" + CRLF + last[cut:]
        start += cut + 3
        last = encoded[start:]
    return encoded


class _QPTemplate:
    """A part's body, quoted-printable-encoded once; per recipient only the values are encoded.

    Pieces are joined with soft line breaks, which decoding removes, so the decoded part is
    exactly the template with the values substituted, and every line stays within 76."""

    def __init__(self, template: str) -> None:
        pieces = _split(template)
        self.literals = [_qp_piece(piece) for piece in pieces[0::2]]
        self.fields = pieces[1::2]

    def fill(self, values: dict[str, str]) -> bytes:
        out = [self.literals[0]]
        for field, literal in zip(self.fields, self.literals[1:], strict=True):
            value = values[field]
            if value:
                out += [_SOFT_BREAK, _qp_piece(value)]
            out += [_SOFT_BREAK, literal]
        return b"".join(out)


_SOFT_BREAK = b"=" + CRLF


def message_id(issue: Issue, email: str, domain: str) -> str:
    """The same for every copy of this issue sent to this address (a resend is recognisable,
    and a bounce quoting it names its recipient), also after the signing secret is rotated;
    keyed with the issue's own random key, so nobody can compute another reader's (an issue
    stored before it had one keeps its Message-IDs: keyed with its creation time alone)."""
    key = f"{issue.id}\0{issue.key}\0{issue.created.isoformat()}"
    if issue.message_id_key:
        key += f"\0{issue.message_id_key}"
    mac = hmac.new(
        key.encode(),
        f"message-id\0{issue.id}\0{issue.key}\0{email.strip().lower()}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"<digest.{issue.id}.{mac[:32]}@{domain}>"


class MessageFactory:
    """Builds each subscriber's message for one issue. Compile once per issue, then call
    `envelope(subscriber)` (the fast path) for every recipient."""

    def __init__(self, issue: Issue, config: Config, secret: bytes) -> None:
        self.issue = issue
        self.config = config
        self._secret = secret
        from_name, from_addr = parseaddr(one_line(config.from_address))
        self.sender = header_address(from_addr)
        self.domain = self.sender.rpartition("@")[2]
        # the envelope sender: bounces go there, and mailto: unsubscribes (config validated it)
        self._bounce_template = config.bounce_address
        self.base_url = config.base_url.rstrip("/")
        self._html = _split(issue.html)
        self._text = _split(issue.text)
        self._html_qp = _QPTemplate(issue.html)
        self._text_qp = _QPTemplate(issue.text)
        digest_of_issue = hashlib.sha256(f"{issue.id}\0{issue.key}".encode()).hexdigest()
        # "=_" never occurs in quoted-printable output, so no body line can equal the boundary
        self._boundary = f"=_digest_{digest_of_issue[:24]}"

        common = [
            _address_header("From", one_line(from_name), self.sender),
            _fold("Subject", one_line(issue.subject, 900)),
        ]
        if config.reply_to:
            reply_name, reply_addr = parseaddr(one_line(config.reply_to))
            common.append(
                _address_header("Reply-To", one_line(reply_name), header_address(reply_addr))
            )
        common.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
        # RFC 3834: auto-responders (vacation replies, out-of-office) must not answer; the
        # old Precedence header is still what many of them look at
        common.append(b"Auto-Submitted: auto-generated\r\n")
        common.append(b"Precedence: bulk\r\n")
        common.append(b"MIME-Version: 1.0\r\n")
        # folded: every header line within 78 characters where a space allows it
        common.append(
            f'Content-Type: multipart/alternative;\r\n boundary="{self._boundary}"\r\n'.encode()
        )
        self._common_headers = b"".join(common)
        self._part_headers = {
            subtype: (
                f"--{self._boundary}\r\n"
                f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            ).encode()
            for subtype in ("plain", "html")
        }
        self._closing = f"--{self._boundary}--\r\n".encode()
        self._list_ids: dict[str, bytes] = {}
        self._date = (0, b"")
        self._preferences = "preferences_url" in {*self._html[1::2], *self._text[1::2]}
        # `recipient.attributes.KEY` placeholders the templates use: field → the CSV column
        self._attribute_fields = {
            field: field.removeprefix(ATTRIBUTE_FIELD_PREFIX)
            for field in {*self._html[1::2], *self._text[1::2]}
            if field.startswith(ATTRIBUTE_FIELD_PREFIX)
        }

    # -- per subscriber -------------------------------------------------------------------------

    def personal_values(self, subscriber: Subscriber) -> dict[str, str]:
        """The raw (unescaped) values for the placeholders."""
        name = one_line(subscriber.name, MAX_NAME)
        first = greeting_name(name)
        values = {
            "name": name,
            "first_name": first,
            # the greeting's " Ada" (templates write `Hello{{ recipient.space_name }},`)
            "space_name": f" {first}" if first else "",
            "unsubscribe_url": self.unsubscribe_url(subscriber),
            # an older project's templates may have no preferences link: no token to make
            "preferences_url": self.preferences_url(subscriber) if self._preferences else "",
            "web_url": f"{self.base_url}/issues/{self.issue.id}",
        }
        if self._attribute_fields:
            attributes = subscriber.attributes
            for field, key in self._attribute_fields.items():
                values[field] = attributes.get(key, "")
        return values

    def token(self, subscriber: Subscriber) -> str:
        return make_token(self._secret, subscriber.email, subscriber.list)

    def unsubscribe_url(self, subscriber: Subscriber) -> str:
        return f"{self.base_url}/unsubscribe?token={quote(self.token(subscriber), safe='.-_~')}"

    def preferences_url(self, subscriber: Subscriber) -> str:
        token = preferences_token(self._secret, subscriber.email, subscriber.list)
        return f"{self.base_url}/preferences?token={quote(token, safe='.-_~')}"

    def message_id(self, subscriber: Subscriber) -> str:
        return message_id(self.issue, subscriber.email, self.domain)

    def envelope_sender(self, subscriber: Subscriber) -> str:
        """The Return-Path: the bounce address, with this recipient's token in it when it has a
        `{token}` (VERP); the From address when no bounce address is configured."""
        if not self._bounce_template:
            return self.sender
        if TOKEN_PLACEHOLDER not in self._bounce_template:
            return self._bounce_template
        token = make_bounce_token(self._secret, self.issue.id, subscriber.email)
        return bounce_address(self._bounce_template, token)

    def html(self, subscriber: Subscriber) -> str:
        return self._fill(self._html, self.personal_values(subscriber), escape_html=True)

    def text(self, subscriber: Subscriber) -> str:
        return self._fill(self._text, self.personal_values(subscriber), escape_html=False)

    @staticmethod
    def _fill(pieces: list[str], values: dict[str, str], *, escape_html: bool) -> str:
        out = pieces[:]
        for i in range(1, len(out), 2):
            value = values[out[i]]
            out[i] = html_lib.escape(value, quote=True) if escape_html else value
        return "".join(out)

    @staticmethod
    def _html_values(values: dict[str, str]) -> dict[str, str]:
        return {key: html_lib.escape(value, quote=True) for key, value in values.items()}

    def _list_id(self, list_name: str) -> bytes:
        cached = self._list_ids.get(list_name)
        if cached is None:
            label = re.sub(r"[^a-z0-9-]+", "-", list_name.lower()).strip("-") or "default"
            cached = _address_header(
                "List-Id", one_line(self.config.name), f"{label}.{self.domain}"
            )
            self._list_ids[list_name] = cached
        return cached

    def _date_header(self) -> bytes:
        now = int(time.time())
        if self._date[0] != now:
            # "+0000": RFC 5322 made the "GMT" zone name obsolete
            date = format_datetime(datetime.fromtimestamp(now, UTC))
            self._date = (now, f"Date: {date}\r\n".encode())
        return self._date[1]

    def envelope(self, subscriber: Subscriber) -> Envelope:
        """The subscriber's message, serialised for SMTP (CRLF line ends); BadRecipient when the
        subscriber's data cannot be written into one."""
        address = header_address(subscriber.email)
        try:
            return self._envelope(subscriber, address)
        except ValueError as exc:  # UnicodeError included: a lone surrogate in a name, say
            reason = one_line(str(exc), 120)
            raise BadRecipient(
                f"the name or an attribute cannot be written into a message ({reason})"
            ) from None

    def _list_unsubscribe(self, url: str, envelope_sender: str) -> bytes:
        """The web link, and with a bounce address the mailto: that `digest bounces` reads (the
        From address is not a mailbox anything reads, so without one there is no mailto:)."""
        if not self._bounce_template:
            return f"List-Unsubscribe: <{url}>\r\n".encode()
        token = url.rpartition("token=")[2]
        return (
            f"List-Unsubscribe: <{url}>,\r\n"
            f" <mailto:{envelope_sender}?subject=unsubscribe%20{token}>\r\n"
        ).encode()

    def _envelope(self, subscriber: Subscriber, address: str) -> Envelope:
        values = self.personal_values(subscriber)
        message_id = self.message_id(subscriber)
        sender = self.envelope_sender(subscriber)
        data = b"".join(
            (
                self._common_headers,
                _address_header("To", values["name"], address),
                self._date_header(),
                f"Message-ID: {message_id}\r\n".encode(),
                self._list_id(subscriber.list),
                self._list_unsubscribe(values["unsubscribe_url"], sender),
                CRLF,
                self._part_headers["plain"],
                self._text_qp.fill(values),
                CRLF,
                self._part_headers["html"],
                self._html_qp.fill(self._html_values(values)),
                CRLF,
                self._closing,
            )
        )
        return Envelope(sender=sender, recipient=address, message_id=message_id, data=data)

    def message(self, subscriber: Subscriber) -> EmailMessage:
        """The same message as `envelope` gives, parsed (for inspection and tests)."""
        parsed = message_from_bytes(self.envelope(subscriber).data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed
