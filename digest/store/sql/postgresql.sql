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

