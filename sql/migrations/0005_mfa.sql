-- Second factors: TOTP (RFC 6238) and single-use recovery codes.
--
-- A TOTP secret is stored sealed (AES-256-GCM with a key from
-- MFA_ENCRYPTION_KEYS, bound to its user), never in the clear. confirmed_at is
-- NULL while an enrolment waits for its first code; last_used_step is the
-- 30-second step of the last code accepted, so that a code is accepted once.
CREATE TABLE IF NOT EXISTS user_totp (
    user_id        INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sealed_secret  BYTEA NOT NULL,
    confirmed_at   TIMESTAMPTZ,
    last_used_step BIGINT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- Recovery codes by SHA-256 of (user id, code): 80 random bits each, so a
-- plain hash is enough. A used code keeps its row (used_at) for the record.
CREATE TABLE IF NOT EXISTS user_recovery_codes (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);
