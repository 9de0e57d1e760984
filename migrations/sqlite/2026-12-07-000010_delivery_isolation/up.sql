-- Delivery isolation and escalation.
--
-- 1. `withheld`: a delivery whose destination's organization may no longer read the advisory
--    when its attempt comes (entitlement re-checked at send time: first try, retry, replay) ends
--    here instead of being sent. SQLite cannot change a CHECK constraint in place, so the table
--    is rebuilt: its rows are kept aside, the table is made anew and filled again. Foreign keys
--    (delivery_attempts -> deliveries) are deferred to the commit, by which time every parent row
--    is back under the same id.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE deliveries_keep AS SELECT * FROM deliveries;
DROP TABLE deliveries;
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    event_id        TEXT NOT NULL REFERENCES outbox_events (id),
    destination_id  TEXT NOT NULL REFERENCES destinations (id),
    advisory_id     TEXT REFERENCES advisories (id),
    -- created_at of the event: deliveries to one destination go out in this order
    event_at        BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'in_flight', 'delivered', 'failed', 'dead', 'withheld')),
    -- attempts made so far (claims count: a crashed worker's attempt is still an attempt)
    attempts        INTEGER NOT NULL,
    -- value of attempts when the delivery was last replayed: the retry budget restarts there
    replay_base     INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    receipt         TEXT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    UNIQUE (event_id, destination_id)
);
INSERT INTO deliveries SELECT * FROM deliveries_keep;
DROP TABLE deliveries_keep;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_destination ON deliveries (destination_id, status, event_at);
CREATE INDEX deliveries_advisory ON deliveries (advisory_id, destination_id);
CREATE INDEX deliveries_open ON deliveries (destination_id, event_at, event_id)
    WHERE status IN ('queued', 'in_flight');

-- 2. A destination's failure episode: from its first failed attempt (any outcome but delivered)
--    until an attempt is delivered. One row per destination that is failing now. When the
--    episode is older than the operator's escalation time, the escalation claim sets
--    escalated_at (once per episode) and queues Herald's own mail to the people who must know.
CREATE TABLE destination_outages (
    destination_id  TEXT PRIMARY KEY NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    failing_since   BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    failures        INTEGER NOT NULL,
    last_error      TEXT,
    escalated_at    BIGINT
);
CREATE INDEX destination_outages_due ON destination_outages (failing_since) WHERE escalated_at IS NULL;

-- 3. Herald's own mail (escalations now; invitations and password resets later): queued in the
--    transaction that decides to send it, claimed under a lease like deliveries, every attempt's
--    result kept on the row. `dedupe_key` makes queuing the same message twice a no-op.
CREATE TABLE system_mail (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX system_mail_due ON system_mail (status, next_attempt_at);
