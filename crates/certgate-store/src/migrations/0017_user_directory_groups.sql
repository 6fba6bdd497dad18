-- The groups the directory source says a synchronised user is in (nested groups included),
-- as the last sync read them (certgate_core::directory::UserOrigin::Directory's groups). Kept
-- apart from user_groups, the groups assigned in certgate: a sync never erases those, and a
-- hand edit never writes these.
CREATE TABLE user_directory_groups (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, position)
);
