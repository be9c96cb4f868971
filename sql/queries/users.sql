-- Users: registration, profile, login lookup, password change.

-- name: insert_user^
INSERT INTO users (username, email, password_hash)
VALUES (:username, :email, :password_hash)
RETURNING id, username, email, created_at;

-- name: get_user_profile^
SELECT id, username, email, created_at FROM users WHERE id = :user_id;

-- name: get_user_profiles
-- Several profiles in one round trip: the user worker batches the
-- user.profile calls of one take (common/db/batch_loader.py).
SELECT id, username, email, created_at FROM users WHERE id = ANY(:user_ids);

-- name: get_user_by_login^
-- A login names a username or an email; both are unique case-insensitively.
SELECT id, username, email, password_hash, created_at
FROM users
WHERE lower(username) = lower(:login) OR lower(email) = lower(:login)
LIMIT 1;

-- name: get_user_credentials^
SELECT id, password_hash FROM users WHERE id = :user_id;

-- name: replace_password_hash$
-- Only if the hash is still the one the current password was checked
-- against: of two concurrent changes, the second finds nothing to update.
UPDATE users
SET password_hash = :new_hash, updated_at = CURRENT_TIMESTAMP
WHERE id = :user_id AND password_hash = :old_hash
RETURNING id;

-- name: rehash_password$
-- The same password hashed at the current cost, stored only if the hash is
-- still the one it was just checked against: a concurrent change wins. Not a
-- password change, so updated_at stays.
UPDATE users
SET password_hash = :new_hash
WHERE id = :user_id AND password_hash = :old_hash
RETURNING id;

-- name: lock_user_credentials^
SELECT id, username, email, password_hash FROM users WHERE id = :user_id FOR UPDATE;

-- name: get_user_by_email^
SELECT id, email, password_hash FROM users WHERE lower(email) = lower(:email);

-- name: update_user_profile^
-- NULL keeps a field as it is.
UPDATE users
SET username = COALESCE(:username, username),
    email = COALESCE(:email, email),
    updated_at = CURRENT_TIMESTAMP
WHERE id = :user_id
RETURNING id, username, email, created_at;

-- name: delete_user$
DELETE FROM users WHERE id = :user_id RETURNING id;
