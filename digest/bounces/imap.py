"""The bounce mailbox on an IMAP server, which is trusted with nothing.

imaplib believes what the server says: a literal of any size is read into memory at once (a
lying server's `{99999999999}` is a MemoryError), a socket timeout applies to each read, so a
server that drips a byte now and then holds a session forever, and a SEARCH answer is split into
whatever it holds. So here:
- every line the server sends is at most `LINE_LIMIT` bytes, every literal at most
  `MAX_MESSAGE_BYTES` and a little, and one operation reads at most `OPERATION_BYTES`;
- every operation (connecting with the greeting, LOGIN, SELECT, each SEARCH, FETCH, STORE,
  MOVE…) has one deadline, `timeout` seconds, whatever the server drips;
- a UID is a number from 1 to 2³²−1; anything else in a SEARCH answer (`1:*`, `abc`) is named
  and ignored, and a FETCH answer counts only for the UID it was asked for, so a STORE or MOVE
  names exactly the messages that were read and handled;
- a message's size is asked first (RFC822.SIZE): one over `MAX_MESSAGE_BYTES` is read only as
  far as its head, to be quarantined.
A server that breaks any of this ends the session as unavailable (exit 1, nothing moved that
was not handled); the next run tries again.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from digest.bounces.guard import MAX_MESSAGE_BYTES
from digest.bounces.source_api import (
    PROCESSED,
    QUARANTINE,
    BounceSource,
    BounceSourceError,
    BounceSourceUnavailable,
    Item,
)

PASSWORD_VARIABLE = "DIGEST_IMAP_PASSWORD"
LINE_LIMIT = 2 * 1024 * 1024
LITERAL_LIMIT = MAX_MESSAGE_BYTES + 64 * 1024
OPERATION_BYTES = 2 * LITERAL_LIMIT
HEAD_BYTES = 64 * 1024  # what is read of a message too large to be a report
SIZES_PER_FETCH = 500

_UID = re.compile(r"[1-9][0-9]{0,9}")
_UID_MAX = 2**32 - 1
_FETCH_UID = re.compile(rb"\bUID (\d{1,10})\b")
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d{1,12})\b")


def valid_uid(text: str) -> bool:
    return bool(_UID.fullmatch(text)) and int(text) <= _UID_MAX


class BoundedIMAP4(imaplib.IMAP4):
    """imaplib's client reading the socket itself, within a size cap and a deadline per
    operation (`begin` starts one; the connection and greeting are the first)."""

    def __init__(self, *args: Any, seconds: float, **kwargs: Any) -> None:
        self.seconds = seconds
        self._buffer = bytearray()  # what was received and not yet read
        self.begin()
        super().__init__(*args, **kwargs)

    def begin(self) -> None:
        self._deadline = time.monotonic() + self.seconds
        self._received = 0

    def _fill(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self.abort(f"no complete answer within {self.seconds:g} s")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(64 * 1024)
        except TimeoutError:
            raise self.abort(f"no complete answer within {self.seconds:g} s") from None
        if not chunk:
            raise self.abort("the server closed the connection")
        self._received += len(chunk)
        if self._received > OPERATION_BYTES:
            raise self.abort(f"the server sent more than {OPERATION_BYTES} bytes for one command")
        self._buffer += chunk

    def readline(self) -> bytes:
        start = 0
        while (end := self._buffer.find(b"\n", start)) < 0:
            if len(self._buffer) > LINE_LIMIT:
                raise self.abort(f"the server sent a line longer than {LINE_LIMIT} bytes")
            start = len(self._buffer)
            self._fill()
        if end >= LINE_LIMIT:
            raise self.abort(f"the server sent a line longer than {LINE_LIMIT} bytes")
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return line

    def read(self, size: int) -> bytes:
        if size > LITERAL_LIMIT:
            raise self.abort(f"the server announced {size} bytes, over the {LITERAL_LIMIT} allowed")
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


class BoundedIMAP4_SSL(BoundedIMAP4, imaplib.IMAP4_SSL):  # noqa: N801 (imaplib's spelling)
    pass


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class IMAPSource(BounceSource):
    def __init__(self, client: BoundedIMAP4, mailbox_name: str, description: str) -> None:
        self.client = client
        self.mailbox = mailbox_name
        self.description = description
        self.quarantine_name = f"{description} (its {QUARANTINE} child)"
        self.problems: list[str] = []  # what the server said that was not believed
        self._done: list[str] = []
        self._quarantined: list[str] = []
        self._broken = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        allow_plaintext: bool,
        ca_file: str,
        timeout: float,
        env: os._Environ[str] | dict[str, str],
    ) -> IMAPSource:
        parts = urlsplit(url)
        usage = "the bounce source must look like imaps://user@host[:port]/MAILBOX"
        try:
            port = parts.port
        except ValueError:
            raise BounceSourceError(f"{url}: the port is not a number; {usage}") from None
        if parts.scheme not in ("imaps", "imap") or not parts.hostname or not parts.username:
            raise BounceSourceError(f"{url}: {usage}")
        if parts.password is not None:
            raise BounceSourceError(
                f"{parts.scheme}://{parts.hostname}: a password in the URL is refused (it would"
                f" show in process lists and logs); put it in {PASSWORD_VARIABLE}"
            )
        if parts.scheme == "imap" and not allow_plaintext:
            raise BounceSourceError(
                f"{url}: imap:// sends the password unencrypted; use imaps://, or for a loopback"
                " test allow it with --allow-plaintext (or `bounces.allow_plaintext = true`)"
            )
        mailbox_name = unquote(parts.path.lstrip("/")) or "INBOX"
        if not mailbox_name.isascii() or any(c in mailbox_name for c in "\r\n\0"):
            raise BounceSourceError(f"{url}: the mailbox name must be plain ASCII")
        password = env.get(PASSWORD_VARIABLE)
        if not password:
            raise BounceSourceError(f"{url}: set the mailbox's password in {PASSWORD_VARIABLE}")
        user, host = unquote(parts.username), parts.hostname
        where = f"{parts.scheme}://{parts.username}@{host}:{port or ''}".rstrip(":")
        where += f"/{mailbox_name}"
        try:
            if parts.scheme == "imaps":
                context = ssl.create_default_context()
                if ca_file:
                    context.load_verify_locations(ca_file)
                client: BoundedIMAP4 = BoundedIMAP4_SSL(
                    host, port or 993, ssl_context=context, timeout=timeout, seconds=timeout
                )
            else:
                client = BoundedIMAP4(host, port or 143, timeout=timeout, seconds=timeout)
        except ssl.SSLError as exc:
            raise BounceSourceError(f"{where}: TLS failed: {exc.reason or exc}") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise BounceSourceUnavailable(f"{where}: cannot connect: {reason}") from None
        try:
            client.begin()
            client.login(user, password)
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise BounceSourceUnavailable(f"{where}: LOGIN failed: {exc}") from None
        except imaplib.IMAP4.error:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()
            raise BounceSourceError(
                f"{where}: the server refused the login for {user} (check {PASSWORD_VARIABLE})"
            ) from None
        source = cls(client, mailbox_name, where)
        try:
            status, _ = source._call("SELECT", client.select, _quoted(mailbox_name))
        except BounceSourceUnavailable:
            source.close()
            raise
        if status != "OK":
            source.close()
            raise BounceSourceError(f"{where}: no mailbox {mailbox_name!r} on the server")
        return source

    def _call(self, doing: str, command: Callable[..., Any], *args: str) -> tuple[str, list[Any]]:
        """One command within its deadline and size caps; a lost, lying or refusing server:
        unavailable (the next run tries again)."""
        if self._broken:
            raise BounceSourceUnavailable(f"{self.description}: the session was given up")
        self.client.begin()
        try:
            status, data = command(*args)
        except (OSError, imaplib.IMAP4.error) as exc:
            self._broken = isinstance(exc, OSError | imaplib.IMAP4.abort)
            raise BounceSourceUnavailable(f"{self.description}: {doing} failed: {exc}") from None
        return str(status), list(data or [])

    def _uid(self, *args: str) -> list[Any]:
        status, data = self._call(args[0], self.client.uid, *args)
        if status != "OK":
            raise BounceSourceUnavailable(f"{self.description}: {args[0]} refused: {data!r:.200}")
        return data

    def _found(self) -> list[str]:
        """The UIDs SEARCH names, each a valid UID; anything else is named and left alone."""
        words: list[str] = []
        for line in self._uid("SEARCH", "UNDELETED"):
            if isinstance(line, bytes):
                words += line.decode("ascii", "replace").split()
        valid = [word for word in words if valid_uid(word)]
        if bad := [word for word in words if not valid_uid(word)]:
            shown = ", ".join(repr(word[:40]) for word in bad[:5])
            self.problems.append(
                f"{self.description}: the server's SEARCH answer held {len(bad)} that"
                f" {'is' if len(bad) == 1 else 'are'} not a UID ({shown}): ignored"
            )
        return list(dict.fromkeys(valid))

    def _sizes(self, uids: list[str]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for start in range(0, len(uids), SIZES_PER_FETCH):
            asked = uids[start : start + SIZES_PER_FETCH]
            for piece in self._uid("FETCH", ",".join(asked), "(UID RFC822.SIZE)"):
                head = piece[0] if isinstance(piece, tuple) else piece
                uid, size = _FETCH_UID.search(head or b""), _FETCH_SIZE.search(head or b"")
                if uid and size and uid.group(1).decode() in asked:
                    sizes[uid.group(1).decode()] = int(size.group(1))
        return sizes

    def _body(self, uid: str, part: str) -> bytes | None:
        """What FETCH answered for `uid` itself (a literal another UID is ignored)."""
        answer = self._uid("FETCH", uid, f"(UID {part})")
        for number, piece in enumerate(answer):
            if not isinstance(piece, tuple) or len(piece) != 2:
                continue
            after = answer[number + 1] if number + 1 < len(answer) else b""
            said = _FETCH_UID.search(piece[0]) or _FETCH_UID.search(
                after if isinstance(after, bytes) else b""
            )
            if said and said.group(1).decode() == uid and isinstance(piece[1], bytes):
                return piece[1]
        return None

    def __iter__(self) -> Iterator[Item]:
        uids = self._found()
        sizes = self._sizes(uids) if uids else {}
        for uid in uids:
            size = sizes.get(uid)
            if size is None:  # expunged meanwhile, or the server would not say
                self.problems.append(f"{self.description}: UID {uid}: no size given; not read")
                continue
            whole = size <= MAX_MESSAGE_BYTES
            data = self._body(uid, "BODY.PEEK[]" if whole else f"BODY.PEEK[]<0.{HEAD_BYTES}>")
            if data is None:
                yield Item(f"UID {uid}", b"", uid, "the server sent no data for it")
                continue
            yield Item(f"UID {uid}", data, uid, whole=whole)

    def done(self, item: Item) -> None:
        self._done.append(item.key)

    def quarantine(self, item: Item) -> None:
        self._quarantined.append(item.key)

    def _capabilities(self) -> set[str]:
        """What the server offers once logged in (imaplib keeps only the greeting's list)."""
        status, data = self._call("CAPABILITY", self.client.capability)
        words = data[0].decode().upper().split() if status == "OK" and data and data[0] else []
        return {*words, *self.client.capabilities}

    def _child(self, name: str) -> str:
        """`MAILBOX<delimiter>name`, created when missing."""
        status, data = self._call("LIST", self.client.list, '""', _quoted(self.mailbox))
        delimiter = "/"
        if status == "OK" and data and isinstance(data[0], bytes):
            match = re.match(rb'\(.*?\) (?:"(.)"|NIL)', data[0])
            if match and match.group(1):
                delimiter = match.group(1).decode()
        child = f"{self.mailbox}{delimiter}{name}"
        self._call("CREATE", self.client.create, _quoted(child))  # "exists" is a NO, and fine
        return child

    def close(self) -> None:
        try:
            if not self._broken:
                self._move(self._done, PROCESSED, seen=True)
                self._move(self._quarantined, QUARANTINE, seen=False)
        finally:
            self._done = self._quarantined = []
            if not self._broken:
                with contextlib.suppress(OSError, imaplib.IMAP4.error):
                    self.client.begin()
                    self.client.logout()
            with contextlib.suppress(OSError):
                self.client.shutdown()

    def _move(self, uids: list[str], child: str, *, seen: bool) -> None:
        if not uids:
            return
        if not all(valid_uid(uid) for uid in uids):  # only ever what __iter__ validated
            raise BounceSourceUnavailable(f"{self.description}: not a UID set: {uids!r:.200}")
        uid_set = ",".join(uids)
        target = _quoted(self._child(child))
        if seen:
            self._uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Seen)")
        capabilities = self._capabilities()
        if "MOVE" in capabilities:
            self._uid("MOVE", uid_set, target)
        else:
            self._uid("COPY", uid_set, target)
            self._uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)")
            if "UIDPLUS" in capabilities:
                self._uid("EXPUNGE", uid_set)
            else:
                self._call("EXPUNGE", self.client.expunge)
