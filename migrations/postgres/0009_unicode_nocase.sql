-- Nothing to do on PostgreSQL: its lower() already folds every letter, and the expression
-- indexes of 0001 and 0003 serve case-insensitive lookups. (SQLite gets Unicode-aware
-- indexes in its 0009.)
SELECT 1;
