-- Refresh tokens, session bookkeeping, password resets and the audit trail.
--
-- user_sessions.expires_at becomes the end of the session (the refresh token's
-- sliding lifetime), no longer the first access token's expiry.

ALTER TABLE user_sessions
    ADD COLUMN last_used_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    ADD COLUMN user_agent   TEXT,
    ADD COLUMN ip           TEXT,
    ADD COLUMN ended_at     TIMESTAMPTZ,
    ADD COLUMN end_reason   TEXT;

-- Every refresh token a session has had, by hash: the current one has
-- rotated_at NULL. A rotated one keeps, sealed with a key derived from the
-- token itself, the successor pair it was exchanged for, so that a retry within
-- the reuse interval gets the same pair and nobody else can read it.
CREATE TABLE session_refresh_tokens (
    token_hash       TEXT PRIMARY KEY,
    session_id       INTEGER NOT NULL REFERENCES user_sessions(id) ON DELETE CASCADE,
    issued_at        TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    rotated_at       TIMESTAMPTZ,
    sealed_successor BYTEA
);

CREATE INDEX idx_session_refresh_tokens_session_id ON session_refresh_tokens (session_id);

-- Single-use reset tokens, by hash; bound to the password hash they were made
-- for, so that any password change invalidates them.
CREATE TABLE password_resets (
    token_hash           TEXT PRIMARY KEY,
    user_id              INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_fingerprint TEXT NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at           TIMESTAMPTZ NOT NULL,
    used_at              TIMESTAMPTZ
);

CREATE INDEX idx_password_resets_user_id ON password_resets (user_id);

-- No foreign key on user_id: the trail outlives the account it describes.
CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    user_id     INTEGER,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    ip          TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    data        JSONB NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX idx_audit_events_user_id ON audit_events (user_id, id DESC);
