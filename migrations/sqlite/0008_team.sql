-- What a team keeps from Discord: memos per server (titles unique per server, compared byte for
-- byte). Snowflakes as signed 64-bit integers; times are Unix seconds.
CREATE TABLE memos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    -- Comma-separated, lower-cased.
    tags TEXT NOT NULL DEFAULT '',
    author_discord_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (guild_id, title)
);
