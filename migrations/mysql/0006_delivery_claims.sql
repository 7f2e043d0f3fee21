-- Workers claim per channel, in priority order: an index that serves that query exactly, so a
-- claim reads (and with FOR UPDATE SKIP LOCKED locks) only the rows it takes, not every due
-- row of every channel.
CREATE INDEX deliveries_claim ON deliveries (channel, state, priority, next_attempt_at);
