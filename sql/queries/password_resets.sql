-- Single-use password reset tokens (auth_app/reset.py).

-- name: insert_password_reset!
INSERT INTO password_resets (token_hash, user_id, password_fingerprint, expires_at)
VALUES (:token_hash, :user_id, :password_fingerprint, :expires_at);

-- name: get_password_reset^
-- lock_password_reset without the lock, to refuse a bad token before hashing.
SELECT r.user_id, r.password_fingerprint, r.used_at, (r.expires_at <= now()) AS expired,
       u.password_hash
FROM password_resets r
JOIN users u ON u.id = r.user_id
WHERE r.token_hash = :token_hash;

-- name: lock_password_reset^
SELECT r.user_id, r.password_fingerprint, r.used_at, (r.expires_at <= now()) AS expired,
       u.password_hash
FROM password_resets r
JOIN users u ON u.id = r.user_id
WHERE r.token_hash = :token_hash
FOR UPDATE OF r, u;

-- name: use_password_reset!
UPDATE password_resets SET used_at = now() WHERE token_hash = :token_hash;
