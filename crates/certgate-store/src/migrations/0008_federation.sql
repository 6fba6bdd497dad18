-- The federation service (SAML 2.0 / WS-Federation): relying parties, token-signing keys and
-- the replay cache of SAML request IDs; and the sign-in certificate of a login flow, which
-- the federation claim rules read.

-- Names are unique case-insensitively (through name_lower, as users.upn_lower); identifiers
-- per protocol through a SHA-256 key (an identifier may be 1024 characters of UTF-8, more than
-- a PostgreSQL b-tree entry holds). The lists are JSON arrays: they are only ever read and
-- written whole with their relying party, never queried.
CREATE TABLE relying_parties (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL UNIQUE,
    protocol TEXT NOT NULL CHECK (protocol IN ('saml', 'wsfed')),
    identifier TEXT NOT NULL,
    identifier_key TEXT NOT NULL,
    -- ["https://…", …], the first is the default
    reply_urls TEXT NOT NULL,
    logout_url TEXT,
    name_id_format TEXT NOT NULL,
    name_id_source TEXT NOT NULL,
    -- [{"claim": "…", "source": "user.upn"}, …], in issuance order
    claims TEXT NOT NULL,
    sign_response {{BOOL}} NOT NULL,
    require_signed_requests {{BOOL}} NOT NULL,
    -- ["<base64 DER>", …]
    request_certificates TEXT NOT NULL,
    password_requests TEXT NOT NULL,
    issuer TEXT,
    token_lifetime_seconds BIGINT NOT NULL,
    enabled {{BOOL}} NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (protocol, identifier_key)
);

CREATE TABLE token_signing_keys (
    -- SHA-1 of the certificate, upper-case hex
    thumbprint TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    certificate {{BYTES}} NOT NULL,
    -- PKCS#8 sealed with certgate_ca::sealed_key
    sealed_private_key {{BYTES}} NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at BIGINT
);
-- At most one Current and one Next key, whatever two nodes do at the same moment.
CREATE UNIQUE INDEX token_signing_keys_one_per_state ON token_signing_keys (state)
    WHERE state IN ('next', 'current');

-- SAML request IDs seen per issuer, until they expire: the primary key refuses a replay.
CREATE TABLE saml_request_ids (
    issuer TEXT NOT NULL,
    request_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, request_id)
);
CREATE INDEX saml_request_ids_expires ON saml_request_ids (expires_at);

ALTER TABLE login_flows ADD COLUMN certificate {{BYTES}};
