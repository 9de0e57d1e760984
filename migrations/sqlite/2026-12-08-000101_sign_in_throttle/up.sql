-- Failed sign-ins per key (`account:<e-mail>`, `address:<client address>`), for exponential
-- backoff and temporary lockout (issue 15). Keys exist for unknown accounts too, so an
-- unknown e-mail is answered like a known one.
CREATE TABLE sign_in_throttle (
    key              TEXT PRIMARY KEY NOT NULL,
    failures         INTEGER NOT NULL,
    last_failure_at  BIGINT NOT NULL,
    -- set once the key is locked out; an admin may lift it by deleting the row
    locked_until     BIGINT
);
