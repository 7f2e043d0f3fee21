-- API keys for programs: a public key id, a secret kept encrypted (HMAC verification needs
-- it), an optional previous secret during a roll, and an allowlist of addresses per key.
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_key TEXT NOT NULL UNIQUE,
    memo TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active',
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until BIGINT,
    expires_at BIGINT,
    last_used_at BIGINT,
    last_used_ip TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX api_keys_user_id ON api_keys (user_id);

CREATE TABLE api_key_allowlist (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    ip_address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (key_id, ip_address)
);

-- Nonces of signed (v2) calls when no Redis is configured: one row per key and nonce until
-- the signature window has passed, so a replay is refused on every instance of the database.
CREATE TABLE api_nonces (
    key_id BIGINT NOT NULL,
    nonce_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce_hash)
);
CREATE INDEX api_nonces_expires_at ON api_nonces (expires_at);
