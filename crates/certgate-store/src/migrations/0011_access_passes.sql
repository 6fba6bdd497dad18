-- Temporary Access Passes (certgate_core::access_pass): at most one per user, the user being
-- the directory object ID (no foreign key, as totp_secrets). Only the SHA-256 of the pass is
-- stored. A redeemed pass keeps its row (consumed_at set) so that a second use is told
-- `access-pass-used`; issuing a new pass replaces the row.
CREATE TABLE access_passes (
    user_id TEXT PRIMARY KEY,
    pass_hash {{BYTES}} NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    consumed_at BIGINT,
    failed_attempts BIGINT NOT NULL CHECK (failed_attempts >= 0)
);

-- When a pass was redeemed in a sign-in flow: only that flow may enroll an authenticator.
ALTER TABLE login_flows ADD COLUMN access_pass_redeemed_at BIGINT;
