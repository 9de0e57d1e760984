DROP INDEX signing_keys_one_active;
DROP TABLE signing_keys;
