-- certgate schema, version 3: TOTP secrets (certgate_core::totp). At most one active and one
-- pending secret per user; the user is the directory object ID (no foreign key: the directory
-- may live elsewhere, and removing a user removes its secrets through the TOTP service).

CREATE TABLE totp_secrets (
    -- never reused, so a row id names one secret for its whole life
    id {{ID}},
    user_id TEXT NOT NULL,
    slot TEXT NOT NULL CHECK (slot IN ('active', 'pending')),
    -- certgate_ca::sealed_key ciphertext of the raw key, never the key itself
    sealed_secret {{BYTES}} NOT NULL,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('SHA1', 'SHA256')),
    digits BIGINT NOT NULL CHECK (digits IN (6, 8)),
    last_used_step BIGINT,
    failures BIGINT NOT NULL CHECK (failures >= 0),
    locked_until BIGINT,
    -- grows with every write; the compare-and-set of every verification compares it
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (user_id, slot)
);
