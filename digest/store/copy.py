"""Moving a project's state from its SQLite file into PostgreSQL: in chunks, each committed, so
an interrupted copy resumes where it stopped (rows already there are skipped), and verified by
counting every table on both sides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from digest.errors import EXIT_PARTIAL, DigestError
from digest.store import Store
from digest.store.database import SQLiteDatabase

# parents before children, so that every foreign key finds its row
TABLES = (
    "articles",
    "article_sources",
    "issues",
    "issue_articles",
    "sends",
    "suppressions",
    "subscribers",
    "subscriber_files",
    "bounces",
    "story_clicks",
)
CHUNK = 1000


class CopyMismatch(DigestError):
    """A table's count differs after the copy: the destination held other rows."""

    exit_code = EXIT_PARTIAL


@dataclass(frozen=True)
class TableCopy:
    table: str
    copied: int  # rows new to the destination in this run
    source: int
    destination: int

    @property
    def verified(self) -> bool:
        return self.source == self.destination


def copy_store(
    source: Store, destination: Store, progress: Callable[[TableCopy], None] | None = None
) -> list[TableCopy]:
    """Copy every row of `source` (a SQLite store) that `destination` lacks; both are at the
    same schema version, having been migrated when opened."""
    if not isinstance(source.db, SQLiteDatabase):
        raise ValueError("the source of a copy is a SQLite store")
    results = []
    for table in TABLES:
        columns = [
            column[0]
            for column in source.db.execute(f"SELECT * FROM {table} LIMIT 0").description
            if column[0] != "rowid"
        ]
        names = ", ".join(columns)
        insert = (
            f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            " ON CONFLICT DO NOTHING"
        )
        copied, after = 0, 0
        # in rowid order: tables ordered by insertion (a send's queue) keep their order
        while rows := source.db.all(
            f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, CHUNK),
        ):
            with destination.db.transaction():
                copied += destination.db.executemany(insert, [tuple(row)[1:] for row in rows])
            after = rows[-1][0]
        result = TableCopy(
            table=table,
            copied=copied,
            source=int(source.db.scalar(f"SELECT count(*) FROM {table}")),
            destination=int(destination.db.scalar(f"SELECT count(*) FROM {table}")),
        )
        if progress is not None:
            progress(result)
        results.append(result)
    # ids were copied as they were: new ones continue after the highest
    destination.db.execute(destination.db.query("reset_identities"))
    return results
