-- Statements SQLite spells its own way; the aggregates ask for them by name.

-- name: reset_identities
SELECT 1

-- name: claim_batch
-- One sender at a time (the flock): nobody else claims, so no row lock is needed.
UPDATE sends SET worker = ?, lease_until = ?
    WHERE rowid IN (
        SELECT rowid FROM sends
        WHERE issue_id = ? AND status IN ('pending', 'deferred')
            AND (worker IS NULL OR (lease_until < ? AND worker != ?))
        ORDER BY rowid LIMIT ?)
    RETURNING rowid, email, list, name, attributes, attempts, next_try
