-- Statements SQLite spells its own way; the aggregates ask for them by name.

-- name: reset_identities
SELECT 1
