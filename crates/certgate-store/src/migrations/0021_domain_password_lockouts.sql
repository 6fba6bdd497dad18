-- certgate's own lockout after wrong domain passwords (certgate_core::domain_password), one row
-- per user, so that every node counts the same failures and a restart forgets none. The user
-- is the directory object ID (no foreign key, as for totp_secrets). A success resets the row
-- rather than deleting it, so that its revision keeps growing.
CREATE TABLE domain_password_lockouts (
    user_id TEXT PRIMARY KEY,
    failures BIGINT NOT NULL CHECK (failures >= 0),
    locked_until BIGINT,
    -- grows with every write; the compare-and-set of every recorded check compares it
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
