-- Row counts of large tables kept by statement-level triggers, so an unfiltered list answers
-- its exact `count` without counting every row.

CREATE TABLE table_counts (
    table_name TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO table_counts (table_name, n) SELECT 'staffs', COUNT(*) FROM staffs;

CREATE FUNCTION staffs_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE table_counts SET n = n + (SELECT COUNT(*) FROM new_rows) WHERE table_name = 'staffs';
    ELSE
        UPDATE table_counts SET n = n - (SELECT COUNT(*) FROM old_rows) WHERE table_name = 'staffs';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER staffs_count_insert AFTER INSERT ON staffs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION staffs_count_apply();
CREATE TRIGGER staffs_count_delete AFTER DELETE ON staffs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION staffs_count_apply();
