-- The OpenID Connect provider: clients, consents, codes, grants, refresh tokens.

-- name: oidc_insert_client!
INSERT INTO oauth_clients (id, name, secret_hash, redirect_uris, post_logout_redirect_uris, scopes)
VALUES (:client_id, :name, :secret_hash, :redirect_uris, :post_logout_redirect_uris, :scopes);

-- name: oidc_get_client^
SELECT id, name, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, created_at,
       secret_rotated_at
FROM oauth_clients
WHERE id = :client_id;

-- name: oidc_list_clients
SELECT id, name, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, created_at,
       secret_rotated_at
FROM oauth_clients
ORDER BY created_at, id;

-- name: oidc_rotate_client_secret$
UPDATE oauth_clients SET secret_hash = :secret_hash, secret_rotated_at = now()
WHERE id = :client_id AND secret_hash IS NOT NULL
RETURNING id;

-- name: oidc_delete_client$
DELETE FROM oauth_clients WHERE id = :client_id RETURNING id;

-- name: oidc_get_consent$
SELECT scopes FROM oauth_consents WHERE user_id = :user_id AND client_id = :client_id;

-- name: oidc_upsert_consent!
-- A new consent widens the remembered set: what was granted before stays granted.
INSERT INTO oauth_consents (user_id, client_id, scopes)
VALUES (:user_id, :client_id, :scopes)
ON CONFLICT (user_id, client_id) DO UPDATE
SET scopes = ARRAY(SELECT DISTINCT unnest(oauth_consents.scopes || EXCLUDED.scopes) ORDER BY 1),
    granted_at = now();

-- name: oidc_user_consents
SELECT c.client_id, k.name, c.scopes, c.granted_at
FROM oauth_consents c JOIN oauth_clients k ON k.id = c.client_id
WHERE c.user_id = :user_id
ORDER BY c.granted_at DESC;

-- name: oidc_delete_consent$
DELETE FROM oauth_consents WHERE user_id = :user_id AND client_id = :client_id
RETURNING client_id;

-- name: oidc_revoke_user_client_grants$
-- Withdrawn consent: every token the client holds for the user ends too.
WITH revoked AS (
    UPDATE oauth_grants SET revoked_at = now(), revoke_reason = 'consent_revoked'
    WHERE user_id = :user_id AND client_id = :client_id AND revoked_at IS NULL
    RETURNING id
)
SELECT count(*) FROM revoked;

-- name: oidc_browser_session^
-- The live Gatehouse session behind a provider cookie, with how it was proven.
SELECT s.id AS session_id, s.user_id, s.amr, s.auth_time
FROM oauth_browser_sessions b JOIN user_sessions s ON s.id = b.session_id
WHERE b.token_hash = :token_hash AND s.is_active AND s.expires_at > now();

-- name: oidc_insert_browser_session!
INSERT INTO oauth_browser_sessions (token_hash, session_id) VALUES (:token_hash, :session_id);

-- name: oidc_live_session^
SELECT id AS session_id, user_id, amr, auth_time, expires_at
FROM user_sessions
WHERE id = :session_id AND user_id = :user_id AND is_active AND expires_at > now();

-- name: oidc_insert_code!
INSERT INTO oauth_codes (code_hash, client_id, user_id, session_id, redirect_uri, scopes, nonce,
                         code_challenge, expires_at)
VALUES (:code_hash, :client_id, :user_id, :session_id, :redirect_uri, :scopes, :nonce,
        :code_challenge, now() + make_interval(secs => :ttl));

-- name: oidc_lock_code^
SELECT code_hash, client_id, user_id, session_id, redirect_uri, scopes, nonce, code_challenge,
       expires_at > now() AS fresh, used_at, grant_id
FROM oauth_codes
WHERE code_hash = :code_hash
FOR UPDATE;

-- name: oidc_spend_code!
UPDATE oauth_codes SET used_at = now(), grant_id = :grant_id WHERE code_hash = :code_hash;

-- name: oidc_insert_grant$
INSERT INTO oauth_grants (client_id, user_id, session_id, scopes, nonce)
VALUES (:client_id, :user_id, :session_id, :scopes, :nonce)
RETURNING id;

-- name: oidc_revoke_grant$
UPDATE oauth_grants SET revoked_at = now(), revoke_reason = :reason
WHERE id = :grant_id AND revoked_at IS NULL
RETURNING id;

-- name: oidc_grant_state^
-- A grant is live while not revoked, its client exists, and (for a person's
-- grant) its Gatehouse session is live: the one check behind every app token.
SELECT g.id, g.client_id, g.user_id, g.session_id, g.scopes, g.nonce,
       (g.revoked_at IS NULL
        AND (g.session_id IS NULL OR (s.is_active AND s.expires_at > now()))) AS live,
       s.amr, s.auth_time
FROM oauth_grants g
LEFT JOIN user_sessions s ON s.id = g.session_id
WHERE g.id = :grant_id;

-- name: oidc_insert_refresh_token!
INSERT INTO oauth_refresh_tokens (token_hash, grant_id) VALUES (:token_hash, :grant_id);

-- name: oidc_lock_refresh_token^
SELECT t.grant_id, t.rotated_at, t.sealed_successor,
       (t.rotated_at IS NOT NULL
        AND t.rotated_at > now() - make_interval(secs => :reuse_interval)) AS within_reuse_interval
FROM oauth_refresh_tokens t
WHERE t.token_hash = :token_hash
FOR UPDATE;

-- name: oidc_find_refresh_token^
SELECT grant_id, rotated_at FROM oauth_refresh_tokens WHERE token_hash = :token_hash;

-- name: oidc_rotate_refresh_token!
UPDATE oauth_refresh_tokens SET rotated_at = now(), sealed_successor = :sealed_successor
WHERE token_hash = :token_hash;

-- name: oidc_user_claims^
SELECT id, username, email, email_verified_at FROM users WHERE id = :user_id;

-- name: oidc_has_role$
-- Whether the user holds a granted role (admin for the client registry).
SELECT EXISTS (SELECT 1 FROM user_roles WHERE user_id = :user_id AND role = :role);
