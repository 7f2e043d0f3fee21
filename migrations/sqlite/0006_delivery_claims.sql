-- Workers claim per channel, in priority order: an index that serves that query exactly, so a
-- claim reads (and on MySQL/MariaDB locks) only the rows it takes.
CREATE INDEX deliveries_claim ON deliveries (channel, state, priority, next_attempt_at);
