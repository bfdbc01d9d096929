"""The bounce mailbox, behind one interface: a Maildir folder, an mbox file, or an IMAP mailbox.

    for message in source:        # every message still in the mailbox
        ...                        # recognised and applied
        source.done(message)       # handled: never read again
    source.close()                 # what close commits (mbox, IMAP) is kept

Handled messages are moved, never deleted, so a person can look at what was done:
- Maildir: renamed into its `.Processed` subfolder (Maildir++), flagged seen: atomic per message;
- mbox: under the mailbox's lock (fcntl and a dot-lock, as MTAs take it), rewritten at close
  with only the messages left unhandled, through a temporary file renamed into place;
- IMAP: flagged \\Seen and moved (MOVE, else COPY + \\Deleted + UID EXPUNGE) into the
  mailbox's `Processed` child at close; read with BODY.PEEK, so what is left stays unread.
Unhandled messages stay exactly as they were.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import os
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from digest.errors import EXIT_PARTIAL, DigestError

PROCESSED = "Processed"
PASSWORD_VARIABLE = "DIGEST_IMAP_PASSWORD"


class BounceSourceError(DigestError):
    """The bounce mailbox cannot be read at all (a usage or configuration problem: exit 2)."""


class BounceSourceUnavailable(DigestError):
    """The bounce mailbox could not be reached this time (a server down, a lock held): exit 1,
    the next run tries again."""

    exit_code = EXIT_PARTIAL


@dataclass(frozen=True)
class Item:
    """One message: `name` says which in a line (its file, its number, its UID)."""

    name: str
    data: bytes
    key: str
    error: str = ""  # why it could not be read (it stays where it is)


class BounceSource:
    description: str

    def __iter__(self) -> Iterator[Item]:
        raise NotImplementedError

    def done(self, item: Item) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Commit what `done` marked (mbox, IMAP) and let go of the mailbox."""

    def __enter__(self) -> BounceSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(
    spec: str,
    *,
    base: Path,
    allow_plaintext: bool = False,
    ca_file: str = "",
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> BounceSource:
    """The mailbox `spec` names: `imaps://user@host[:port]/MAILBOX` (or `imap://` when
    `allow_plaintext`), else a path (relative to `base`) to a Maildir folder or an mbox file."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", spec):
        return IMAPSource.from_url(
            spec,
            allow_plaintext=allow_plaintext,
            ca_file=ca_file,
            timeout=timeout,
            env=os.environ if env is None else env,
        )
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base / path
    if path.is_dir():
        if not ((path / "cur").is_dir() and (path / "new").is_dir()):
            raise BounceSourceError(f"{spec}: not a Maildir folder (it has no cur/ and new/)")
        return MaildirSource(path)
    if path.is_file():
        return MboxSource(path)
    raise BounceSourceError(
        f"{spec}: no such Maildir folder or mbox file (or an imaps://user@host/MAILBOX URL)"
    )


# -- Maildir --------------------------------------------------------------------------------------


class MaildirSource(BounceSource):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self.processed = path / f".{PROCESSED}"

    def __iter__(self) -> Iterator[Item]:
        for sub in ("new", "cur"):
            try:
                names = sorted(os.listdir(self.path / sub))
            except OSError as exc:
                raise BounceSourceError(f"{self.path / sub}: cannot read: {exc.strerror}") from None
            for name in names:
                if name.startswith("."):
                    continue
                try:
                    data = (self.path / sub / name).read_bytes()
                except FileNotFoundError:
                    continue  # moved away meanwhile (another reader)
                except OSError as exc:
                    yield Item(f"{sub}/{name}", b"", f"{sub}/{name}", str(exc.strerror))
                    continue
                yield Item(f"{sub}/{name}", data, f"{sub}/{name}")

    def done(self, item: Item) -> None:
        try:
            for sub in ("new", "cur", "tmp"):
                (self.processed / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.processed / "maildirfolder").touch()
        except OSError as exc:
            raise BounceSourceError(f"{self.processed}: cannot create: {exc.strerror}") from None
        base, _, info = item.key.partition("/")[2].partition(":2,")
        flags = "".join(sorted(set(info) | {"S"}))
        try:
            os.rename(self.path / item.key, self.processed / "cur" / f"{base}:2,{flags}")
        except FileNotFoundError:
            pass  # another reader moved it first; the store counted it once
        except OSError as exc:
            raise BounceSourceError(
                f"{self.path / item.key}: cannot move it into {self.processed}: {exc.strerror}"
            ) from None


# -- mbox -----------------------------------------------------------------------------------------


class MboxSource(BounceSource):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        with path.open("rb") as f:
            start = f.read(5)
        if start and start != b"From ":
            raise BounceSourceError(f"{path}: not an mbox file (it does not start with 'From ')")
        self._box = mailbox.mbox(path, create=False)
        try:
            self._box.lock()
        except mailbox.ExternalClashError:
            raise BounceSourceUnavailable(
                f"{path}: locked by another program (a delivery in progress?); try again later"
            ) from None
        except OSError as exc:
            raise BounceSourceError(f"{path}: cannot lock: {exc.strerror}") from None
        self._done: list[str] = []
        # the mailbox's own keys (numbers, whatever typeshed says), by the text Item carries
        self._keys = {str(key): key for key in self._box.iterkeys()}

    def __iter__(self) -> Iterator[Item]:
        for number, (name, key) in enumerate(self._keys.items(), start=1):
            yield Item(f"message {number}", self._box.get_bytes(key), name)

    def done(self, item: Item) -> None:
        self._done.append(item.key)

    def close(self) -> None:
        try:
            for name in self._done:
                self._box.remove(self._keys[name])
            if self._done:
                self._box.flush()  # a temporary file renamed over the mailbox
        except OSError as exc:
            raise BounceSourceError(
                f"{self.path}: cannot rewrite it without the handled messages: {exc.strerror}"
            ) from None
        finally:
            self._done = []
            self._box.unlock()
            self._box.close()


# -- IMAP -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _connection_errors(where: str, doing: str) -> Iterator[None]:
    """A connection lost or a command refused mid-session: the next run tries again."""
    try:
        yield
    except (OSError, imaplib.IMAP4.error) as exc:
        raise BounceSourceUnavailable(f"{where}: {doing} failed: {exc}") from None


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class IMAPSource(BounceSource):
    def __init__(
        self,
        client: imaplib.IMAP4,
        mailbox_name: str,
        description: str,
    ) -> None:
        self.client = client
        self.mailbox = mailbox_name
        self.description = description
        self._done: list[str] = []

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
                client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    host, port or 993, ssl_context=context, timeout=timeout
                )
            else:
                client = imaplib.IMAP4(host, port or 143, timeout=timeout)
        except ssl.SSLError as exc:
            raise BounceSourceError(f"{where}: TLS failed: {exc.reason or exc}") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise BounceSourceUnavailable(f"{where}: cannot connect: {reason}") from None
        try:
            client.login(user, password)
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise BounceSourceUnavailable(f"{where}: LOGIN failed: {exc}") from None
        except imaplib.IMAP4.error:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()
            raise BounceSourceError(
                f"{where}: the server refused the login for {user} (check {PASSWORD_VARIABLE})"
            ) from None
        with _connection_errors(where, "SELECT"):
            status, _ = client.select(_quoted(mailbox_name))
        if status != "OK":
            client.logout()
            raise BounceSourceError(f"{where}: no mailbox {mailbox_name!r} on the server")
        return cls(client, mailbox_name, where)

    def _uid(self, *args: str) -> list[object]:
        with _connection_errors(self.description, args[0]):
            status, data = self.client.uid(*args)
        if status != "OK":
            raise BounceSourceUnavailable(f"{self.description}: {args[0]} refused: {data!r}")
        return list(data)

    def __iter__(self) -> Iterator[Item]:
        (found,) = self._uid("SEARCH", "UNDELETED") or [b""]
        for uid in found.decode().split() if isinstance(found, bytes) else []:
            data = b""
            for piece in self._uid("FETCH", uid, "(BODY.PEEK[])"):
                if isinstance(piece, tuple):
                    data = piece[1]
            yield Item(f"UID {uid}", data, uid)

    def done(self, item: Item) -> None:
        self._done.append(item.key)

    def _capabilities(self) -> set[str]:
        """What the server offers once logged in (imaplib keeps only the greeting's list)."""
        status, data = self.client.capability()
        words = data[0].decode().upper().split() if status == "OK" and data and data[0] else []
        return {*words, *self.client.capabilities}

    def _processed_mailbox(self) -> str:
        """`MAILBOX<delimiter>Processed`, created when missing."""
        status, data = self.client.list('""', _quoted(self.mailbox))
        delimiter = "/"
        if status == "OK" and data and isinstance(data[0], bytes):
            match = re.match(rb'\(.*?\) (?:"(.)"|NIL)', data[0])
            if match and match.group(1):
                delimiter = match.group(1).decode()
        name = f"{self.mailbox}{delimiter}{PROCESSED}"
        self.client.create(_quoted(name))  # "already exists" is a NO, and fine
        return name

    def close(self) -> None:
        try:
            with _connection_errors(self.description, "moving the handled messages"):
                self._move_done()
        finally:
            self._done = []
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self.client.logout()

    def _move_done(self) -> None:
        if self._done:
            uids = ",".join(self._done)
            target = _quoted(self._processed_mailbox())
            self._uid("STORE", uids, "+FLAGS.SILENT", "(\\Seen)")
            capabilities = self._capabilities()
            if "MOVE" in capabilities:
                self._uid("MOVE", uids, target)
            else:
                self._uid("COPY", uids, target)
                self._uid("STORE", uids, "+FLAGS.SILENT", "(\\Deleted)")
                if "UIDPLUS" in capabilities:
                    self._uid("EXPUNGE", uids)
                else:
                    self.client.expunge()
