-- Imports: one row per uploaded file, found by its cache key; the refused rows of each.
-- `rows_done` is the number of data rows whose batch has committed: a resumed import skips them.

CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cache_key TEXT NOT NULL UNIQUE CHECK (length(cache_key) = 32),
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user', 'staff', 'service')),
    owner_id INTEGER,
    target TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('create', 'upsert')),
    dry_run BOOLEAN NOT NULL,
    file_path TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'processing', 'completed', 'failed')),
    reason TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    rows_total INTEGER,
    rows_done INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX imports_expires_idx ON imports (expires_at);

CREATE TABLE import_errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    import_id INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_number INTEGER NOT NULL,
    field TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX import_errors_import_idx ON import_errors (import_id, id);
