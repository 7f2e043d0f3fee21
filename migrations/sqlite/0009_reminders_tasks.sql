-- Reminders and tasks made from Discord, and what Herald keeps of a Discord user (the time zone
-- their times are read in). Snowflakes as signed 64-bit integers; times are Unix seconds.
-- Each reminder occurrence and each task alert is a notification in the outbox, so a failure
-- is retried and recorded there; these tables only say what is due next.
CREATE TABLE discord_users (
    discord_id BIGINT PRIMARY KEY,
    time_zone TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE reminders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The Herald account the outbox sends it for (the Discord user's linked account).
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    discord_id BIGINT NOT NULL,
    -- Where it was made (NULL: a direct message) and where it goes (NULL: a direct message).
    guild_id BIGINT,
    channel_id BIGINT,
    body TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    -- daily, weekdays, weekly, monthly; NULL: once.
    repeat_every TEXT,
    -- The day of the month a monthly reminder keeps coming back to.
    anchor_day INTEGER NOT NULL,
    -- The wall time (minutes after midnight) every repeat returns to.
    anchor_minute INTEGER NOT NULL,
    locale TEXT NOT NULL,
    next_at BIGINT NOT NULL,
    -- The occurrence waiting in the outbox, and the snooze of a delivered one.
    notification_id BIGINT,
    snoozed_id BIGINT,
    -- active, done, cancelled.
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX reminders_owner ON reminders (discord_id, state, next_at);
CREATE INDEX reminders_due ON reminders (state, next_at);

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id BIGINT NOT NULL,
    -- The channel it was added in: its alerts are posted there.
    channel_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    due_at BIGINT,
    -- Seconds before the due time to alert the assignees, comma-separated (e.g. 86400,3600).
    alerts TEXT NOT NULL DEFAULT '',
    -- open, done.
    state TEXT NOT NULL,
    created_by BIGINT NOT NULL,
    done_by BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tasks_guild ON tasks (guild_id, state, due_at);

CREATE TABLE task_assignees (
    task_id INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    discord_id BIGINT NOT NULL,
    PRIMARY KEY (task_id, discord_id)
);

-- The outbox notifications that will alert a task's assignees (cancelled when it changes).
CREATE TABLE task_alerts (
    task_id INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    notification_id BIGINT NOT NULL,
    PRIMARY KEY (task_id, notification_id)
);
