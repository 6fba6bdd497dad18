-- Incremental directory syncs (certgate_core::directory_source::ChangeMarkStore): where the
-- last applied run left Active Directory, so that the next run reads only what changed since.
-- One row: the DC (dsServiceName) and its database copy (invocationId) the update sequence
-- number belongs to; another DC or copy makes the next run a full one.
CREATE TABLE directory_change_marks (
    slot TEXT PRIMARY KEY CHECK (slot = 'current'),
    server TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    highest_committed_usn BIGINT NOT NULL CHECK (highest_committed_usn >= 0),
    settings_fingerprint TEXT NOT NULL,
    full_sync_started_at BIGINT NOT NULL
);
-- Whether each recorded run read the whole directory. Runs from before this version were.
ALTER TABLE directory_sync_runs ADD COLUMN scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'incremental'));
