-- Brute-force protection and token lifecycle.

-- When a token was last used (written at most once a minute) and the User-Agent of the login
-- that issued it.
ALTER TABLE api_tokens ADD COLUMN last_used TEXT;
ALTER TABLE api_tokens ADD COLUMN user_agent TEXT;

-- Login failures and locks per account ('user:12', 'staff:3') or per login name that matches
-- no account ('user?someone@example.com'). A correct password or an unlock deletes the row.
CREATE TABLE login_guards (
    account TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    locks INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    updated_at TEXT NOT NULL
);
