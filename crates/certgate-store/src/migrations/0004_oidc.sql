-- The OpenID Connect provider: signing keys, clients, authorization codes, grants and their
-- refresh tokens. Codes, refresh tokens and client secrets are stored only as SHA-256 hashes
-- (lowercase hex). The single-use rules rest on conditional updates of used_at.

CREATE TABLE oidc_signing_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('ES256')),
    state TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    -- the uncompressed P-256 point
    public_key {{BYTES}} NOT NULL,
    -- PKCS#8 sealed with certgate_ca::sealed_key
    private_key {{BYTES}} NOT NULL,
    created_at BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at BIGINT
);
-- At most one Current and one Next key, whatever two nodes do at the same moment.
CREATE UNIQUE INDEX oidc_signing_keys_one_per_state ON oidc_signing_keys (state)
    WHERE state IN ('next', 'current');

CREATE TABLE oidc_clients (
    client_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    client_type TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
    secret_hash TEXT,
    require_consent {{BOOL}} NOT NULL,
    allowed_scopes TEXT NOT NULL,
    id_token_lifetime BIGINT NOT NULL,
    access_token_lifetime BIGINT NOT NULL,
    refresh_token_lifetime BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK ((client_type = 'confidential') = (secret_hash IS NOT NULL))
);

-- Redirect URIs, compared as exact strings: kind 'login' (redirect_uri) or 'logout'
-- (post_logout_redirect_uri), in registration order.
CREATE TABLE oidc_client_redirect_uris (
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('login', 'logout')),
    position BIGINT NOT NULL,
    uri TEXT NOT NULL,
    PRIMARY KEY (client_id, kind, position),
    UNIQUE (client_id, kind, uri)
);

CREATE TABLE oidc_authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    object_id TEXT NOT NULL,
    upn TEXT NOT NULL,
    display_name TEXT,
    email TEXT,
    auth_time BIGINT NOT NULL,
    certificate_issuer TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    certificate_kind TEXT NOT NULL,
    second_factor TEXT,
    assurance TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_authorization_codes_expiry ON oidc_authorization_codes (expires_at);

-- What one sign-in gave one client, from the redemption of its code. Not a foreign key to
-- the code: codes are purged a minute after they expire, grants live as long as refresh does.
CREATE TABLE oidc_grants (
    id TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    object_id TEXT NOT NULL,
    upn TEXT NOT NULL,
    display_name TEXT,
    email TEXT,
    auth_time BIGINT NOT NULL,
    certificate_issuer TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    certificate_kind TEXT NOT NULL,
    second_factor TEXT,
    assurance TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX oidc_grants_code ON oidc_grants (code_hash);
CREATE INDEX oidc_grants_user ON oidc_grants (object_id);
CREATE INDEX oidc_grants_certificate ON oidc_grants (certificate_serial);
CREATE INDEX oidc_grants_expiry ON oidc_grants (expires_at);

CREATE TABLE oidc_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    issued_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);
