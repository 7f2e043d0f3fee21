-- The dashboard: each server's settings (the current revision and every earlier one) and its
-- audit log. Snowflakes as signed 64-bit integers; times are Unix seconds.
ALTER TABLE guilds ADD COLUMN preferred_locale TEXT;

CREATE TABLE guild_settings (
    guild_id BIGINT NOT NULL PRIMARY KEY,
    revision BIGINT NOT NULL,
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every save, as saved; a restore is a save that names the revision it copied.
CREATE TABLE guild_setting_revisions (
    guild_id BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    settings TEXT NOT NULL,
    author_user_id BIGINT,
    author_discord_id BIGINT,
    source TEXT NOT NULL,
    restored_from BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (guild_id, revision)
);

-- Kept when the actor's account is deleted: the log says who did what, even later.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor_user_id BIGINT,
    actor_discord_id BIGINT,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_guild ON audit_log (guild_id, id);

-- The server page lists the deliveries to its channels (labelled `discord:<channel>`).
CREATE INDEX deliveries_label ON deliveries (recipient_label);
