-- When each user was created (axum-users; FastAPI Users' user table has no such column, and
-- FastAPI Users ignores this table): users made before it existed have no row. Unix seconds.
CREATE TABLE IF NOT EXISTS auth_user_created (
    user_id VARCHAR(64) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_auth_user_created_at ON auth_user_created (created_at);
