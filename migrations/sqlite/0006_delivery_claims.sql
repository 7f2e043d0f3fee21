-- Workers claim per channel, highest priority first, the earliest due first: one index range
-- scan per priority reads (and on MySQL/MariaDB, with FOR UPDATE SKIP LOCKED, locks) only the
-- rows a claim takes. `next_attempt_at` is the one "due" column: the send or retry time while
-- waiting, the lease's end while sending, far in the future once final.
CREATE INDEX deliveries_claim ON deliveries (channel, priority, next_attempt_at);
UPDATE deliveries SET next_attempt_at = 253402300799 WHERE state IN ('sent', 'dead', 'cancelled');
UPDATE deliveries SET next_attempt_at = lease_until WHERE state = 'sending' AND lease_until IS NOT NULL;
