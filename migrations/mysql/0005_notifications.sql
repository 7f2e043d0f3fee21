-- The notification outbox. A notification is what a caller asked for; each recipient gets a
-- delivery, which workers claim with a lease, try, and retry until it is sent, dead or
-- cancelled; every try is an attempt row. Nothing is sent that is not first committed here.
-- Binary collation throughout: an idempotency key or a state compares byte for byte.
CREATE TABLE notifications (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    creator VARCHAR(16) NOT NULL,
    api_key_id BIGINT,
    channels VARCHAR(64) NOT NULL,
    subject TEXT NOT NULL,
    body_text MEDIUMTEXT NOT NULL,
    body_html MEDIUMTEXT,
    data MEDIUMTEXT,
    priority INT NOT NULL DEFAULT 0,
    idempotency_key VARCHAR(255),
    created_at BIGINT NOT NULL,
    send_at BIGINT NOT NULL,
    INDEX notifications_user_created (user_id, created_at),
    CONSTRAINT notifications_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE deliveries (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    notification_id BIGINT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_label VARCHAR(320) NOT NULL,
    channel_index INT NOT NULL DEFAULT 0,
    channel VARCHAR(16) NOT NULL,
    state VARCHAR(16) NOT NULL,
    priority INT NOT NULL DEFAULT 0,
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by VARCHAR(64),
    lease_until BIGINT,
    last_error_class VARCHAR(16),
    last_error TEXT,
    provider_id VARCHAR(255),
    sent_at BIGINT,
    updated_at BIGINT NOT NULL,
    INDEX deliveries_notification (notification_id),
    INDEX deliveries_due (state, next_attempt_at),
    CONSTRAINT deliveries_notification_fk FOREIGN KEY (notification_id) REFERENCES notifications (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE delivery_attempts (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    delivery_id BIGINT NOT NULL,
    channel VARCHAR(16) NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    outcome VARCHAR(16) NOT NULL,
    answer TEXT NOT NULL,
    INDEX delivery_attempts_delivery (delivery_id),
    CONSTRAINT delivery_attempts_delivery_fk FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL,
    idem_key VARCHAR(255) NOT NULL,
    route VARCHAR(128) NOT NULL,
    body_hash CHAR(64) NOT NULL,
    notification_id BIGINT,
    status INT NOT NULL,
    response MEDIUMTEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key),
    INDEX idempotency_keys_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
