-- Second factors (axum-users, beyond FastAPI Users, which ignores these tables): a TOTP
-- enrolment per user, its recovery codes (HMAC digests), and the logins waiting for a code.
-- Times are Unix seconds.
CREATE TABLE IF NOT EXISTS auth_mfa (
    user_id VARCHAR(64) NOT NULL PRIMARY KEY,
    secret VARCHAR(128) NOT NULL,
    enabled BOOLEAN NOT NULL,
    last_step BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_recovery_code (
    user_id VARCHAR(64) NOT NULL,
    code_hash VARCHAR(64) NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
CREATE TABLE IF NOT EXISTS auth_mfa_challenge (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    backend VARCHAR(64) NOT NULL,
    method VARCHAR(64) NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_auth_mfa_challenge_user_id ON auth_mfa_challenge (user_id);
