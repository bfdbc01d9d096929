"""Subscribers: one row per list × address, the source of truth for sends (and sign-ups).

List files (`subscribers/*.csv`) are synced in by `sync_list`: a file's rows are its own
(`origin = 'file'`), and leave the store when they leave the file; rows from anywhere else stay.
A suppression always wins: readers leave suppressed addresses out, or show why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from digest.models import Subscriber
from digest.store.database import Database, Row
from digest.store.sends import subscriber_of
from digest.store.suppressions import email_hash
from digest.store.timeutil import now_utc

FILE_ORIGIN = "file"

_COLUMNS = "s.email, s.name, s.list, s.attributes, s.status, p.reason"
_FROM = "FROM subscribers s LEFT JOIN suppressions p ON p.email_hash = s.email_hash"


def _key(email: str) -> str:
    return email.strip().lower()


def _subscriber(row: Row) -> Subscriber:
    """A row with its status: a suppression's reason wins over the row's own."""
    subscriber = subscriber_of(row)
    subscriber.status = row["reason"] or row["status"]
    return subscriber


class Subscribers:
    db: Database

    def list_fingerprint(self, list_name: str) -> str | None:
        fingerprint: str | None = self.db.scalar(
            "SELECT fingerprint FROM subscriber_files WHERE list = ?", (list_name,)
        )
        return fingerprint

    def sync_list(
        self,
        list_name: str,
        fingerprint: str,
        subscribers: Iterable[Subscriber],
        *,
        drop_missing: bool,
    ) -> bool:
        """Make the store hold a list file's subscribers (the file's name and attributes win
        for the addresses it lists); with `drop_missing`, the rows this file brought in earlier
        and no longer lists leave. Nothing happens if the file is as last synced (another
        process may have just done it). Returns whether anything was written."""
        now = now_utc().isoformat()
        with self.db.transaction(exclusive=f"subscriber list {list_name}"):
            if self.list_fingerprint(list_name) == fingerprint:
                return False
            rows = {
                _key(s.email): (
                    list_name,
                    _key(s.email),
                    s.email,
                    email_hash(s.email),
                    s.name,
                    json.dumps(s.attributes, ensure_ascii=False),
                    FILE_ORIGIN,
                    now,
                    now,
                )
                for s in subscribers
            }
            self.db.executemany(
                """INSERT INTO subscribers (list, email_key, email, email_hash, name, attributes,
                       origin, created, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (list, email_key) DO UPDATE SET email = excluded.email,
                       name = CASE WHEN subscribers.own_name = 1 THEN subscribers.name
                           ELSE excluded.name END,
                       attributes = excluded.attributes,
                       origin = excluded.origin, updated = excluded.updated""",
                list(rows.values()),
            )
            if drop_missing:
                owned = self.db.all(
                    "SELECT email_key FROM subscribers WHERE list = ? AND origin = ?",
                    (list_name, FILE_ORIGIN),
                )
                self.db.executemany(
                    "DELETE FROM subscribers WHERE list = ? AND email_key = ?",
                    [(list_name, row[0]) for row in owned if row[0] not in rows],
                )
            self.db.execute(
                """INSERT INTO subscriber_files (list, fingerprint, synced) VALUES (?, ?, ?)
                   ON CONFLICT (list) DO UPDATE SET fingerprint = excluded.fingerprint,
                       synced = excluded.synced""",
                (list_name, fingerprint, now),
            )
        return True

    def subscribe(self, subscriber: Subscriber, *, origin: str, status: str = "active") -> None:
        """Add (or update) one subscriber that no list file brought: a sign-up, say."""
        now = now_utc().isoformat()
        self.db.execute(
            """INSERT INTO subscribers (list, email_key, email, email_hash, name, attributes,
                   status, origin, created, updated)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (list, email_key) DO UPDATE SET name = excluded.name,
                   attributes = excluded.attributes, status = excluded.status,
                   updated = excluded.updated""",
            (
                subscriber.list,
                _key(subscriber.email),
                subscriber.email,
                email_hash(subscriber.email),
                subscriber.name,
                json.dumps(subscriber.attributes, ensure_ascii=False),
                status,
                origin,
                now,
                now,
            ),
        )

    def subscriber_status(self, email: str, list_name: str) -> str | None:
        """The row's own status on one list (active, pending), or None; suppressions aside."""
        status: str | None = self.db.scalar(
            "SELECT status FROM subscribers WHERE list = ? AND email_key = ?",
            (list_name, _key(email)),
        )
        return status

    def activate_subscriber(
        self,
        email: str,
        list_name: str,
        *,
        lift: str | None = None,
        name: str = "",
        rename: str | None = None,
    ) -> None:
        """Make an address active on a list (a confirmed sign-up, or a list chosen on the
        preferences page), keeping an existing row's name (`name` is a new row's) unless
        `rename` gives the one to take, and lift its suppression if it is for `lift` (a person
        coming back after unsubscribing)."""
        now = now_utc().isoformat()
        with self.db.transaction():
            self.db.execute(
                """INSERT INTO subscribers (list, email_key, email, email_hash, name, status,
                       origin, created, updated)
                   VALUES (?, ?, ?, ?, ?, 'active', 'web', ?, ?)
                   ON CONFLICT (list, email_key) DO UPDATE SET status = 'active',
                       updated = excluded.updated""",
                (list_name, _key(email), email, email_hash(email), rename or name, now, now),
            )
            if rename is not None:
                self.db.execute(
                    "UPDATE subscribers SET name = ? WHERE list = ? AND email_key = ?",
                    (rename, list_name, _key(email)),
                )
            if lift is not None:
                lifted = self.db.execute(
                    "DELETE FROM suppressions WHERE email_hash = ? AND reason = ?",
                    (email_hash(email), lift),
                ).rowcount
                if lifted:
                    # they had left everything and came back for this list: the lists they were
                    # on before stay left, not silently restored with it
                    self.db.execute(
                        """UPDATE subscribers SET status = 'unsubscribed', updated = ?
                           WHERE email_key = ? AND list != ? AND status = 'active'""",
                        (now, _key(email), list_name),
                    )

    def leave_list(self, email: str, list_name: str) -> None:
        """The subscriber left one list on the preferences page: the row stays, `unsubscribed`,
        so that a list file still naming the address does not bring it back."""
        self.db.execute(
            """UPDATE subscribers SET status = 'unsubscribed', updated = ?
               WHERE list = ? AND email_key = ?""",
            (now_utc().isoformat(), list_name, _key(email)),
        )

    def set_own_name(self, email: str, name: str) -> int:
        """The name the subscriber gave themselves, on every list they are on; a list file's
        later sync keeps it (`own_name`). Returns the rows changed."""
        return int(
            self.db.execute(
                """UPDATE subscribers SET name = ?, own_name = 1, updated = ?
               WHERE email_key = ? AND (name <> ? OR own_name = 0)""",
                (name, now_utc().isoformat(), _key(email), name),
            ).rowcount
        )

    def subscriptions(self, email: str) -> dict[str, Subscriber]:
        """An address's rows by list, each with the row's own status (suppressions aside)."""
        found = {}
        for row in self.db.all(
            """SELECT email, name, list, attributes, status FROM subscribers
               WHERE email_key = ? ORDER BY list""",
            (_key(email),),
        ):
            found[row["list"]] = subscriber = subscriber_of(row)
            subscriber.status = row["status"]
        return found

    def remove_subscriber(self, email: str, list_name: str | None = None) -> dict[str, int]:
        """Take an address off one list or all (not a suppression); rows removed per list."""
        where, params = "email_key = ?", [_key(email)]
        if list_name is not None:
            where, params = f"{where} AND list = ?", [*params, list_name]
        with self.db.transaction():
            lists = [
                row[0] for row in self.db.all(f"SELECT list FROM subscribers WHERE {where}", params)
            ]
            self.db.execute(f"DELETE FROM subscribers WHERE {where}", params)
        return dict.fromkeys(lists, 1)

    def list_origins(self, list_name: str) -> dict[str, int]:
        """How many rows of the list each origin brought (file, web, cli, …)."""
        rows = self.db.all(
            "SELECT origin, count(*) FROM subscribers WHERE list = ? GROUP BY origin",
            (list_name,),
        )
        return {str(row[0]): int(row[1]) for row in rows}

    def delete_list(self, list_name: str) -> int:
        """Every row of the list and its file's fingerprint; returns the rows deleted.
        Suppressions and send records stay: they are about people and issues, not lists."""
        with self.db.transaction():
            deleted = self.db.execute(
                "DELETE FROM subscribers WHERE list = ?", (list_name,)
            ).rowcount
            self.db.execute("DELETE FROM subscriber_files WHERE list = ?", (list_name,))
        return int(deleted)

    def subscriber_lists(self) -> list[str]:
        return [
            row[0]
            for row in self.db.all(
                """SELECT list FROM subscribers UNION SELECT list FROM subscriber_files
                   ORDER BY 1"""
            )
        ]

    def subscribers(
        self, list_name: str | None = None, *, status: str | None = None
    ) -> Iterator[Subscriber]:
        """Every subscriber of every list (or one), in list then arrival order, with its status:
        a suppression's reason wins over the row's own. With `status`, only those."""
        conditions: list[str] = []
        params: list[str] = []
        if list_name is not None:
            conditions.append("s.list = ?")
            params.append(list_name)
        if status is not None:
            conditions.append("COALESCE(p.reason, s.status) = ?")
            params.append(status)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        for row in self.db.all(
            f"SELECT {_COLUMNS} {_FROM} {where} ORDER BY s.list, s.rowid", params
        ):
            yield _subscriber(row)

    def active_subscribers(
        self, list_name: str | None = None, *, suppressed: bool = False
    ) -> Iterator[Subscriber]:
        """Everyone to send to: active (not pending confirmation), each address once (the first
        list in name order wins), and not suppressed unless `suppressed` (then with the reason
        as status: the send engine skips and counts them)."""
        seen: set[str] = set()
        for row in self.db.all(
            f"""SELECT {_COLUMNS} {_FROM} WHERE s.status = 'active'
                {"AND s.list = ?" if list_name is not None else ""}
                {"" if suppressed else "AND p.reason IS NULL"}
                ORDER BY s.list, s.rowid""",
            (list_name,) if list_name is not None else (),
        ):
            subscriber = _subscriber(row)
            key = _key(subscriber.email)
            if key not in seen:
                seen.add(key)
                yield subscriber
