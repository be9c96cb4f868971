-- The bench's own queries: which server processes to measure.

-- name: database_backend_pids
-- PostgreSQL backends serving this database, other than the asking one.
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid();
