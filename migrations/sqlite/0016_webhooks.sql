-- Webhooks: endpoints told of audit events, the actions (or `prefix.*`, `*`) each subscribes
-- to, and the outbox of deliveries, written in the transaction of the change they announce.
-- A delivery is `waiting` behind an earlier one for the same webhook and object, `pending`
-- while it is being attempted, then `delivered` or `failed`.
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    is_active BOOLEAN NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- Failed attempts since the last 2xx; reaching KADRO_WEBHOOK_DISABLE_AFTER deactivates it.
    failures INTEGER NOT NULL DEFAULT 0,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);

CREATE TABLE webhook_events (
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    pattern TEXT NOT NULL,
    PRIMARY KEY (webhook_id, pattern)
);
CREATE INDEX webhook_events_pattern ON webhook_events (pattern, webhook_id);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id INTEGER,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error TEXT,
    last_attempt_date TEXT,
    next_attempt_date TEXT,
    created_date TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_object
    ON webhook_deliveries (webhook_id, target_type, target_id, status, id);
