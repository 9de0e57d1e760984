-- Delivery isolation and escalation (see the SQLite migration of the same name for the why).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('queued', 'in_flight', 'delivered', 'failed', 'dead', 'withheld'));

CREATE TABLE destination_outages (
    destination_id  TEXT PRIMARY KEY NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    failing_since   BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    failures        INTEGER NOT NULL,
    last_error      TEXT,
    escalated_at    BIGINT
);
CREATE INDEX destination_outages_due ON destination_outages (failing_since) WHERE escalated_at IS NULL;

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
