-- Roles and account state (common/accounts/roles.py, auth_app/account_state.py).
-- Every user holds "user" implicitly: it is never a row of user_roles.

-- name: get_user_roles$
-- The user's role names, "user" first, the granted ones sorted.
SELECT ARRAY['user'] || COALESCE(
    (SELECT array_agg(role ORDER BY role) FROM user_roles
     WHERE user_id = :user_id AND role <> 'user'),
    '{}');

-- name: user_has_role$
SELECT :role = 'user' OR EXISTS (
    SELECT 1 FROM user_roles WHERE user_id = :user_id AND role = :role);

-- name: role_exists$
SELECT EXISTS (SELECT 1 FROM roles WHERE name = :role);

-- name: grant_role$
-- NULL when the user already held it (or the user does not exist).
INSERT INTO user_roles (user_id, role, granted_by)
SELECT id, :role, :granted_by FROM users WHERE id = :user_id
ON CONFLICT (user_id, role) DO NOTHING
RETURNING role;

-- name: revoke_role$
DELETE FROM user_roles WHERE user_id = :user_id AND role = :role RETURNING role;

-- name: set_role_mfa_required$
UPDATE roles SET mfa_required = :required WHERE name = :role RETURNING name;

-- name: get_account_state^
-- Locked as an UPDATE of the row would lock it (not FOR SHARE, which the
-- same transaction's last_login_at update would have to upgrade: two
-- concurrent logins of one user would deadlock). A disable, which updates
-- the row, waits for the login or refresh that passed this check, then ends
-- the session it made; or comes first, and this check sees it.
SELECT id, disabled_at, email_verified_at FROM users WHERE id = :user_id FOR NO KEY UPDATE;

-- name: get_user_id_by_email$
SELECT id FROM users WHERE lower(email) = lower(:email);
