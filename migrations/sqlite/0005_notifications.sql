-- The notification outbox. A notification is what a caller asked for; each recipient gets a
-- delivery, which workers claim with a lease, try, and retry until it is sent, dead or
-- cancelled; every try is an attempt row. Nothing is sent that is not first committed here.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'session' (a signed-in user) or 'api_key' (then api_key_id says which).
    creator TEXT NOT NULL,
    api_key_id BIGINT,
    -- The channels in fallback order, comma-separated ('discord,email').
    channels TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    body_text TEXT NOT NULL DEFAULT '',
    body_html TEXT,
    -- JSON object of template data, shared by every recipient.
    data TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    send_at BIGINT NOT NULL
);
CREATE INDEX notifications_user_created ON notifications (user_id, created_at);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    -- The recipient as given (JSON), and how it is shown.
    recipient TEXT NOT NULL,
    recipient_label TEXT NOT NULL,
    -- Index into the notification's channels: where this recipient stands in the fallback.
    channel_index INTEGER NOT NULL DEFAULT 0,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by TEXT,
    lease_until BIGINT,
    last_error_class TEXT,
    last_error TEXT,
    provider_id TEXT,
    sent_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_notification ON deliveries (notification_id);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    -- 'sent', 'transient' or 'permanent'.
    outcome TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

-- Idempotency keys per owner: the first request's body hash and answer, kept 24 hours.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL,
    idem_key TEXT NOT NULL,
    route TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    notification_id BIGINT,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
