-- Passkeys (WebAuthn credentials) a user signs in with, without a password.
--
-- credential_id is the authenticator's id for the key (unique across every
-- user: one key belongs to one account); public_key its COSE public key.
-- user_handle is the WebAuthn user.id the authenticator keeps with a
-- discoverable credential: random per user, never the database id or an email.
-- sign_count is the authenticator's counter as last seen: an assertion must
-- move it forward (or both stay 0, as synced passkeys do), or it is refused.
-- Written to apply on top of any other migration of issue 12 and 13.

CREATE TABLE IF NOT EXISTS webauthn_credentials (
    id            BIGSERIAL PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    public_key    BYTEA NOT NULL,
    user_handle   BYTEA NOT NULL,
    sign_count    BIGINT NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
    transports    TEXT[] NOT NULL DEFAULT '{}',
    name          TEXT NOT NULL,
    aaguid        TEXT NOT NULL DEFAULT '',
    backed_up     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at  TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS idx_webauthn_credentials_user_id ON webauthn_credentials (user_id);
