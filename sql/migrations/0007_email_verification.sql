-- Verified email (common/accounts/email_tokens.py) and the admin API's search.
--
-- One table holds both kinds of emailed token: "verify" confirms the
-- address an account already has; "change" confirms a new address the
-- owner asked for, and is the pending change itself: users.email keeps the
-- old address until such a row is used. Like password_resets, a token is
-- stored only as a hash, expires, and is used once.

CREATE TABLE IF NOT EXISTS email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'change')),
    -- The address the token confirms: the account's own for "verify" (so a
    -- token made for an address the account no longer has is void), the new
    -- one for "change".
    email      VARCHAR(100) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS idx_email_tokens_user ON email_tokens (user_id, purpose);

-- The admin list's keyset orders (common/accounts/admin_users.py).
CREATE INDEX IF NOT EXISTS idx_users_created_at_id ON users (created_at DESC, id DESC);
