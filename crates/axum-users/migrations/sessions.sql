-- Sessions (axum-users, beyond FastAPI Users, which ignores this table): one row per login,
-- with the refresh-token generation that rotation moves on. Times are Unix seconds.
CREATE TABLE IF NOT EXISTS auth_session (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    backend VARCHAR(64) NOT NULL,
    method VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT,
    ip VARCHAR(64),
    user_agent VARCHAR(256),
    refresh BOOLEAN NOT NULL,
    generation BIGINT NOT NULL,
    rotated_at BIGINT NOT NULL,
    access_token TEXT NOT NULL,
    access_key VARCHAR(64) NOT NULL,
    secret VARCHAR(64) NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_auth_session_user_id ON auth_session (user_id);
CREATE INDEX IF NOT EXISTS ix_auth_session_access_key ON auth_session (access_key);
CREATE INDEX IF NOT EXISTS ix_auth_session_expires_at ON auth_session (expires_at);
