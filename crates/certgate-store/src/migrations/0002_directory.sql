-- The directory: users, username-binding rules, authentication-strength rules.
-- Uniqueness that sign-in depends on is enforced here, so two nodes cannot both win a race:
-- UPN (case-insensitively, through upn_lower), immutable ID, proxy addresses
-- (case-insensitively) and certificateUserIds (through a SHA-256 key: a value may be 1024
-- characters of UTF-8, more than a PostgreSQL b-tree entry holds).

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    upn TEXT NOT NULL,
    upn_lower TEXT NOT NULL UNIQUE,
    immutable_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    mail TEXT,
    enabled {{BOOL}} NOT NULL,
    sts_refresh_tokens_valid_from BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_proxy_addresses (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    proxy_address TEXT NOT NULL,
    -- the whole value, lower case: unique across users
    proxy_address_lower TEXT NOT NULL UNIQUE,
    -- the part after "type:", lower case: what bindings compare
    address_lower TEXT NOT NULL,
    PRIMARY KEY (user_id, position)
);
CREATE INDEX user_proxy_addresses_address ON user_proxy_addresses (address_lower);

CREATE TABLE user_certificate_user_ids (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    value TEXT NOT NULL,
    value_key TEXT NOT NULL UNIQUE,
    PRIMARY KEY (user_id, position)
);

CREATE TABLE user_groups (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, position)
);

CREATE TABLE binding_rules (
    priority BIGINT PRIMARY KEY,
    certificate_field TEXT NOT NULL,
    user_attribute TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE strength_rules (
    id {{ID}},
    issuer_ski TEXT,
    issuer_subject TEXT,
    policy_oid TEXT,
    strength TEXT NOT NULL CHECK (strength IN ('single-factor', 'multi-factor')),
    created_at BIGINT NOT NULL
);

CREATE TABLE directory_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    default_required_affinity TEXT NOT NULL CHECK (default_required_affinity IN ('low', 'high'))
);
INSERT INTO directory_settings (id, default_required_affinity) VALUES (1, 'low');
