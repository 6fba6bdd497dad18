-- Bearer tokens of the admin REST API: only their SHA-256 is kept.
CREATE TABLE admin_tokens (
    name TEXT PRIMARY KEY,
    token_hash {{BYTES}} NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
