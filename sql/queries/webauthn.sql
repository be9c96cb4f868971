-- Passkeys: WebAuthn credentials (auth_app/passkeys/).

-- name: webauthn_user^
-- The account a passkey ceremony is for, with the state sign-in checks
-- (the columns of migration 0004 that SignIn.complete may read).
SELECT id, username, email, created_at, email_verified_at, disabled_at, mfa_required,
       last_login_at
FROM users
WHERE id = :user_id;

-- name: webauthn_user_by_login^
-- login/options with a username (or email): whose passkeys to allow.
SELECT id FROM users WHERE lower(username) = lower(:login) OR lower(email) = lower(:login)
LIMIT 1;

-- name: webauthn_user_credentials
-- For excludeCredentials and allowCredentials, and the user handle to reuse.
SELECT credential_id, transports, user_handle
FROM webauthn_credentials
WHERE user_id = :user_id
ORDER BY id;

-- name: insert_webauthn_credential^
-- Nothing when the credential is registered already (to anyone): the caller answers 409.
INSERT INTO webauthn_credentials
    (user_id, credential_id, public_key, user_handle, sign_count, transports, name, aaguid,
     backed_up)
VALUES (:user_id, :credential_id, :public_key, :user_handle, :sign_count, :transports, :name,
        :aaguid, :backed_up)
ON CONFLICT (credential_id) DO NOTHING
RETURNING id, name, transports, created_at, last_used_at, backed_up;

-- name: webauthn_credential_by_id^
-- The credential an assertion names (its rawId).
SELECT id, user_id, public_key, user_handle, sign_count
FROM webauthn_credentials
WHERE credential_id = :credential_id;

-- name: advance_webauthn_sign_count^
-- Only forward (or 0 -> 0 for authenticators without a counter): of two
-- assertions racing with one counter value, the second finds nothing.
UPDATE webauthn_credentials
SET sign_count = :sign_count, last_used_at = now()
WHERE id = :id
  AND (sign_count < :sign_count OR (sign_count = 0 AND :sign_count = 0))
RETURNING id;

-- name: list_webauthn_credentials
SELECT id, name, transports, created_at, last_used_at, backed_up
FROM webauthn_credentials
WHERE user_id = :user_id
ORDER BY id;

-- name: delete_webauthn_credential^
-- Only the owner's: another user's id deletes nothing.
DELETE FROM webauthn_credentials
WHERE id = :id AND user_id = :user_id
RETURNING id, name;
