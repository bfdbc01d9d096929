"""The schema, as forward migrations shared by both backends.

Append only: a released migration is never edited. Each is written once; the few words the two
dialects spell differently are placeholders filled from the dialect's vocabulary
(`Dialect.words`), so both databases always have the same tables, columns and version numbers.
"""

from __future__ import annotations

TEMPLATES: list[str] = [
    """
    CREATE TABLE articles (
        id {id},
        url TEXT UNIQUE,
        body_hash TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        headline TEXT,
        authors TEXT NOT NULL DEFAULT '[]',
        published TEXT,
        published_ts {float},
        body TEXT NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0,
        warnings TEXT NOT NULL DEFAULT '[]',
        political_score {float},
        added TEXT NOT NULL
    );
    CREATE INDEX articles_published ON articles (published_ts);
    CREATE TABLE article_sources ({rowid}
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        PRIMARY KEY (article_id, source)
    );
    CREATE TABLE issues (
        id {id},
        key TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        created TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'built',
        entries TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE TABLE issue_articles (
        issue_id INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
        article_id INTEGER NOT NULL REFERENCES articles (id),
        position INTEGER NOT NULL,
        PRIMARY KEY (issue_id, article_id)
    );
    CREATE TABLE sends ({rowid}
        issue_id INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        list TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL DEFAULT '{{}}',
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try {float},
        last_reply TEXT,
        updated TEXT,
        PRIMARY KEY (issue_id, email)
    );
    CREATE INDEX sends_status ON sends (issue_id, status);
    CREATE INDEX sends_email ON sends (email, status);
    CREATE TABLE suppressions (
        email_hash TEXT PRIMARY KEY,
        email TEXT,
        reason TEXT NOT NULL,
        list TEXT,
        created TEXT NOT NULL
    );
    """,
    # Which sources are article addresses (its own and those of the sites that re-ran it) and
    # which are origins (a file, a feed's URL with its `?apikey=`): only addresses are ever
    # published. Older rows are origins unless they are the article's own address.
    """
    ALTER TABLE article_sources ADD COLUMN kind TEXT NOT NULL DEFAULT 'origin';
    UPDATE article_sources SET kind = 'url'
        WHERE source = (SELECT url FROM articles WHERE articles.id = article_sources.article_id);
    """,
    # the transport an issue's send started through ("smtp smtp://relay:587", "outbox …")
    "ALTER TABLE issues ADD COLUMN transport TEXT;",
    # The editor's desk (docs/editing.md): an issue is a draft until approved, when its rendered
    # parts are frozen. A "built" issue was frozen already, so it counts as approved; a "held"
    # one was waiting for an editor, as a draft does. The intro is the editor's Markdown; the
    # runners-up are the candidates the selection left out, for the editor to swap in.
    """
    ALTER TABLE issues ADD COLUMN intro TEXT NOT NULL DEFAULT '';
    ALTER TABLE issues ADD COLUMN subject_custom INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE issues ADD COLUMN runners_up TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE issues ADD COLUMN approved_at TEXT;
    ALTER TABLE issues ADD COLUMN send_started TEXT;
    UPDATE issues SET status = 'approved', approved_at = created WHERE status = 'built';
    UPDATE issues SET status = 'draft' WHERE status = 'held';
    UPDATE issues SET send_started = (SELECT min(updated) FROM sends WHERE issue_id = issues.id)
        WHERE status IN ('sending', 'sent');
    """,
    # Several send workers on one issue: a worker leases the rows it claimed (renewed while it
    # works; a dead worker's rows are claimed again once the lease is over), registers itself
    # per issue, and the first one that the relay refuses records why, which stops the others.
    # send_slots is the shared pacing budget: one row per message slot taken in the last hour.
    """
    ALTER TABLE sends ADD COLUMN worker TEXT;
    ALTER TABLE sends ADD COLUMN lease_until {float};
    CREATE INDEX sends_worker ON sends (issue_id, worker);
    ALTER TABLE issues ADD COLUMN stopped TEXT;
    CREATE TABLE send_workers (
        issue_id INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
        worker TEXT NOT NULL,
        started TEXT NOT NULL,
        lease_until {float} NOT NULL,
        PRIMARY KEY (issue_id, worker)
    );
    CREATE TABLE send_slots (taken {float} NOT NULL);
    CREATE INDEX send_slots_taken ON send_slots (taken);
    """,
    # Subscribers in the store, the source of truth that sends and sign-ups share: one row per
    # list × address (email_key is the lower-cased address, email_hash its SHA-256, as the
    # suppressions are keyed). `origin` says which rows a list file owns: only those leave when
    # their row leaves the file. subscriber_files holds each list file's fingerprint as last
    # synced, so an unchanged file is not written again.
    """
    CREATE TABLE subscribers ({rowid}
        list TEXT NOT NULL,
        email_key TEXT NOT NULL,
        email TEXT NOT NULL,
        email_hash TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL DEFAULT '{{}}',
        status TEXT NOT NULL DEFAULT 'active',
        origin TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (list, email_key)
    );
    CREATE INDEX subscribers_hash ON subscribers (email_hash);
    CREATE TABLE subscriber_files (
        list TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        synced TEXT NOT NULL
    );
    """,
    # Bounces, complaints and mailto: unsubscribes read from the bounce mailbox: one row per
    # message × address (message_key: the report's Message-ID, else a hash of its bytes), so a
    # report read twice counts once; soft bounces count toward `bounce_limit` by issue. A
    # suppression keeps its detail (DSN status and diagnostic, feedback type) and when its
    # reason was last set.
    """
    CREATE TABLE bounces ({rowid}
        message_key TEXT NOT NULL,
        email TEXT NOT NULL,
        issue_id INTEGER,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        received TEXT NOT NULL,
        PRIMARY KEY (message_key, email)
    );
    CREATE INDEX bounces_email ON bounces (email, issue_id);
    ALTER TABLE suppressions ADD COLUMN detail TEXT NOT NULL DEFAULT '';
    ALTER TABLE suppressions ADD COLUMN updated TEXT;
    """,
    # The web side's (docs/subscribers.md). rate_events: the sign-up limits every web replica
    # shares, one row per counted event, keyed by a SHA-256 of what is limited (a client's
    # address, an email address) and pruned once older than its window. own_name: the
    # subscriber set their name on the preferences page, so a list file's sync keeps it.
    """
    CREATE TABLE rate_events (
        bucket TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        at {float} NOT NULL
    );
    CREATE INDEX rate_events_key ON rate_events (bucket, key_hash, at);
    CREATE INDEX rate_events_at ON rate_events (bucket, at);
    ALTER TABLE subscribers ADD COLUMN own_name INTEGER NOT NULL DEFAULT 0;
    """,
    # A random key per issue for its Message-IDs (digest.message.message_id). The rest of their
    # key is the id, key and creation time, which a reader could search from their own
    # copy's Message-ID and Date and then compute another reader's; a bounce quoting one proves
    # whose it is only if nobody can. Issues stored before keep '' and their Message-IDs.
    """
    ALTER TABLE issues ADD COLUMN message_id_key TEXT NOT NULL DEFAULT '';
    """,
    # What the bounce mailbox held that could not be acted on, by a hash of its bytes
    # (digest.bounces.guard.fingerprint): a message quarantined (it broke the parser or cost too
    # much) or not recognised (left in place) is never parsed twice. last_seen lets rows of
    # messages long gone be pruned.
    """
    CREATE TABLE bounce_messages (
        digest TEXT PRIMARY KEY,
        verdict TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );
    """,
    # Security (docs/security.md). signing_keys: a fingerprint of every secret that signed links
    # (digest.keys), so a change of secret that would break links already sent is noticed.
    """
    CREATE TABLE signing_keys (
        fingerprint TEXT PRIMARY KEY,
        first_used TEXT NOT NULL,
        retired TEXT
    );
    """,
    # Summaries cached by a hash of what decides them (digest.store.summaries): a rebuild reads
    # them instead of summarising again.
    """
    CREATE TABLE summaries (
        key TEXT PRIMARY KEY,
        sentences TEXT NOT NULL,
        created TEXT NOT NULL
    );
    """,
    # an editor's send time for the issue (`digest issue schedule`), which `digest run` honours
    """
    ALTER TABLE issues ADD COLUMN send_at TEXT;
    """,
    # Follows of counted story links (digest.clicks, docs/stats.md): a count per (issue, story),
    # and the follows set aside (HEAD requests, link scanners). Nothing about who followed.
    """
    CREATE TABLE story_clicks (
        issue_id INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
        story INTEGER NOT NULL,
        clicks INTEGER NOT NULL DEFAULT 0,
        set_aside INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (issue_id, story)
    );
    """,
]


def render(words: dict[str, str]) -> list[str]:
    """The migrations in one dialect's words."""
    return [template.format(**words) for template in TEMPLATES]


# SQLite's spelling: existing databases were created from exactly these scripts.
SQLITE_WORDS = {"id": "INTEGER PRIMARY KEY", "float": "REAL", "rowid": ""}
# PostgreSQL's REAL is 4 bytes, too coarse for Unix times; it has no implicit rowid, so the
# tables ordered by insertion get an identity column of that name.
POSTGRESQL_WORDS = {
    "id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    "float": "DOUBLE PRECISION",
    "rowid": "\n        rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,",
}

MIGRATIONS = render(SQLITE_WORDS)
