-- The delivery engine's circuit breaker, one row per destination that has failed since it last
-- answered: shared by every herald process on this database and kept across restarts, so that
-- a destination found down stays paused for its cool-down whichever worker claims next.
-- No row means closed with no failures. Times are microseconds since the Unix epoch.
CREATE TABLE destination_health (
    destination_id        TEXT PRIMARY KEY NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
    -- `closed` (counting failures), `open` (paused until next_probe_at) or `half-open` (one
    -- probe delivery claimed; its outcome closes or reopens the breaker)
    state                 TEXT NOT NULL,
    consecutive_failures  INTEGER NOT NULL,
    opened_at             BIGINT,
    next_probe_at         BIGINT,
    updated_at            BIGINT NOT NULL
);
