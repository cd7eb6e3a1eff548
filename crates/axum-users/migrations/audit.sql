-- The audit trail (axum-users, beyond FastAPI Users, which ignores this table): one row per
-- security event, kept after the user is deleted, purged after the retention. `at` is Unix
-- milliseconds; `detail` a JSON object without secrets.
CREATE TABLE IF NOT EXISTS auth_event (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    at BIGINT NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    user_id VARCHAR(64),
    actor_id VARCHAR(64),
    ip VARCHAR(64),
    user_agent VARCHAR(256),
    request_id VARCHAR(128),
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_auth_event_at ON auth_event (at);
CREATE INDEX IF NOT EXISTS ix_auth_event_user_id ON auth_event (user_id, at);
