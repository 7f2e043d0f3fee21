-- Servers the bot has joined, kept current from gateway events so pages never ask Discord
-- per request. Snowflakes fit in a signed 64-bit integer; times are Unix seconds.
CREATE TABLE guilds (
    id BIGINT NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    icon VARCHAR(64),
    member_count BIGINT,
    joined_at BIGINT NOT NULL,
    left_at BIGINT,
    updated_at BIGINT NOT NULL,
    INDEX guilds_left_at (left_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
