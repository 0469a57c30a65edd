-- B2B: indexes behind every user filter (trigram for the case-insensitive contains filters),
-- and exact list counts kept by statement-level triggers so an unfiltered (or
-- is_active-filtered) users list never counts a million rows per request.

CREATE INDEX divisions_type_idx ON divisions (division_type, id);
CREATE INDEX divisions_active_idx ON divisions (is_active, id);
CREATE INDEX divisions_name_trgm ON divisions USING gin (name gin_trgm_ops);
CREATE INDEX users_listed_idx ON users (id) WHERE remote_id IS NOT NULL;
CREATE INDEX users_active_listed_idx ON users (is_active, id) WHERE remote_id IS NOT NULL;
CREATE INDEX users_division_listed_idx ON users (division_id, id) WHERE remote_id IS NOT NULL;
CREATE INDEX users_email_trgm ON users USING gin (email gin_trgm_ops);
CREATE INDEX users_first_name_trgm ON users USING gin (first_name gin_trgm_ops);
CREATE INDEX users_last_name_trgm ON users USING gin (last_name gin_trgm_ops);
CREATE INDEX users_phone_number_trgm ON users USING gin (phone_number gin_trgm_ops);

CREATE TABLE user_list_counts (
    is_active BOOLEAN PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO user_list_counts (is_active, n)
    SELECT flag, (SELECT COUNT(*) FROM users WHERE remote_id IS NOT NULL AND is_active = flag)
    FROM (VALUES (FALSE), (TRUE)) AS flags (flag);

CREATE FUNCTION user_list_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE user_list_counts c SET n = c.n - d.k
        FROM (SELECT is_active, COUNT(*) AS k FROM old_rows WHERE remote_id IS NOT NULL GROUP BY is_active) d
        WHERE c.is_active = d.is_active;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE user_list_counts c SET n = c.n + d.k
        FROM (SELECT is_active, COUNT(*) AS k FROM new_rows WHERE remote_id IS NOT NULL GROUP BY is_active) d
        WHERE c.is_active = d.is_active;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_list_counts_apply();
CREATE TRIGGER users_count_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_list_counts_apply();
CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION user_list_counts_apply();
