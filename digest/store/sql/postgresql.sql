-- Statements PostgreSQL spells its own way; the aggregates ask for them by name.

-- name: schema_table
CREATE TABLE IF NOT EXISTS digest_schema (
    version INTEGER NOT NULL,
    applied TIMESTAMPTZ NOT NULL DEFAULT now()
)

-- name: schema_version
SELECT coalesce(max(version), 0) FROM digest_schema

-- name: set_schema_version
INSERT INTO digest_schema (version) VALUES (?)

-- name: reset_identities
SELECT setval(pg_get_serial_sequence('articles', 'id'), coalesce(max(id), 0) + 1, false)
    FROM articles;
SELECT setval(pg_get_serial_sequence('issues', 'id'), coalesce(max(id), 0) + 1, false)
    FROM issues


-- name: claim_batch
-- Rows that no live worker holds, each claimed by one worker only: a row another worker is
-- claiming right now is skipped, not waited for.
UPDATE sends SET worker = ?, lease_until = ?
    WHERE rowid IN (
        SELECT rowid FROM sends
        WHERE issue_id = ? AND status IN ('pending', 'deferred')
            AND (worker IS NULL OR (lease_until < ? AND worker != ?))
        ORDER BY rowid LIMIT ?
        FOR UPDATE SKIP LOCKED)
    RETURNING rowid, email, list, name, attributes, attempts, next_try

