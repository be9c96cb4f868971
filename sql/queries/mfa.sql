-- Second factors: the policy a login follows, TOTP enrolment and use, recovery codes.

-- name: mfa_policy^
-- Whether the user must have a second factor (their own flag, a role they hold,
-- or the implicit role "user" that everyone holds), and which factors they have.
SELECT
    (u.mfa_required
     OR EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.name = ur.role
                WHERE ur.user_id = u.id AND r.mfa_required)
     OR EXISTS (SELECT 1 FROM roles r WHERE r.name = 'user' AND r.mfa_required)) AS mfa_required,
    EXISTS (SELECT 1 FROM user_totp t
            WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) AS totp_enabled,
    EXISTS (SELECT 1 FROM user_totp t
            WHERE t.user_id = u.id AND t.confirmed_at IS NULL) AS totp_pending,
    (SELECT count(*) FROM user_recovery_codes c
     WHERE c.user_id = u.id AND c.used_at IS NULL) AS recovery_codes_left,
    -- A registered passkey is a second factor too (auth_app/passkeys/).
    EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.user_id = u.id) AS has_passkey
FROM users u
WHERE u.id = :user_id;

-- name: get_totp^
SELECT user_id, sealed_secret, confirmed_at, last_used_step FROM user_totp WHERE user_id = :user_id;

-- name: begin_totp_enrolment$
-- A new pending secret replaces an older pending one; an enabled one stays
-- (NULL comes back: turn it off first).
INSERT INTO user_totp (user_id, sealed_secret)
VALUES (:user_id, :sealed_secret)
ON CONFLICT (user_id) DO UPDATE
SET sealed_secret = EXCLUDED.sealed_secret, created_at = now(), last_used_step = NULL
WHERE user_totp.confirmed_at IS NULL
RETURNING user_id;

-- name: confirm_totp$
-- The first code turns the pending secret on; of two concurrent confirmations
-- only one finds it pending.
UPDATE user_totp
SET confirmed_at = now(), last_used_step = :step
WHERE user_id = :user_id AND confirmed_at IS NULL
RETURNING user_id;

-- name: use_totp_step$
-- A code is accepted once: only a step later than the last one used counts,
-- decided by this one row update whatever else runs at the same time.
UPDATE user_totp
SET last_used_step = :step
WHERE user_id = :user_id AND confirmed_at IS NOT NULL
  AND (last_used_step IS NULL OR last_used_step < :step)
RETURNING user_id;

-- name: reseal_totp!
-- The same secret sealed with the current key (after a key rotation).
UPDATE user_totp SET sealed_secret = :sealed_secret WHERE user_id = :user_id;

-- name: delete_totp$
DELETE FROM user_totp WHERE user_id = :user_id AND confirmed_at IS NOT NULL RETURNING user_id;

-- name: delete_recovery_codes!
DELETE FROM user_recovery_codes WHERE user_id = :user_id;

-- name: insert_recovery_codes!
INSERT INTO user_recovery_codes (user_id, code_hash)
SELECT :user_id, unnest(:code_hashes::text[]);

-- name: use_recovery_code$
-- Single use: of two concurrent uses of one code, one finds it unused.
UPDATE user_recovery_codes
SET used_at = now()
WHERE user_id = :user_id AND code_hash = :code_hash AND used_at IS NULL
RETURNING user_id;

-- name: recovery_codes_left$
SELECT count(*) FROM user_recovery_codes WHERE user_id = :user_id AND used_at IS NULL;
