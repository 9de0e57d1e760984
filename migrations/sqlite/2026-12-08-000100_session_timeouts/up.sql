-- Sessions end after an idle timeout as well as their absolute lifetime (issue 15): the last
-- use is recorded (each use renews the idle timeout), and the browser's description is kept
-- for the user's list of their sessions. Open sessions count as used when they were made.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
