-- FastAPI Users' tables as fastapi-users-db-sqlalchemy 7.0.0 creates them on PostgreSQL
-- (native uuid, timestamptz, the reserved word "user" quoted). Idempotent: an existing
-- FastAPI Users database is left as it is.
CREATE TABLE IF NOT EXISTS "user" (
	id UUID NOT NULL,
	email VARCHAR(320) NOT NULL,
	hashed_password VARCHAR(1024) NOT NULL,
	is_active BOOLEAN NOT NULL,
	is_superuser BOOLEAN NOT NULL,
	is_verified BOOLEAN NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_user_email ON "user" (email);

CREATE TABLE IF NOT EXISTS accesstoken (
	user_id UUID NOT NULL,
	token VARCHAR(43) NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (token),
	FOREIGN KEY(user_id) REFERENCES "user" (id) ON DELETE cascade
);
CREATE INDEX IF NOT EXISTS ix_accesstoken_created_at ON accesstoken (created_at);

CREATE TABLE IF NOT EXISTS oauth_account (
	id UUID NOT NULL,
	user_id UUID NOT NULL,
	oauth_name VARCHAR(100) NOT NULL,
	access_token VARCHAR(1024) NOT NULL,
	expires_at INTEGER,
	refresh_token VARCHAR(1024),
	account_id VARCHAR(320) NOT NULL,
	account_email VARCHAR(320) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES "user" (id) ON DELETE cascade
);
CREATE INDEX IF NOT EXISTS ix_oauth_account_account_id ON oauth_account (account_id);
CREATE INDEX IF NOT EXISTS ix_oauth_account_oauth_name ON oauth_account (oauth_name);
