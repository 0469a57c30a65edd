-- Exports: one row per requested export file, found by its cache key.
-- Timestamps are fixed-width RFC 3339 UTC text written by kadro, so they sort as strings.

CREATE TABLE exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cache_key TEXT NOT NULL UNIQUE CHECK (length(cache_key) = 32),
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user', 'staff', 'service')),
    owner_id INTEGER,
    list TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('csv', 'xls', 'xlsx')),
    fields TEXT NOT NULL,
    filter TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'processing', 'completed', 'failed')),
    reason TEXT,
    rows_written INTEGER NOT NULL DEFAULT 0,
    rows_total INTEGER,
    file_name TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX exports_expires_idx ON exports (expires_at);
