-- End-of-support reminders (issue 16): one row per product, announced end-of-security-updates
-- day and lead time, written in the transaction that queues the reminder's outbox event. The
-- primary key is the dedupe key: a restarted scan, or a second process scanning at the same
-- moment, inserts nothing (and so queues no second event); fan-out then makes at most one
-- delivery per destination of that event. A changed date gives new keys: the reminders count
-- down to the new date.
CREATE TABLE lifecycle_reminders (
    dedupe_key     TEXT PRIMARY KEY,
    product_id     TEXT NOT NULL REFERENCES products (id),
    -- the end-of-security-updates day counted down to, YYYY-MM-DD
    due_date       TEXT NOT NULL,
    lead_days      INTEGER NOT NULL,
    -- the outbox event (kind end_of_support) it queued
    event_id       TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX lifecycle_reminders_product ON lifecycle_reminders (product_id);
