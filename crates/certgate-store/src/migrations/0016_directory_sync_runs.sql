-- How the directory sync's runs went (certgate_core::directory_source::SyncRunStore), for
-- `certgate directory status`: the last run however it ended, and the last one that
-- completed. The changes themselves are in the audit log.
CREATE TABLE directory_sync_runs (
    slot TEXT PRIMARY KEY CHECK (slot IN ('last', 'last_completed')),
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('completed', 'failed')),
    code TEXT,
    message TEXT,
    entries BIGINT NOT NULL,
    added BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    removed BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    failed BIGINT NOT NULL
);
