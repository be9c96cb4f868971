-- Emailed tokens that verify an address or confirm a change of it
-- (common/accounts/email_tokens.py).

-- name: insert_email_token!
INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at)
VALUES (:token_hash, :user_id, :purpose, :email, :expires_at);

-- name: void_email_tokens!
-- A new token of a purpose voids the user's unused ones of that purpose: one
-- pending change at a time, and only the latest verification link works.
UPDATE email_tokens SET used_at = now()
WHERE user_id = :user_id AND purpose = :purpose AND used_at IS NULL;

-- name: lock_email_token^
-- The token and its user, locked: of two concurrent uses, one passes.
SELECT t.user_id, t.purpose, t.email, t.used_at, (t.expires_at <= now()) AS expired,
       u.email AS current_email, u.email_verified_at
FROM email_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.token_hash = :token_hash
FOR UPDATE OF t, u;

-- name: use_email_token!
UPDATE email_tokens SET used_at = now() WHERE token_hash = :token_hash;

-- name: mark_email_verified!
UPDATE users SET email_verified_at = COALESCE(email_verified_at, now())
WHERE id = :user_id;

-- name: confirm_email_change^
-- The new address, verified by the very link that confirms it.
UPDATE users
SET email = :email, email_verified_at = now(), updated_at = CURRENT_TIMESTAMP
WHERE id = :user_id
RETURNING id, username, email, created_at;

-- name: get_verification_state^
SELECT id, email, email_verified_at FROM users WHERE id = :user_id;

-- name: get_profiles_with_state
-- get_user_profiles plus what the profile adds: whether the address is
-- verified and the address of a pending change, if any.
SELECT u.id, u.username, u.email, u.created_at, u.email_verified_at,
       (SELECT t.email FROM email_tokens t
        WHERE t.user_id = u.id AND t.purpose = 'change' AND t.used_at IS NULL
          AND t.expires_at > now()
        ORDER BY t.created_at DESC LIMIT 1) AS pending_email
FROM users u
WHERE u.id = ANY(:user_ids);

-- name: email_taken$
-- Another account has this address (the unique index is case-insensitive).
SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(:email) AND id <> :user_id);

-- name: rename_user^
-- A profile update's username; the email changes only through a confirmed link.
UPDATE users
SET username = COALESCE(:username, username), updated_at = CURRENT_TIMESTAMP
WHERE id = :user_id
RETURNING id, username, email, created_at;

-- name: purge_stale_email_tokens$
WITH purged AS (
    DELETE FROM email_tokens
    WHERE expires_at < now() - make_interval(secs => :keep_seconds)
    RETURNING 1
)
SELECT count(*) FROM purged;
