-- One-time EST enrollment codes (RFC 7030 simpleenroll with HTTP Basic): only the SHA-256 of
-- a code is kept. used_at is set once, by a conditional UPDATE, which is what makes a code
-- single-use across nodes. A deleted user's codes go with the user.
CREATE TABLE enrollment_codes (
    id {{ID}},
    code_hash {{BYTES}} NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    upn TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_for_serial TEXT
);

CREATE INDEX enrollment_codes_usable ON enrollment_codes (expires_at);
