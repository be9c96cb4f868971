-- Login sessions. PostgreSQL is the truth; Redis mirrors liveness by id.

-- name: next_session_id$
-- The id goes into the token, and the token's hash into the row.
SELECT nextval(pg_get_serial_sequence('user_sessions', 'id'));

-- name: insert_session!
-- expires_at is the end of the session (the refresh token's lifetime); amr how
-- its owner proved who they are (RFC 8176: pwd, otp, hwk, mfa, ...).
INSERT INTO user_sessions (id, user_id, token_hash, expires_at, user_agent, ip, amr)
VALUES (:session_id, :user_id, :token_hash, :expires_at, :user_agent, :ip, :amr);

-- name: end_user_sessions
UPDATE user_sessions
SET is_active = FALSE, ended_at = now(), end_reason = :reason
WHERE user_id = :user_id AND is_active
RETURNING id, expires_at;

-- name: get_session^
SELECT id, user_id, is_active, expires_at, (is_active AND expires_at > now()) AS live
FROM user_sessions
WHERE id = :session_id;

-- name: end_other_sessions
UPDATE user_sessions
SET is_active = FALSE, ended_at = now(), end_reason = :reason
WHERE user_id = :user_id AND id <> :session_id AND is_active
RETURNING id, expires_at;

-- name: end_session
-- Only the owner's: another user's id ends nothing.
UPDATE user_sessions
SET is_active = FALSE, ended_at = now(), end_reason = :reason
WHERE id = :session_id AND user_id = :user_id AND is_active
RETURNING id, expires_at;

-- name: owns_session$
SELECT EXISTS (SELECT 1 FROM user_sessions WHERE id = :session_id AND user_id = :user_id);

-- name: live_sessions
SELECT id, created_at, last_used_at, user_agent, ip
FROM user_sessions
WHERE user_id = :user_id AND is_active AND expires_at > now()
ORDER BY id DESC;

-- name: insert_refresh_token!
INSERT INTO session_refresh_tokens (token_hash, session_id)
VALUES (:token_hash, :session_id);

-- name: lock_refresh_token^
-- Locks the token and its session: concurrent refreshes of one token, and a
-- refresh racing a logout, run one after the other.
SELECT t.session_id, t.rotated_at, t.sealed_successor,
       (t.rotated_at IS NOT NULL
        AND t.rotated_at > now() - make_interval(secs => :reuse_interval)) AS within_reuse_interval,
       s.user_id, s.expires_at, (s.is_active AND s.expires_at > now()) AS live
FROM session_refresh_tokens t
JOIN user_sessions s ON s.id = t.session_id
WHERE t.token_hash = :token_hash
FOR UPDATE OF t, s;

-- name: rotate_refresh_token!
UPDATE session_refresh_tokens
SET rotated_at = now(), sealed_successor = :sealed_successor
WHERE token_hash = :token_hash;

-- name: extend_session!
UPDATE user_sessions
SET token_hash = :token_hash, expires_at = :expires_at, last_used_at = now()
WHERE id = :session_id;
