-- PostgreSQL's 0011 makes every change to authentication or authorisation NOTIFY the other
-- kadro nodes. SQLite serves a single process, whose token cache already forgets what it cached
-- whenever a write commits through its own pool, so there is nothing to add here.
SELECT 1;
