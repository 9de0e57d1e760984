-- Secrets of a destination (tokens, signing keys), one row per name, ENCRYPTED with AES-256-GCM
-- under the instance's secret key (HERALD_SECRET_KEY or <data_dir>/secret.key): the database
-- alone does not reveal them. The additional authenticated data binds each ciphertext to its
-- destination and name, so rows cannot be swapped between destinations unnoticed.
CREATE TABLE destination_secrets (
    destination_id  TEXT NOT NULL REFERENCES destinations (id),
    name            TEXT NOT NULL,
    -- 12 random bytes, new for every encryption
    nonce           BLOB NOT NULL,
    ciphertext      BLOB NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (destination_id, name)
);
