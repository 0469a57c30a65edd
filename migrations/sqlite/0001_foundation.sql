-- Foundation: settings, divisions, B2B accounts, API tokens and the job queue.
-- Timestamps are fixed-width RFC 3339 UTC text written by kadro, so they sort as strings.

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE divisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    division_type TEXT NOT NULL CHECK (division_type IN ('main', 'sub')),
    parent_id INTEGER REFERENCES divisions (id) ON DELETE RESTRICT,
    erp_code TEXT,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    extra_data TEXT NOT NULL DEFAULT '{}',
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
CREATE INDEX divisions_parent_idx ON divisions (parent_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    phone_number TEXT NOT NULL DEFAULT '',
    division_id INTEGER REFERENCES divisions (id) ON DELETE RESTRICT,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    is_staff BOOLEAN NOT NULL DEFAULT 0,
    is_superuser BOOLEAN NOT NULL DEFAULT 0,
    shop_token TEXT NOT NULL DEFAULT '',
    remote_id INTEGER,
    language TEXT NOT NULL DEFAULT '',
    date_joined TEXT NOT NULL,
    last_login TEXT
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_division_idx ON users (division_id, id);
CREATE INDEX users_staff_idx ON users (is_staff, id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash TEXT NOT NULL UNIQUE,
    account_kind TEXT NOT NULL CHECK (account_kind IN ('user', 'staff')),
    account_id INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX api_tokens_account_idx ON api_tokens (account_kind, account_id);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at TEXT NOT NULL,
    locked_by TEXT,
    locked_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_ready_idx ON jobs (status, run_at);
CREATE INDEX jobs_lease_idx ON jobs (status, locked_until);
