-- SQLite's lower() folds ASCII letters only: "ÇAĞRI@x.com" and "çağrı@x.com" were two
-- accounts here and one on PostgreSQL. kadro registers the UNICODE_NOCASE collation on every
-- connection; these indexes make lookups and uniqueness ignore case for all of Unicode.
-- (A sqlite3 shell without that collation can read these tables but not write them.)
CREATE UNIQUE INDEX users_email_nocase_key ON users (email COLLATE UNICODE_NOCASE);
CREATE UNIQUE INDEX staffs_username_nocase_key ON staffs (username COLLATE UNICODE_NOCASE);
CREATE INDEX staffs_email_nocase_idx ON staffs (email COLLATE UNICODE_NOCASE, id);
