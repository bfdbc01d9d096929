"""The bounce mailbox, behind one interface: a Maildir folder, an mbox file, or an IMAP mailbox.

    for message in source:        # every message still in the mailbox
        ...                        # recognised and applied
        source.done(message)       # handled: never read again
        source.quarantine(message) # or: refused (it broke the parser, or cost too much)
    source.close()                 # what close commits (mbox, IMAP) is kept

Handled and quarantined messages are moved, never deleted, so a person can look at them:
- Maildir: renamed into its `.Processed` subfolder (Maildir++), flagged seen, or into
  `.digest-quarantine`, flags kept: atomic per message;
- mbox: under the mailbox's lock (fcntl and a dot-lock, as MTAs take it), rewritten at close
  with only the messages left unhandled, through a temporary file renamed into place; the
  quarantined ones are first appended to the mbox file `NAME.digest-quarantine` beside it;
- IMAP (`imap.py`): flagged \\Seen and moved (MOVE, else COPY + \\Deleted + UID EXPUNGE) into
  the mailbox's `Processed` child at close, the quarantined ones unflagged into its
  `digest-quarantine` child; read with BODY.PEEK, so what is left stays unread.
Unhandled messages stay exactly as they were. No source reads more than `MAX_MESSAGE_BYTES`
of one message: a larger one comes with its first bytes only (`Item.whole` false).
"""

from __future__ import annotations

import mailbox
import os
import re
from collections.abc import Iterator
from pathlib import Path

from digest.bounces.source_api import (
    PROCESSED,
    QUARANTINE,
    BounceSource,
    BounceSourceError,
    BounceSourceUnavailable,
    Item,
    read_capped,
)


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
        from digest.bounces.imap import IMAPSource

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
        self.quarantine_name = str(path / f".{QUARANTINE}")

    def __iter__(self) -> Iterator[Item]:
        for sub in ("new", "cur"):
            try:
                names = sorted(os.listdir(self.path / sub))
            except OSError as exc:
                raise BounceSourceError(f"{self.path / sub}: cannot read: {exc.strerror}") from None
            for name in names:
                if name.startswith("."):
                    continue
                key = f"{sub}/{name}"
                try:
                    with (self.path / key).open("rb") as file:
                        data, whole = read_capped(file)
                except FileNotFoundError:
                    continue  # moved away meanwhile (another reader)
                except OSError as exc:
                    yield Item(key, b"", key, str(exc.strerror))
                    continue
                yield Item(key, data, key, whole=whole)

    def done(self, item: Item) -> None:
        self._move(item, self.processed, seen=True)

    def quarantine(self, item: Item) -> None:
        self._move(item, Path(self.quarantine_name), seen=False)

    def _move(self, item: Item, folder: Path, *, seen: bool) -> None:
        try:
            for sub in ("new", "cur", "tmp"):
                (folder / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            (folder / "maildirfolder").touch()
        except OSError as exc:
            raise BounceSourceError(f"{folder}: cannot create: {exc.strerror}") from None
        base, _, info = item.key.partition("/")[2].partition(":2,")
        flags = "".join(sorted(set(info) | ({"S"} if seen else set())))
        try:
            os.rename(self.path / item.key, folder / "cur" / f"{base}:2,{flags}")
        except FileNotFoundError:
            pass  # another reader moved it first; the store counted it once
        except OSError as exc:
            raise BounceSourceError(
                f"{self.path / item.key}: cannot move it into {folder}: {exc.strerror}"
            ) from None


# -- mbox -----------------------------------------------------------------------------------------


class MboxSource(BounceSource):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self.quarantine_name = f"{path}.{QUARANTINE}"
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
        self._quarantined: list[str] = []
        # the mailbox's own keys (numbers, whatever typeshed says), by the text Item carries
        self._keys = {str(key): key for key in self._box.iterkeys()}

    def __iter__(self) -> Iterator[Item]:
        for number, (name, key) in enumerate(self._keys.items(), start=1):
            data, whole = read_capped(self._box.get_file(key))
            yield Item(f"message {number}", data, name, whole=whole)

    def done(self, item: Item) -> None:
        self._done.append(item.key)

    def quarantine(self, item: Item) -> None:
        self._quarantined.append(item.key)

    def close(self) -> None:
        try:
            self._keep_quarantined()
            for name in self._done + self._quarantined:
                self._box.remove(self._keys[name])
            if self._done or self._quarantined:
                self._box.flush()  # a temporary file renamed over the mailbox
        except OSError as exc:
            raise BounceSourceError(
                f"{self.path}: cannot rewrite it without the handled messages: {exc.strerror}"
            ) from None
        finally:
            self._done = self._quarantined = []
            self._box.unlock()
            self._box.close()

    def _keep_quarantined(self) -> None:
        """Append the quarantined messages, whole, to the quarantine mbox before the mailbox
        loses them: a crash in between leaves a copy in both, never in neither."""
        if not self._quarantined:
            return
        kept = mailbox.mbox(self.quarantine_name, create=True)
        kept.lock()
        try:
            for name in self._quarantined:
                # bytes, never a parsed message: parsing is what it was quarantined for
                kept.add(self._box.get_bytes(self._keys[name], from_=True))
            kept.flush()
            os.chmod(self.quarantine_name, 0o600)
        finally:
            kept.unlock()
            kept.close()
