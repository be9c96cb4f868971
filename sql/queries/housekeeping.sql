-- Periodic clean-up of spent secrets (common/db/housekeeping.py).

-- name: purge_spent_refresh_tokens$
-- Tokens of sessions that ended or expired can never refresh again; a late
-- presentation of one is then simply unknown, which is the same 401.
WITH purged AS (
    DELETE FROM session_refresh_tokens t
    USING user_sessions s
    WHERE s.id = t.session_id AND (NOT s.is_active OR s.expires_at < now())
    RETURNING 1
)
SELECT count(*) FROM purged;

-- name: purge_stale_password_resets$
WITH purged AS (
    DELETE FROM password_resets
    WHERE expires_at < now() - make_interval(secs => :keep_seconds)
    RETURNING 1
)
SELECT count(*) FROM purged;
