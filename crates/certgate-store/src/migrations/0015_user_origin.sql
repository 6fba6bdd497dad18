-- Where each user came from (certgate_core::directory::UserOrigin): 'local' (added by hand,
-- which every user that existed before this migration was) or 'directory' (synchronised from
-- the directory source). A synchronised user keeps its entry's DN and, once a sync finds the
-- entry gone, since when (the removal grace period counts from it). The entry is found again
-- by the user's immutable_id, which is already unique.
ALTER TABLE users ADD COLUMN origin TEXT NOT NULL DEFAULT 'local' CHECK (origin IN ('local', 'directory'));
ALTER TABLE users ADD COLUMN source_dn TEXT;
ALTER TABLE users ADD COLUMN source_missing_since BIGINT;
