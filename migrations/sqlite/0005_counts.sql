-- Row counts of large tables kept by triggers, so an unfiltered list answers its exact
-- `count` without counting every row.

CREATE TABLE table_counts (
    table_name TEXT PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
);
INSERT INTO table_counts (table_name, n) SELECT 'staffs', COUNT(*) FROM staffs;

CREATE TRIGGER staffs_count_insert AFTER INSERT ON staffs
BEGIN
    UPDATE table_counts SET n = n + 1 WHERE table_name = 'staffs';
END;

CREATE TRIGGER staffs_count_delete AFTER DELETE ON staffs
BEGIN
    UPDATE table_counts SET n = n - 1 WHERE table_name = 'staffs';
END;
