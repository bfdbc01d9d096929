"""A real IMAP server for the tests: Debian's dovecot (dovecot-imapd), started in a temporary
folder with its own minimal configuration: loopback only, any user name with one password (each
test takes a new name, so a new, empty mailbox), Maildir storage, plain IMAP and IMAPS with a
certificate from a trustme test CA.

Starting dovecot is quick, stopping it takes seconds: `DovecotServers` keeps one running per
capability list for the whole test process (each pytest-xdist worker has its own).

And a lying one, a socket server on loopback written here (`hostile_imap`)."""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from send_support import free_port

DOVECOT = Path("/usr/sbin/dovecot")
USER = "reader"
PASSWORD = "imap-test-only-password"
# dovecot never gives mail to uid 0: the mailbox belongs to an unprivileged account
MAIL_UID = 65534


@dataclass
class Dovecot:
    folder: Path
    port: int  # plain IMAP
    tls_port: int  # IMAPS
    ca_file: Path  # the test CA that signed the server's certificate
    user: str = USER  # whose mailbox: any name logs in with PASSWORD

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.user, PASSWORD)
        return client

    def append(self, mailbox: str, *messages: bytes) -> None:
        client = self.client()
        try:
            for data in messages:
                status, reply = client.append(mailbox, None, None, data)
                assert status == "OK", reply
        finally:
            client.logout()

    def subjects(self, mailbox: str) -> list[tuple[str, str]]:
        """(subject, flags) of every message in `mailbox`, in UID order."""
        client = self.client()
        try:
            status, _ = client.select(f'"{mailbox}"', readonly=True)
            if status != "OK":
                return []
            _, found = client.uid("SEARCH", "ALL")
            out = []
            for uid in found[0].decode().split():
                _, data = client.uid("FETCH", uid, "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                head, body = data[0]
                subject = body.decode().partition(":")[2].strip()
                out.append((subject, head.decode()))
            return out
        finally:
            client.logout()


@contextmanager
def dovecot_server(capabilities: str = "") -> Iterator[Dovecot]:
    """`capabilities`: what the server advertises instead of its own list (say, no MOVE)."""
    import trustme

    # not under pytest's tmp_path: that is private to root, and the mail user must get in
    folder = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    folder.chmod(0o755)
    try:
        (folder / "mail").mkdir()
        os.chown(folder / "mail", MAIL_UID, MAIL_UID)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(folder / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
        ca.cert_pem.write_to_path(str(folder / "ca.pem"))
        server = Dovecot(folder, free_port(), free_port(), folder / "ca.pem")
        config = folder / "dovecot.conf"
        config.write_text(
            f"""\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
# a wrong password is answered at once, not after dovecot's 2 s against guessing
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{folder}/mail/%u
{f"imap_capability = {capabilities}" if capabilities else ""}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {server.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {server.tls_port}
    ssl = yes
  }}
}}
# no auth penalty (dovecot's delay, up to 15 s, of every login from an address after a failed
# one; the auth process skips it when it cannot reach this socket): one server serves many tests
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_UID} home={folder}/mail/%u
}}
"""
        )
        # output to a file, not a pipe: the daemon keeps its inherited descriptors open
        with (folder / "start.log").open("wb") as log:
            started = subprocess.run(
                [str(DOVECOT), "-c", str(config)], stdout=log, stderr=log, timeout=30
            )
        try:
            if started.returncode:
                output = (folder / "start.log").read_text(errors="replace")
                raise RuntimeError(f"dovecot did not start: {output}")
            _wait_for(server)
            yield server
        finally:
            subprocess.run(
                [str(DOVECOT), "-c", str(config), "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=30,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(server: Dovecot) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            server.client().logout()
            return
        except OSError:
            if time.monotonic() > deadline:
                log = (server.folder / "dovecot.log").read_text(errors="replace")
                raise RuntimeError(f"dovecot did not answer: {log[-2000:]}") from None
            time.sleep(0.1)


class DovecotServers:
    """dovecot servers for a whole test process, one per capability list, started on first
    use; `mailbox()` gives a test one of them with a user of its own, whose mailbox is new."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[Dovecot, ExitStack]] = {}
        self._users = itertools.count(1)

    def mailbox(self, capabilities: str = "") -> Dovecot:
        if capabilities not in self._running:
            stack = ExitStack()
            server = stack.enter_context(dovecot_server(capabilities))
            self._running[capabilities] = (server, stack)
        server, _ = self._running[capabilities]
        return replace(server, user=f"{USER}{next(self._users)}")

    def stop(self) -> None:
        """Stop them all at once: each takes seconds to stop."""
        stopping = [threading.Thread(target=stack.close) for _, stack in self._running.values()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        self._running.clear()


# -- a lying IMAP server ---------------------------------------------------------------------------


@dataclass
class HostileIMAP:
    """A socket server on loopback that speaks enough IMAP for a client to log in, select and
    search, and then lies as `lie` says:
    - "literal": a FETCH of a message's body announces a literal of 99,999,999,999 bytes;
    - "drip": a FETCH of a message's body is answered one byte every 0.2 s, for at most
      `drip_seconds`, then the connection is closed;
    - "uids": SEARCH answers `1 2:* abc 4294967296 3`, and the FETCH of UID 3's body answers
      with UID 7's;
    otherwise it answers truthfully about `messages` (UIDs 1, 2, …). Every command it received
    is in `commands`."""

    messages: list[bytes]
    lie: str
    drip_seconds: float = 20.0
    port: int = 0
    commands: list[str] = field(default_factory=list)

    def uid_search(self) -> str:
        if self.lie == "uids":
            return "1 2:* abc 4294967296 3"
        return " ".join(str(n) for n in range(1, len(self.messages) + 1))

    def answer(self, conn: socket.socket, tag: str, words: list[str]) -> bool:
        """Answer one command; False when the session is over."""
        verb = words[0].upper() if words else ""
        if verb == "UID" and len(words) > 1:
            return self.answer_uid(conn, tag, words[1].upper(), words[2:])
        untagged = {
            "CAPABILITY": "* CAPABILITY IMAP4rev1 MOVE UIDPLUS\r\n",
            "SELECT": f"* {len(self.messages)} EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n",
            "LIST": '* LIST () "." INBOX\r\n',
            "LOGOUT": "* BYE\r\n",
        }.get(verb, "")
        conn.sendall(f"{untagged}{tag} OK {verb} done\r\n".encode())
        return verb != "LOGOUT"

    def answer_uid(self, conn: socket.socket, tag: str, verb: str, args: list[str]) -> bool:
        if verb == "SEARCH":
            conn.sendall(f"* SEARCH {self.uid_search()}\r\n{tag} OK done\r\n".encode())
            return True
        if verb != "FETCH":
            conn.sendall(f"{tag} OK {verb} done\r\n".encode())
            return True
        wanted, items = args[0], " ".join(args[1:]).upper()
        uids = [int(u) for u in wanted.split(",") if u.isdigit()]
        if "RFC822.SIZE" in items:
            lines = [
                f"* {u} FETCH (UID {u} RFC822.SIZE {len(self.messages[u - 1])})\r\n"
                for u in uids
                if 0 < u <= len(self.messages)
            ]
            conn.sendall("".join(lines).encode() + f"{tag} OK done\r\n".encode())
            return True
        if self.lie == "literal":
            conn.sendall(b"* 1 FETCH (UID 1 BODY[] {99999999999}\r\nFrom: nobody\r\n")
            time.sleep(self.drip_seconds)
            return False
        if self.lie == "drip":
            stop = time.monotonic() + self.drip_seconds
            for byte in b"* 1 FETCH (UID 1 BODY[] {100}\r\n" + b"x" * 1000:
                if time.monotonic() > stop:
                    return False
                conn.sendall(bytes([byte]))
                time.sleep(0.2)
            return False
        (uid,) = uids
        said = 7 if self.lie == "uids" and uid == 3 else uid
        data = self.messages[(uid - 1) % len(self.messages)]
        head = f"* {uid} FETCH (UID {said} BODY[] {{{len(data)}}}\r\n".encode()
        conn.sendall(head + data + f")\r\n{tag} OK done\r\n".encode())
        return True

    def serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 MOVE UIDPLUS] hostile ready\r\n")
            for raw in lines:
                line = raw.decode("ascii", "replace").strip()
                self.commands.append(line)
                tag, _, rest = line.partition(" ")
                if not self.answer(conn, tag, rest.split()):
                    return


@contextmanager
def hostile_imap(
    messages: list[bytes], lie: str, drip_seconds: float = 20.0
) -> Iterator[HostileIMAP]:
    server = HostileIMAP(messages, lie, drip_seconds)
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=_quietly, args=(server.serve, conn), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server
    finally:
        listener.close()


def _quietly(serve: Callable[[socket.socket], None], conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        serve(conn)
