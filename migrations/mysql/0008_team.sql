-- What a team keeps from Discord: memos per server (titles unique per server, compared byte for
-- byte by the binary collation). Snowflakes as signed 64-bit integers; times are Unix seconds.
CREATE TABLE memos (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    guild_id BIGINT NOT NULL,
    title VARCHAR(100) NOT NULL,
    body TEXT NOT NULL,
    -- Comma-separated, lower-cased.
    tags VARCHAR(255) NOT NULL DEFAULT '',
    author_discord_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE KEY memos_guild_title (guild_id, title)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
