-- What every finished sign-in records, whichever way the user proved who they are.

-- name: record_last_login!
UPDATE users SET last_login_at = now() WHERE id = :user_id;

-- name: get_signin_user^
-- The user a second step finishes the login of: the whole row, as the
-- account-state check may read any column of it (disabled, verified, ...).
SELECT * FROM users WHERE id = :user_id;
