-- The admin API (user_app/admin.py, auth_app/admin.py). Listing is keyset
-- paginated: one query per sort order, each continuing after (key, id).
-- :pattern is NULL (everyone) or a LIKE pattern with \ as its escape.

-- name: admin_users_by_created
SELECT id, username, email, created_at, email_verified_at, disabled_at, last_login_at
FROM users
WHERE (:pattern::text IS NULL
       OR lower(username) LIKE :pattern ESCAPE '\' OR lower(email) LIKE :pattern ESCAPE '\')
  AND (:after_id::int IS NULL OR (created_at, id) < (:after_created::timestamptz, :after_id))
ORDER BY created_at DESC, id DESC
LIMIT :limit;

-- name: admin_users_by_username
SELECT id, username, email, created_at, email_verified_at, disabled_at, last_login_at
FROM users
WHERE (:pattern::text IS NULL
       OR lower(username) LIKE :pattern ESCAPE '\' OR lower(email) LIKE :pattern ESCAPE '\')
  AND (:after_id::int IS NULL OR (lower(username), id) > (:after_text::text, :after_id))
ORDER BY lower(username), id
LIMIT :limit;

-- name: admin_users_by_email
SELECT id, username, email, created_at, email_verified_at, disabled_at, last_login_at
FROM users
WHERE (:pattern::text IS NULL
       OR lower(username) LIKE :pattern ESCAPE '\' OR lower(email) LIKE :pattern ESCAPE '\')
  AND (:after_id::int IS NULL OR (lower(email), id) > (:after_text::text, :after_id))
ORDER BY lower(email), id
LIMIT :limit;

-- name: admin_get_user^
SELECT u.id, u.username, u.email, u.created_at, u.email_verified_at, u.disabled_at,
       u.last_login_at, u.mfa_required,
       ARRAY['user'] || COALESCE(
           (SELECT array_agg(r.role ORDER BY r.role) FROM user_roles r
            WHERE r.user_id = u.id AND r.role <> 'user'), '{}') AS roles,
       EXISTS (SELECT 1 FROM user_roles r JOIN roles ro ON ro.name = r.role
               WHERE r.user_id = u.id AND ro.mfa_required) AS role_mfa_required
FROM users u
WHERE u.id = :user_id;

-- name: admin_user_sessions
SELECT id, created_at, last_used_at, user_agent, ip, amr, auth_time
FROM user_sessions
WHERE user_id = :user_id AND is_active AND expires_at > now()
ORDER BY id DESC;

-- name: set_user_disabled^
-- Locks the row, so a login checking the account state waits for this
-- transaction (and with it, the end of every session). NULL: no such user.
UPDATE users
SET disabled_at = CASE WHEN :disabled THEN COALESCE(disabled_at, now()) END
WHERE id = :user_id
RETURNING id, username, disabled_at;

-- name: set_user_mfa_required^
UPDATE users SET mfa_required = :required WHERE id = :user_id RETURNING id;

-- name: lock_user_for_admin^
SELECT id, username FROM users WHERE id = :user_id FOR UPDATE;
