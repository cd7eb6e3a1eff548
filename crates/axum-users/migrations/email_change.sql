-- Confirmed e-mail changes (axum-users, opt-in; FastAPI Users ignores this table): the address
-- a user asked to switch to, until its verification link is used. Times are Unix seconds.
CREATE TABLE IF NOT EXISTS auth_email_change (
    user_id VARCHAR(64) NOT NULL PRIMARY KEY,
    email VARCHAR(320) NOT NULL,
    requested_at BIGINT NOT NULL
);
