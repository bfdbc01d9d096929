"""Articles, and every source that carried each."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from digest.errors import DigestError
from digest.models import Article
from digest.sources.fields import normalise_url
from digest.store.database import Database, Row
from digest.store.timeutil import now_utc


def body_fingerprint(body: str) -> str:
    """Bodies that differ only in case, whitespace or punctuation are the same article."""
    words = re.findall(r"\w+", body.casefold())
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


class Articles:
    db: Database

    def add_article(self, article: Article) -> tuple[int, bool]:
        """Store `article` unless it is already known by URL or body; return (id, added).

        Either way the origin is remembered as one more source that carried the article, and a
        better copy improves the stored one: a date where it had none, the full text where it
        was cut off (a feed's teaser arriving before the page must not hide the page)."""
        url = normalise_url(article.source_url)
        fingerprint = body_fingerprint(article.body)
        with self.db.transaction(exclusive="articles"):
            row = self.db.one(
                "SELECT id, url, published, truncated FROM articles"
                " WHERE body_hash = ? OR (url IS NOT NULL AND url = ?)",
                (fingerprint, url),
            )
            added = row is None
            if row is None:
                published = article.published.astimezone(UTC) if article.published else None
                article_id = int(
                    self.db.scalar(
                        """INSERT INTO articles (url, body_hash, title, headline, authors,
                           published, published_ts, body, truncated, warnings, political_score,
                           added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                        (
                            url,
                            fingerprint,
                            article.title,
                            article.headline,
                            json.dumps(article.authors),
                            published.isoformat() if published else None,
                            published.timestamp() if published else None,
                            article.body,
                            int(article.truncated),
                            json.dumps(article.warnings),
                            article.political_score,
                            now_utc().isoformat(),
                        ),
                    )
                )
            else:
                article_id = int(row["id"])
                self._improve(row, article, url, fingerprint)
            kinds = {article.origin: "origin"} if article.origin else {}
            if url:
                kinds[url] = "url"  # a page read at its own address is an address
            for source, kind in kinds.items():
                self.db.execute(
                    """INSERT INTO article_sources (article_id, source, kind) VALUES (?, ?, ?)
                       ON CONFLICT (article_id, source) DO UPDATE SET kind = 'url'
                       WHERE excluded.kind = 'url'""",
                    (article_id, source, kind),
                )
        return article_id, added

    def _improve(self, row: Row, article: Article, url: str | None, body_hash: str) -> None:
        """Fill what the stored copy lacks from a newer copy of the same article."""
        if row["published"] is None and article.published is not None:
            published = article.published.astimezone(UTC)
            self.db.execute(
                "UPDATE articles SET published = ?, published_ts = ? WHERE id = ?",
                (published.isoformat(), published.timestamp(), row["id"]),
            )
        taken = self.db.one(
            "SELECT 1 FROM articles WHERE body_hash = ? AND id != ?", (body_hash, row["id"])
        )
        if row["truncated"] and not article.truncated and taken is None:
            # the score belonged to the teaser: recomputed from the full text on the next build
            self.db.execute(
                """UPDATE articles SET body = ?, body_hash = ?, title = ?, headline = ?,
                   authors = ?, truncated = 0, warnings = ?, political_score = NULL,
                   url = coalesce(url, ?) WHERE id = ?""",
                (
                    article.body,
                    body_hash,
                    article.title,
                    article.headline,
                    json.dumps(article.authors),
                    json.dumps(article.warnings),
                    url,
                    row["id"],
                ),
            )

    def _article(self, row: Row, sources: list[tuple[str, str]]) -> Article:
        """The stored article with the first origin it came from and the addresses it was
        found at (its own and re-publishers'), so selection can tell the two apart."""
        origins = [source for source, kind in sources if kind == "origin"]
        published = datetime.fromisoformat(row["published"]) if row["published"] else None
        return Article(
            id=row["id"],
            title=row["title"],
            headline=row["headline"],
            body=row["body"],
            authors=json.loads(row["authors"]),
            source_url=row["url"],
            published=published,
            truncated=bool(row["truncated"]),
            warnings=json.loads(row["warnings"]),
            political_score=row["political_score"],
            origin=origins[0] if origins else row["url"],
            sources=[source for source, kind in sources if kind == "url"],
        )

    def article_by_url(self, url: str) -> Article | None:
        """The stored article at `url` (normalised as stored), or one found there."""
        key = normalise_url(url) or url
        found = self.db.scalar(
            "SELECT id FROM articles WHERE url = ? UNION ALL SELECT article_id FROM"
            " article_sources WHERE source = ? AND kind = 'url' LIMIT 1",
            (key, key),
        )
        return self.article(int(found)) if found is not None else None

    def articles_published_between(self, start: datetime, end: datetime) -> list[Article]:
        """Articles with start < published <= end. Undated articles are never in a window."""
        rows = self.db.all(
            """SELECT * FROM articles WHERE published_ts > ? AND published_ts <= ?
               ORDER BY published_ts DESC, id""",
            (start.timestamp(), end.timestamp()),
        )
        sources = self._sources([r["id"] for r in rows])
        return [self._article(r, sources.get(r["id"], [])) for r in rows]

    def find_articles(
        self,
        *,
        text: str = "",
        start: datetime | None = None,
        end: datetime | None = None,
        source: str = "",
        min_score: float | None = None,
        limit: int = 50,
    ) -> list[Article]:
        """Stored articles, newest first: `text` in the title or body (any case), published in
        [start, end), at a URL containing `source`, scored at least `min_score`."""
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        if text:
            where.append("(lower(title) LIKE ? ESCAPE '!' OR lower(body) LIKE ? ESCAPE '!')")
            params += [_contains(text)] * 2
        if start is not None:
            where.append("published_ts >= ?")
            params.append(start.timestamp())
        if end is not None:
            where.append("published_ts < ?")
            params.append(end.timestamp())
        if source:
            where.append("lower(url) LIKE ? ESCAPE '!'")
            params.append(_contains(source))
        if min_score is not None:
            where.append("political_score >= ?")
            params.append(min_score)
        rows = self.db.all(
            f"SELECT * FROM articles WHERE {' AND '.join(where)}"
            " ORDER BY published_ts IS NULL, published_ts DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        sources = self._sources([r["id"] for r in rows])
        return [self._article(r, sources.get(r["id"], [])) for r in rows]

    def new_articles_outside(
        self, start: datetime, end: datetime, *, limit: int = 1000
    ) -> list[Article]:
        """Articles stored since the newest issue was built (all, before the first) that are
        undated or published outside (start, end]: what a build would otherwise drop unsaid."""
        since = self.db.scalar("SELECT max(created) FROM issues")
        rows = self.db.all(
            """SELECT * FROM articles WHERE added > ?
               AND (published_ts IS NULL OR published_ts <= ? OR published_ts > ?)
               ORDER BY id LIMIT ?""",
            (since or "", start.timestamp(), end.timestamp(), limit),
        )
        sources = self._sources([r["id"] for r in rows])
        return [self._article(r, sources.get(r["id"], [])) for r in rows]

    def article(self, article_id: int) -> Article:
        row = self.db.one("SELECT * FROM articles WHERE id = ?", (article_id,))
        if row is None:
            raise DigestError(f"article {article_id}: not in the store")
        return self._article(row, self._sources([article_id]).get(article_id, []))

    def articles_by_ids(self, ids: list[int]) -> list[Article]:
        """The stored articles among `ids` (unknown ids are skipped), in id order."""
        rows = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self.db.all(f"SELECT * FROM articles WHERE id IN ({marks})", chunk)
        sources = self._sources([r["id"] for r in rows])
        return sorted(
            (self._article(r, sources.get(r["id"], [])) for r in rows), key=lambda a: a.id or 0
        )

    def article_origins(self, article_id: int) -> list[str]:
        """Every file, folder entry or feed the article came from, first first."""
        sources = self._sources([article_id]).get(article_id, [])
        return [source for source, kind in sources if kind == "origin"]

    def _sources(self, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
        """(source, kind) of each article, in the order they were recorded."""
        found: dict[int, list[tuple[str, str]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.all(
                "SELECT article_id, source, kind FROM article_sources"
                f" WHERE article_id IN ({marks}) ORDER BY rowid",
                chunk,
            ):
                found.setdefault(row[0], []).append((row[1], row[2]))
        return found

    def set_political_scores(self, scores: Iterable[tuple[int, float]]) -> None:
        with self.db.transaction():
            self.db.executemany(
                "UPDATE articles SET political_score = ? WHERE id = ?",
                [(score, article_id) for article_id, score in scores],
            )

    def count_articles(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM articles"))

    def newest_published(self) -> datetime | None:
        """The publication date of the newest dated article, in UTC."""
        newest = self.db.scalar("SELECT max(published_ts) FROM articles")
        return datetime.fromtimestamp(newest, UTC) if newest is not None else None


def _contains(typed: str) -> str:
    """A LIKE pattern for `typed` anywhere, any case: its % and _ are plain characters (escaped
    with '!', which neither backend's string syntax treats specially)."""
    escaped = typed.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"
