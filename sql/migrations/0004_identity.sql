-- The identity rows the second factor, verified email, the admin API and the
-- OpenID Connect provider share: roles, account state, and how a session
-- was authenticated.
--
-- Every user holds the role "user" implicitly (it is never stored); granted
-- roles are rows of user_roles. A role requires a second factor of everyone
-- who holds it when mfa_required is set; users.mfa_required does the same for
-- one user.

CREATE TABLE roles (
    name         TEXT PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,49}$'),
    description  TEXT NOT NULL DEFAULT '',
    permissions  TEXT[] NOT NULL DEFAULT '{}',
    mfa_required BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO roles (name, description, permissions) VALUES
    ('user', 'Every account: its own profile, sessions and second factors',
     '{profile:read,profile:write,sessions:manage}'),
    ('admin', 'Operators: find, disable and delete users, grant roles, manage clients',
     '{users:read,users:write,roles:write,clients:write}');

-- No foreign key on granted_by: the record of who granted outlives that admin.
CREATE TABLE user_roles (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    granted_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    granted_by INTEGER,
    PRIMARY KEY (user_id, role)
);

CREATE INDEX idx_user_roles_role ON user_roles (role);

ALTER TABLE users
    ADD COLUMN email_verified_at TIMESTAMPTZ,
    ADD COLUMN disabled_at       TIMESTAMPTZ,
    ADD COLUMN mfa_required      BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN last_login_at     TIMESTAMPTZ;

-- How the session's owner proved who they are (RFC 8176 values: pwd, otp,
-- hwk, user, mfa, ...), and when: the OpenID Connect amr and auth_time claims.
ALTER TABLE user_sessions
    ADD COLUMN amr       TEXT[] NOT NULL DEFAULT '{pwd}',
    ADD COLUMN auth_time TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP;
