-- API keys for programs: a public key id, a secret kept encrypted (HMAC verification needs
-- it), an optional previous secret during a roll, and an allowlist of addresses per key.
CREATE TABLE api_keys (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    access_key VARCHAR(64) NOT NULL UNIQUE,
    memo VARCHAR(40) NOT NULL DEFAULT '',
    status VARCHAR(16) NOT NULL DEFAULT 'active',
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until BIGINT,
    expires_at BIGINT,
    last_used_at BIGINT,
    last_used_ip VARCHAR(45),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    INDEX api_keys_user_id (user_id),
    CONSTRAINT api_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE api_key_allowlist (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    key_id BIGINT NOT NULL,
    ip_address VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE KEY api_key_allowlist_entry (key_id, ip_address),
    CONSTRAINT api_key_allowlist_key FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Nonces of signed (v2) calls when no Redis is configured: one row per key and nonce until
-- the signature window has passed, so a replay is refused on every instance of the database.
CREATE TABLE api_nonces (
    key_id BIGINT NOT NULL,
    nonce_hash CHAR(64) NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce_hash),
    INDEX api_nonces_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
