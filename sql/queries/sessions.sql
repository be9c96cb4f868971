-- Login sessions. PostgreSQL is the truth; Redis mirrors liveness by id.

-- name: next_session_id$
-- The id goes into the token, and the token's hash into the row.
SELECT nextval(pg_get_serial_sequence('user_sessions', 'id'));

-- name: insert_session!
INSERT INTO user_sessions (id, user_id, token_hash, expires_at)
VALUES (:session_id, :user_id, :token_hash, :expires_at);

-- name: end_user_sessions
UPDATE user_sessions
SET is_active = FALSE
WHERE user_id = :user_id AND is_active
RETURNING id, expires_at;

-- name: get_session^
SELECT id, user_id, is_active, expires_at, (is_active AND expires_at > now()) AS live
FROM user_sessions
WHERE id = :session_id;
