-- Gatehouse as an OpenID Connect provider: the client registry, the consent
-- a person gave each client, authorization codes, grants (what a code or a
-- client_credentials request started) and their rotating refresh tokens, and
-- the provider's browser sessions (the login page's cookie).
--
-- Every token an app holds descends from one grant; a grant made from a login
-- is bound to its Gatehouse session, so ending that session (logout, password
-- change, reuse detection) ends every app token on its next use.

CREATE TABLE IF NOT EXISTS oauth_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    -- SHA-256 of a 256-bit random secret (high entropy: no slow hash needed);
    -- NULL for a public client (PKCE only).
    secret_hash               TEXT,
    redirect_uris             TEXT[] NOT NULL,
    post_logout_redirect_uris TEXT[] NOT NULL DEFAULT '{}',
    scopes                    TEXT[] NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    secret_rotated_at         TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS oauth_consents (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    scopes     TEXT[] NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE IF NOT EXISTS oauth_grants (
    id         BIGSERIAL PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    -- NULL for client_credentials (no person).
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    session_id INTEGER REFERENCES user_sessions(id) ON DELETE CASCADE,
    scopes     TEXT[] NOT NULL,
    nonce      TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    revoked_at TIMESTAMPTZ,
    revoke_reason TEXT
);

CREATE INDEX IF NOT EXISTS idx_oauth_grants_user ON oauth_grants (user_id, client_id);

CREATE TABLE IF NOT EXISTS oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id     INTEGER NOT NULL REFERENCES user_sessions(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT[] NOT NULL,
    nonce          TEXT,
    code_challenge TEXT NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ,
    -- The grant the first use made: a second use revokes it.
    grant_id       BIGINT REFERENCES oauth_grants(id) ON DELETE SET NULL
);

CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
    token_hash       TEXT PRIMARY KEY,
    grant_id         BIGINT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    rotated_at       TIMESTAMPTZ,
    -- The successor answer sealed with this token (common/security/opaque_tokens.py).
    sealed_successor BYTEA
);

CREATE INDEX IF NOT EXISTS idx_oauth_refresh_grant ON oauth_refresh_tokens (grant_id);

CREATE TABLE IF NOT EXISTS oauth_browser_sessions (
    token_hash TEXT PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES user_sessions(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
