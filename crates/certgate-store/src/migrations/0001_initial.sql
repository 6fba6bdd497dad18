-- certgate schema, version 1. Written once for both backends: {{ID}}, {{BYTES}} and {{BOOL}}
-- are replaced with each backend's types (see migrate.rs). Times are Unix seconds (UTC).

CREATE TABLE certgate_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- grows on every change to trusted_cas or crl_cache; other nodes poll it
    generation BIGINT NOT NULL
);
INSERT INTO certgate_state (id, generation) VALUES (1, 0);

CREATE TABLE trusted_cas (
    id {{ID}},
    display_name TEXT NOT NULL,
    authority_type TEXT NOT NULL CHECK (authority_type IN ('root', 'intermediate')),
    certificate {{BYTES}} NOT NULL,
    crl_url TEXT,
    delta_crl_url TEXT,
    trusted_issuer TEXT NOT NULL,
    trusted_issuer_ski TEXT,
    sha256_thumbprint TEXT NOT NULL UNIQUE,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    exempt_from_crl_validation {{BOOL}} NOT NULL,
    send_as_issuer_hint {{BOOL}} NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE crl_cache (
    ca_id BIGINT NOT NULL REFERENCES trusted_cas (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('base', 'delta')),
    url TEXT NOT NULL,
    der {{BYTES}} NOT NULL,
    crl_number {{BYTES}} NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    entry_count BIGINT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (ca_id, kind)
);

CREATE TABLE crl_fetch_status (
    ca_id BIGINT NOT NULL REFERENCES trusted_cas (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('base', 'delta')),
    last_attempt_at BIGINT NOT NULL,
    last_success_at BIGINT,
    last_error_code TEXT,
    last_error_message TEXT,
    consecutive_failures BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    PRIMARY KEY (ca_id, kind)
);

CREATE TABLE authorities (
    id {{ID}},
    role TEXT NOT NULL UNIQUE CHECK (role IN ('root', 'issuing')),
    certificate {{BYTES}} NOT NULL,
    private_key {{BYTES}} NOT NULL,
    key_sealed {{BOOL}} NOT NULL,
    next_crl_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE issued_certificates (
    serial_hex TEXT PRIMARY KEY,
    serial {{BYTES}} NOT NULL,
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    upn TEXT NOT NULL,
    email TEXT,
    subject TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    certificate {{BYTES}} NOT NULL,
    issued_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revocation_reason TEXT
);
CREATE INDEX issued_certificates_upn ON issued_certificates (upn);

CREATE TABLE published_crls (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    kind TEXT NOT NULL CHECK (kind IN ('base', 'delta')),
    crl_number BIGINT NOT NULL,
    base_crl_number BIGINT,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    entry_count BIGINT NOT NULL,
    der {{BYTES}} NOT NULL,
    PRIMARY KEY (authority_id, crl_number)
);

CREATE TABLE audit_log (
    id {{ID}},
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
