-- The webhook queue (axum-users, beyond FastAPI Users): one row per event and endpoint, written
-- by the request that recorded the event, sent by the delivery loop. Times are Unix ms.
CREATE TABLE IF NOT EXISTS auth_webhook_delivery (
    id VARCHAR(128) NOT NULL PRIMARY KEY,
    endpoint BIGINT NOT NULL,
    user_id VARCHAR(64),
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    gave_up BOOLEAN NOT NULL,
    last_error VARCHAR(500)
);
CREATE INDEX IF NOT EXISTS ix_auth_webhook_delivery_due ON auth_webhook_delivery (next_attempt_at);
CREATE INDEX IF NOT EXISTS ix_auth_webhook_delivery_user ON auth_webhook_delivery (endpoint, user_id, id);
