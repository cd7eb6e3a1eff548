-- Passkeys (axum-users, beyond FastAPI Users, which ignores these tables): each user's WebAuthn
-- credentials (webauthn-rs' Passkey as JSON), and the registrations and sign-ins in progress.
-- A credential id (at most 1023 bytes) is kept as base64url. Times are Unix seconds
-- (`created_us`: microseconds, which orders a user's passkeys and pending registrations).
CREATE TABLE IF NOT EXISTS auth_passkey (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    credential_id VARCHAR(1400) NOT NULL UNIQUE,
    name VARCHAR(64) NOT NULL,
    passkey TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    created_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_auth_passkey_user_id ON auth_passkey (user_id);
CREATE TABLE IF NOT EXISTS auth_passkey_ceremony (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    kind VARCHAR(16) NOT NULL,
    user_id VARCHAR(64),
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_auth_passkey_ceremony_user_id ON auth_passkey_ceremony (user_id);
CREATE INDEX IF NOT EXISTS ix_auth_passkey_ceremony_kind ON auth_passkey_ceremony (kind, expires_at);
