-- The audit log: one row per change made through the API or the command line, per login,
-- logout, lock and unlock. Written in the transaction of the change it records; rows are never
-- updated, and deleted only by retention (KADRO_AUDIT_RETENTION_DAYS).
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    created_date TIMESTAMPTZ NOT NULL,
    action TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id BIGINT,
    actor_email TEXT,
    target_type TEXT NOT NULL,
    target_id BIGINT,
    changes TEXT NOT NULL DEFAULT '{}',
    request_id TEXT,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX audit_events_created ON audit_events (created_date, id);
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_actor ON audit_events (actor_kind, actor_id, id);
CREATE INDEX audit_events_target ON audit_events (target_type, target_id, id);
