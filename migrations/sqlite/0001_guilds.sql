-- Servers the bot has joined, kept current from gateway events so pages never ask Discord
-- per request. Snowflakes fit in a signed 64-bit integer; times are Unix seconds.
CREATE TABLE guilds (
    id BIGINT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    icon TEXT,
    member_count BIGINT,
    joined_at BIGINT NOT NULL,
    left_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX guilds_left_at ON guilds (left_at);
