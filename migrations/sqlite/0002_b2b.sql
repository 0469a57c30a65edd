-- B2B: indexes behind every user filter, and exact list counts kept by triggers so an
-- unfiltered (or is_active-filtered) users list never counts a million rows per request.

CREATE INDEX divisions_type_idx ON divisions (division_type, id);
CREATE INDEX divisions_active_idx ON divisions (is_active, id);
CREATE INDEX users_listed_idx ON users (id) WHERE remote_id IS NOT NULL;
CREATE INDEX users_active_listed_idx ON users (is_active, id) WHERE remote_id IS NOT NULL;
CREATE INDEX users_division_listed_idx ON users (division_id, id) WHERE remote_id IS NOT NULL;
CREATE INDEX users_email_idx ON users (email);

-- Users shown by the users list (remote_id set), by is_active.
CREATE TABLE user_list_counts (
    is_active BOOLEAN PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
);
INSERT INTO user_list_counts (is_active, n)
    SELECT 0, (SELECT COUNT(*) FROM users WHERE remote_id IS NOT NULL AND is_active = 0)
    UNION ALL
    SELECT 1, (SELECT COUNT(*) FROM users WHERE remote_id IS NOT NULL AND is_active = 1);

CREATE TRIGGER users_count_insert AFTER INSERT ON users WHEN NEW.remote_id IS NOT NULL
BEGIN
    UPDATE user_list_counts SET n = n + 1 WHERE is_active = NEW.is_active;
END;

CREATE TRIGGER users_count_delete AFTER DELETE ON users WHEN OLD.remote_id IS NOT NULL
BEGIN
    UPDATE user_list_counts SET n = n - 1 WHERE is_active = OLD.is_active;
END;

CREATE TRIGGER users_count_update AFTER UPDATE OF remote_id, is_active ON users
BEGIN
    UPDATE user_list_counts SET n = n - 1 WHERE OLD.remote_id IS NOT NULL AND is_active = OLD.is_active;
    UPDATE user_list_counts SET n = n + 1 WHERE NEW.remote_id IS NOT NULL AND is_active = NEW.is_active;
END;
