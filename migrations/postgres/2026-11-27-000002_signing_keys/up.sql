-- The provider's OpenPGP signing keys (CSAF 7.1.19/7.1.20). Every key that ever signed a document
-- stays here so its public part can still be served (older `.asc` files keep verifying); exactly
-- one is active and signs new publications. The partial unique index makes a second active key
-- impossible, so two Herald processes that create the first key at the same time cannot both win.
--
-- secret_key holds the armoured secret key sealed with AES-256-GCM under the instance secret key
-- (`herald-sealed:v1:...`, bound to the fingerprint); Herald signs unattended, so the OpenPGP key
-- itself has no passphrase.
CREATE TABLE signing_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    -- upper-case hex fingerprint of the primary key
    fingerprint  TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    secret_key   TEXT NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT FALSE,
    -- 'generated' or 'imported'
    origin       TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active;
