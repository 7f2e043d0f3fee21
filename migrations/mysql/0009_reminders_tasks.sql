-- Reminders and tasks made from Discord, and what Herald keeps of a Discord user (the time zone
-- their times are read in). Snowflakes as signed 64-bit integers; times are Unix seconds.
-- Each reminder occurrence and each task alert is a notification in the outbox, so a failure
-- is retried and recorded there; these tables only say what is due next.
CREATE TABLE discord_users (
    discord_id BIGINT NOT NULL PRIMARY KEY,
    time_zone VARCHAR(64) NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE reminders (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- The Herald account the outbox sends it for (the Discord user's linked account).
    user_id BIGINT NOT NULL,
    discord_id BIGINT NOT NULL,
    -- Where it was made (NULL: a direct message) and where it goes (NULL: a direct message).
    guild_id BIGINT,
    channel_id BIGINT,
    body TEXT NOT NULL,
    time_zone VARCHAR(64) NOT NULL,
    -- daily, weekdays, weekly, monthly; NULL: once.
    repeat_every VARCHAR(16),
    -- The day of the month a monthly reminder keeps coming back to.
    anchor_day INT NOT NULL,
    -- The wall time (minutes after midnight) every repeat returns to.
    anchor_minute INT NOT NULL,
    locale VARCHAR(8) NOT NULL,
    next_at BIGINT NOT NULL,
    -- The occurrence waiting in the outbox, and the snooze of a delivered one.
    notification_id BIGINT,
    snoozed_id BIGINT,
    -- active, done, cancelled.
    state VARCHAR(16) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    INDEX reminders_owner (discord_id, state, next_at),
    INDEX reminders_due (state, next_at),
    CONSTRAINT reminders_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE tasks (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    guild_id BIGINT NOT NULL,
    -- The channel it was added in: its alerts are posted there.
    channel_id BIGINT NOT NULL,
    title VARCHAR(200) NOT NULL,
    due_at BIGINT,
    -- Seconds before the due time to alert the assignees, comma-separated (e.g. 86400,3600).
    alerts VARCHAR(100) NOT NULL DEFAULT '',
    -- open, done.
    state VARCHAR(16) NOT NULL,
    created_by BIGINT NOT NULL,
    done_by BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    INDEX tasks_guild (guild_id, state, due_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE task_assignees (
    task_id BIGINT NOT NULL,
    discord_id BIGINT NOT NULL,
    PRIMARY KEY (task_id, discord_id),
    CONSTRAINT task_assignees_task FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The outbox notifications that will alert a task's assignees (cancelled when it changes).
CREATE TABLE task_alerts (
    task_id BIGINT NOT NULL,
    notification_id BIGINT NOT NULL,
    PRIMARY KEY (task_id, notification_id),
    CONSTRAINT task_alerts_task FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
