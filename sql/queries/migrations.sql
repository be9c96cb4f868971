-- Bookkeeping for common/db/migrations.py.

-- Held until the transaction ends (works behind PgBouncer's transaction mode).
-- name: lock_migrations!
SELECT pg_advisory_xact_lock(:key);

-- name: create_migrations_table!
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- name: applied_migrations
SELECT version, name, applied_at FROM schema_migrations ORDER BY version;

-- name: record_migration!
INSERT INTO schema_migrations (version, name) VALUES (:version, :name);
