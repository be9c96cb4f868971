-- Minimal sign-in bookkeeping (auth_app/signin.py). The mfa branch owns the
-- real SignIn and its queries: this file goes with the minimal version.

-- name: signin_set_session_amr!
-- How the session's owner proved who they are (RFC 8176), and when.
UPDATE user_sessions SET amr = :amr, auth_time = now() WHERE id = :session_id;

-- name: signin_touch_last_login!
UPDATE users SET last_login_at = now() WHERE id = :user_id;
