//! The PostgreSQL store: FastAPI Users' schema (table `"user"`, native `uuid` or `SERIAL` ids,
//! `timestamptz`), one column per custom field, and the access tokens of the database strategy.

// Statements are built from the schema's column names, which `UserSchema::check` restricts to
// `[a-z_][a-z0-9_]*` (at most 63 characters); every value is a bound parameter. That is what
// each `AssertSqlSafe` below asserts.
use sqlx::AssertSqlSafe;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{Arguments as _, PgPool, Row as _};

use super::{
    AccessTokenStore, Dialect, OAuthAccount, OAuthAccountStore, StoreError, UserPatch, UserStore,
};
use crate::user::{FieldKind, UserSchema};
use crate::{IdKind, User, UserId};

const MIGRATION: &str = include_str!("../../migrations/postgres/0001_fastapi_users.sql");
/// The `auth_session` table (axum-users' own; FastAPI Users ignores it), the same SQL on
/// SQLite and PostgreSQL.
const SESSIONS: &str = include_str!("../../migrations/sessions.sql");
/// The second-factor tables (axum-users' own), the same SQL on SQLite and PostgreSQL.
const MFA: &str = include_str!("../../migrations/mfa.sql");

super::mfa_sql::mfa_store!(PostgresStore, map_err);
const AUDIT: &str = include_str!("../../migrations/audit.sql");
super::audit_sql::audit_store!(PostgresStore, map_err);
const EMAIL_CHANGES: &str = include_str!("../../migrations/email_change.sql");
const USER_CREATED: &str = include_str!("../../migrations/user_created.sql");
super::email_change_sql::email_change_store!(PostgresStore, map_err);
#[cfg(feature = "webhooks")]
const WEBHOOKS: &str = include_str!("../../migrations/webhooks.sql");
#[cfg(feature = "webhooks")]
super::webhook_sql::webhook_store!(PostgresStore, map_err);
#[cfg(feature = "passkeys")]
const PASSKEYS: &str = include_str!("../../migrations/passkeys.sql");
#[cfg(feature = "passkeys")]
super::passkeys_sql::passkey_store!(PostgresStore, PgRow, map_err);

super::sessions::session_store!(PostgresStore, PgRow, map_err);

/// Users in PostgreSQL, for deployments of several instances.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_users::StoreError> {
/// use axum_users::{PostgresStore, UserSchema};
/// let store = PostgresStore::connect("postgres://app@db/app", UserSchema::new()).await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: UserSchema,
    ids: IdKind,
    /// Writes to the user table heard through `LISTEN` (see [`PostgresStore::watch_writes`]).
    watch: Option<std::sync::Arc<Watch>>,
    /// Every column a user is read from, for `SELECT` and `RETURNING`.
    columns: String,
    select: String,
    insert: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("ids", &self.ids)
            .finish_non_exhaustive()
    }
}

fn map_err(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        // 08xxx connection exceptions, 53xxx insufficient resources, 57P0x shutdown.
        sqlx::Error::Database(db)
            if db.code().is_some_and(|c| {
                c.starts_with("08") || c.starts_with("53") || c.starts_with("57P")
            }) =>
        {
            StoreError::Unavailable(err.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Other(err.to_string()),
    }
}

/// A custom column as the store reads it: dates as ISO text, numbers widened.
fn select_column(name: &str, kind: FieldKind) -> String {
    match kind {
        FieldKind::Date => format!("\"{name}\"::text"),
        FieldKind::Integer => format!("\"{name}\"::bigint"),
        FieldKind::Float => format!("\"{name}\"::float8"),
        FieldKind::String { .. } => format!("\"{name}\"::text"),
        FieldKind::Boolean => format!("\"{name}\""),
    }
}

/// The SQL type of a new custom column.
fn column_type(kind: FieldKind) -> String {
    match kind {
        FieldKind::Integer => "BIGINT".into(),
        FieldKind::Float => "DOUBLE PRECISION".into(),
        other => other.sql_type(),
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`). A request waits at most 3 s
    /// for a connection, then answers 503; the pool reconnects by itself when the database is
    /// back.
    pub async fn connect(url: &str, schema: UserSchema) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid PostgreSQL URL: {e}")))?;
        Self::connect_with(options, schema).await
    }

    /// Connects with explicit options (e.g. a `search_path`). The kind of ids is the existing
    /// `user` table's (UUIDs for a new database; see [`PostgresStore::with_id_kind`]).
    pub async fn connect_with(
        options: PgConnectOptions,
        schema: UserSchema,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .idle_timeout(Some(Duration::from_secs(300)))
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        let store = Self::new(pool, schema);
        Ok(match store.existing_id_kind().await? {
            Some(kind) => store.with_id_kind(kind),
            None => store,
        })
    }

    /// Wraps an existing pool; the store holds UUIDs unless [`PostgresStore::with_id_kind`]
    /// says otherwise.
    pub fn new(pool: PgPool, schema: UserSchema) -> Self {
        Self::build(pool, schema, IdKind::Uuid)
    }

    /// The kind of ids the store holds: for a new database, the kind
    /// [`migrate`](PostgresStore::migrate) creates the tables with (`SERIAL` keys for
    /// [`IdKind::Integer`], as SQLAlchemy makes them for FastAPI Users' `IntegerIDMixin`); for
    /// an existing one, `migrate` refuses a kind other than the table's.
    #[must_use]
    pub fn with_id_kind(self, kind: IdKind) -> Self {
        Self {
            watch: self.watch.clone(),
            ..Self::build(self.pool, self.schema, kind)
        }
    }

    /// The kind of ids of the existing `user` table, `None` when there is none yet.
    pub async fn existing_id_kind(&self) -> Result<Option<IdKind>, StoreError> {
        existing_id_kind(&self.pool).await
    }

    fn build(pool: PgPool, schema: UserSchema, ids: IdKind) -> Self {
        let mut select = vec![
            "id::text".to_owned(),
            "email".to_owned(),
            "hashed_password".to_owned(),
            "is_active".to_owned(),
            "is_superuser".to_owned(),
            "is_verified".to_owned(),
        ];
        let mut columns = select.clone();
        columns[0] = "id".to_owned();
        let mut casts = vec![""; 6];
        for field in schema.fields() {
            select.push(select_column(&field.name, field.kind));
            columns.push(format!("\"{}\"", field.name));
            casts.push(if field.kind == FieldKind::Date {
                "::date"
            } else {
                ""
            });
        }
        // Insert binds the columns in order, id first, the e-mail key last.
        casts.push("");
        columns.push("email_key".to_owned());
        if ids == IdKind::Integer {
            // The database assigns the id.
            columns.remove(0);
            casts.remove(0);
        }
        let values: Vec<String> = casts
            .iter()
            .enumerate()
            .map(|(i, cast)| format!("${}{cast}", i + 1))
            .collect();
        let read = format!("{}, token_version", select.join(", "));
        Self {
            select: format!("SELECT {read} FROM \"user\""),
            insert: format!(
                "INSERT INTO \"user\" ({}) VALUES ({}) RETURNING id::text",
                columns.join(", "),
                values.join(", ")
            ),
            columns: read,
            pool,
            schema,
            ids,
            watch: None,
        }
    }

    /// Binds an id of the store's kind; `None` for the other kind, which names no row.
    fn bind_id<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Postgres, PgArguments>,
        id: UserId,
    ) -> Option<sqlx::query::Query<'q, sqlx::Postgres, PgArguments>> {
        match (self.ids, id) {
            (IdKind::Uuid, UserId::Uuid(id)) => Some(query.bind(id)),
            (IdKind::Integer, UserId::Int(id)) => Some(query.bind(id)),
            _ => None,
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates FastAPI Users' tables when missing, a column per custom field, and a
    /// case-insensitive e-mail index; under an advisory lock, so that instances starting
    /// together do not race.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // Any fixed key: "axum-users" in ASCII.
        sqlx::query("SELECT pg_advisory_xact_lock(6172058547617313395)")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(found) = existing_id_kind(&mut *tx).await? {
            if found != self.ids {
                return Err(super::kind_mismatch(self.ids, found));
            }
        }
        let migration = match self.ids {
            // SQLAlchemy's DDL for `Mapped[int]` keys.
            IdKind::Integer => MIGRATION
                .replace("user_id UUID", "user_id INTEGER")
                .replace("id UUID", "id SERIAL"),
            _ => MIGRATION.to_owned(),
        };
        sqlx::raw_sql(AssertSqlSafe(migration))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(SESSIONS)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(MFA)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(AUDIT)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(EMAIL_CHANGES)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(USER_CREATED)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        #[cfg(feature = "webhooks")]
        sqlx::raw_sql(WEBHOOKS)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        #[cfg(feature = "passkeys")]
        sqlx::raw_sql(PASSKEYS)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let duplicates: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM \"user\" GROUP BY lower(email) HAVING count(*) > 1)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let index = if duplicates {
            tracing::warn!(
                "the user table holds e-mails that differ only in letter case; \
                 creating a non-unique case-insensitive index instead"
            );
            "CREATE INDEX IF NOT EXISTS ix_user_email_lower ON \"user\" (lower(email))"
        } else {
            "CREATE UNIQUE INDEX IF NOT EXISTS ix_user_email_lower ON \"user\" (lower(email))"
        };
        sqlx::query(index)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let linked_twice: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM oauth_account GROUP BY oauth_name, account_id \
             HAVING count(*) > 1)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if linked_twice {
            tracing::warn!(
                "the oauth_account table links one provider account to several users; \
                 new links are still checked, but the existing ones are left as they are"
            );
        } else {
            sqlx::query(
                "CREATE UNIQUE INDEX IF NOT EXISTS ix_oauth_account_provider_account \
                 ON oauth_account (oauth_name, account_id)",
            )
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        let existing: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'user'",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        if !existing.iter().any(|c| c == "token_version") {
            sqlx::query("ALTER TABLE \"user\" ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0")
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        if !existing.iter().any(|c| c == "email_key") {
            sqlx::query("ALTER TABLE \"user\" ADD COLUMN email_key VARCHAR(320)")
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        sqlx::query("CREATE UNIQUE INDEX IF NOT EXISTS ix_user_email_key ON \"user\" (email_key)")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        fill_email_keys(&mut tx, self.ids).await?;
        // Every committed write to the table, whoever makes it (another instance, FastAPI
        // Users, psql), is announced to the instances that watch it.
        sqlx::raw_sql(WRITE_TRIGGER)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let triggered: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger \
             WHERE tgname = 'axum_users_user_written' AND tgrelid = '\"user\"'::regclass)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if !triggered {
            sqlx::raw_sql(WRITE_TRIGGER_CREATE)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        for field in self.schema.fields() {
            if !existing.iter().any(|c| c == &field.name) {
                let sql = format!(
                    "ALTER TABLE \"user\" ADD COLUMN \"{}\" {}",
                    field.name,
                    column_type(field.kind)
                );
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
        }
        tx.commit().await.map_err(map_err)
    }

    fn read(&self, row: &PgRow) -> Result<User, StoreError> {
        let bad = |e: sqlx::Error| StoreError::Other(format!("unreadable user row: {e}"));
        let fields = super::read_custom_fields(row, &self.schema, 6)?;
        let version_column = 6 + self.schema.fields().len();
        let id: String = row.try_get(0).map_err(bad)?;
        Ok(User {
            id: super::read_id(self.ids, &id)?,
            email: row.try_get(1).map_err(bad)?,
            hashed_password: row.try_get(2).map_err(bad)?,
            is_active: row.try_get(3).map_err(bad)?,
            is_superuser: row.try_get(4).map_err(bad)?,
            is_verified: row.try_get(5).map_err(bad)?,
            fields,
            token_version: row.try_get(version_column).map_err(bad)?,
        })
    }

    fn bind_columns(&self, args: &mut PgArguments, user: &User) -> Result<(), StoreError> {
        let bad = |e: sqlx::error::BoxDynError| StoreError::Other(e.to_string());
        args.add(user.email.clone()).map_err(bad)?;
        args.add(user.hashed_password.clone()).map_err(bad)?;
        args.add(user.is_active).map_err(bad)?;
        args.add(user.is_superuser).map_err(bad)?;
        args.add(user.is_verified).map_err(bad)?;
        for field in self.schema.fields() {
            let value = user.fields.get(&field.name).unwrap_or(&Value::Null);
            super::bind_param::<sqlx::Postgres>(args, super::custom_param(field.kind, value))?;
        }
        args.add(crate::email::email_key(&user.email)).map_err(bad)
    }
}

/// Fills in the e-mail key of rows that have none (see the SQLite store's twin): each in a
/// savepoint, so that a row whose key is taken keeps none, with a warning, and the rest go on.
async fn fill_email_keys(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ids: IdKind,
) -> Result<(), StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id::text, email FROM \"user\" WHERE email_key IS NULL ORDER BY ctid",
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?;
    for (id, email) in rows {
        sqlx::query("SAVEPOINT fill_key")
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
        let cast = match ids {
            IdKind::Integer => "bigint",
            _ => "uuid",
        };
        let sql = format!("UPDATE \"user\" SET email_key = $1 WHERE id = $2::text::{cast}");
        let filled = sqlx::query(AssertSqlSafe(sql))
            .bind(crate::email::email_key(&email))
            .bind(&id)
            .execute(&mut **tx)
            .await
            .map_err(map_err);
        let end = match filled {
            Ok(_) => "RELEASE SAVEPOINT fill_key",
            Err(StoreError::Conflict) => {
                super::warn_same_address(&id);
                "ROLLBACK TO SAVEPOINT fill_key"
            }
            Err(other) => return Err(other),
        };
        sqlx::query(end).execute(&mut **tx).await.map_err(map_err)?;
    }
    Ok(())
}

const DIALECT: Dialect = Dialect {
    numbered: true,
    date_cast: "::date",
    text_ids: false,
};

impl UserStore for PostgresStore {
    fn schema(&self) -> Option<&UserSchema> {
        Some(&self.schema)
    }

    /// With [`PostgresStore::watch_writes`]: a count of the writes to the user table announced
    /// since the watch began (and of its reconnections); `None` without a watch, and while its
    /// connection is down.
    fn generation(&self) -> Option<u128> {
        self.watch.as_ref()?.generation()
    }

    fn id_kind(&self) -> IdKind {
        self.ids
    }

    async fn ping(&self) -> Result<(), StoreError> {
        super::ping(&self.pool, map_err).await
    }

    async fn list(&self, query: &super::UserQuery) -> Result<super::UserPage, StoreError> {
        let (page, count, params) =
            super::list_statements(&DIALECT, &self.schema, &self.select, query);
        let arguments = super::list_arguments::<sqlx::Postgres>(params)?;
        // One snapshot for the page and its total.
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        super::fetch_page(tx, (page, count), arguments, map_err, |row| self.read(row)).await
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("{} WHERE id = $1", self.select);
        let Some(query) = self.bind_id(sqlx::query(AssertSqlSafe(sql)), id) else {
            return Ok(None);
        };
        let row = query.fetch_optional(&self.pool).await.map_err(map_err)?;
        row.map(|r| self.read(&r)).transpose()
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "{} WHERE email_key = $1 OR (email_key IS NULL AND lower(email) = lower($2)) \
             ORDER BY email_key IS NULL LIMIT 1",
            self.select
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(crate::email::email_key(email))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        if let Some(row) = row {
            return self.read(&row).map(Some);
        }
        if email.is_ascii() {
            return Ok(None);
        }
        // Rows without a key yet, whose lower() folds only ASCII under the C collation: compare
        // the non-ASCII addresses among them in Rust.
        let sql = format!(
            "{} WHERE email_key IS NULL AND email ~ '[^\\x01-\\x7e]'",
            self.select
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        super::find_folded(rows.iter().map(|row| self.read(row)), email)
    }

    async fn create(&self, user: &User) -> Result<UserId, StoreError> {
        let mut args = PgArguments::default();
        if self.ids == IdKind::Uuid {
            let id = DIALECT.id_param(self.ids, user.id).ok_or_else(|| {
                StoreError::Other("a store of UUIDs cannot create an integer id".into())
            })?;
            super::bind_param::<sqlx::Postgres>(&mut args, id)?;
        }
        self.bind_columns(&mut args, user)?;
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let id: String = sqlx::query_scalar_with(AssertSqlSafe(self.insert.as_str()), args)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(super::RECORD_CREATED)
            .bind(&id)
            .bind(super::now_seconds())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        super::read_id(self.ids, &id)
    }

    async fn update(&self, id: UserId, patch: &UserPatch) -> Result<Option<User>, StoreError> {
        let Some(id) = DIALECT.id_param(self.ids, id) else {
            return Ok(None);
        };
        let (sql, params) =
            super::patch_statement(&DIALECT, &self.schema, &self.columns, id, patch);
        let mut args = PgArguments::default();
        for param in params {
            super::bind_param::<sqlx::Postgres>(&mut args, param)?;
        }
        let row = sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| self.read(&r)).transpose()
    }

    async fn delete(&self, id: UserId) -> Result<(), StoreError> {
        // ON DELETE CASCADE removes the access tokens and OAuth accounts.
        let Some(query) = self.bind_id(sqlx::query("DELETE FROM \"user\" WHERE id = $1"), id)
        else {
            return Ok(());
        };
        query.execute(&self.pool).await.map_err(map_err)?;
        sqlx::query("DELETE FROM auth_user_created WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

impl AccessTokenStore for PostgresStore {
    async fn create_token(&self, token: &str, user_id: UserId) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO accesstoken (token, user_id, created_at) VALUES ($1, $2, now())",
        )
        .bind(token);
        self.bind_id(insert, user_id)
            .ok_or_else(|| StoreError::Other("a token for an id of another kind".into()))?
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_token(
        &self,
        token: &str,
        max_age: Option<Duration>,
    ) -> Result<Option<UserId>, StoreError> {
        let query = match max_age {
            Some(age) => sqlx::query_scalar::<_, String>(
                "SELECT user_id::text FROM accesstoken WHERE token = $1 \
                 AND created_at >= now() - make_interval(secs => $2)",
            )
            .bind(token)
            .bind(age.as_secs_f64()),
            None => sqlx::query_scalar("SELECT user_id::text FROM accesstoken WHERE token = $1")
                .bind(token),
        };
        let id = query.fetch_optional(&self.pool).await.map_err(map_err)?;
        id.map(|id| super::read_id(self.ids, &id)).transpose()
    }

    async fn delete_token(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM accesstoken WHERE token = $1")
            .bind(token)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_user_tokens(&self, user_id: UserId) -> Result<u64, StoreError> {
        let delete = sqlx::query("DELETE FROM accesstoken WHERE user_id = $1");
        let Some(query) = self.bind_id(delete, user_id) else {
            return Ok(0);
        };
        let done = query.execute(&self.pool).await.map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

/// The channel of [`WRITE_TRIGGER`]'s notifications; the payload is the table's schema.
const WRITE_CHANNEL: &str = "axum_users_user_written";

/// The function of a statement-level trigger on the user table that notifies [`WRITE_CHANNEL`]
/// (delivered when the writing transaction commits, never before).
const WRITE_TRIGGER: &str = r#"
CREATE OR REPLACE FUNCTION axum_users_user_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('axum_users_user_written', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
"#;

/// The trigger itself, created only where it is missing: creating one locks the table, which
/// instances starting beside running ones should not do every time.
const WRITE_TRIGGER_CREATE: &str = r#"
CREATE TRIGGER axum_users_user_written AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "user"
    FOR EACH STATEMENT EXECUTE FUNCTION axum_users_user_written();
"#;

/// What a watching store knows of the writes to its user table.
#[derive(Debug, Default)]
struct Watch {
    /// Raised by every announced write and by every (re)connection of the listener.
    writes: std::sync::atomic::AtomicU64,
    /// Whether the listener is connected: while it is not, no write would be heard.
    listening: std::sync::atomic::AtomicBool,
}

impl Watch {
    fn generation(&self) -> Option<u128> {
        use std::sync::atomic::Ordering;
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        Some(u128::from(self.writes.load(Ordering::Acquire)))
    }

    fn heard(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn set_listening(&self, listening: bool) {
        // A change either way counts as a write: what was cached before is not trusted after.
        self.heard();
        self.listening
            .store(listening, std::sync::atomic::Ordering::Release);
    }

    /// Listens for ever: each announced write to `schema`'s user table raises the count; a lost
    /// connection stops the trust until a new one listens (then everything cached before is
    /// dropped), retried every second; ends when the pool is closed.
    async fn run(self: std::sync::Arc<Self>, pool: PgPool, schema: String, first: PgListener) {
        // The first connection was announced by `watch_writes`; each later one here.
        let mut listener = Some(first);
        loop {
            let mut current = match listener.take() {
                Some(current) => current,
                None if pool.is_closed() => return,
                None => match listen(&pool).await {
                    Ok(current) => {
                        self.set_listening(true);
                        current
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for user writes; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            loop {
                match current.try_recv().await {
                    Ok(Some(note)) if note.payload() == schema => self.heard(),
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            self.set_listening(false);
            tracing::warn!("lost the connection that hears user writes; reconnecting");
        }
    }
}

/// A new connection listening on [`WRITE_CHANNEL`].
async fn listen(pool: &PgPool) -> Result<PgListener, StoreError> {
    let mut listener = PgListener::connect_with(pool).await.map_err(map_err)?;
    listener.listen(WRITE_CHANNEL).await.map_err(map_err)?;
    Ok(listener)
}

impl PostgresStore {
    /// Listens (one connection of the pool, for ever) for the writes to the user table that
    /// [`migrate`](PostgresStore::migrate) makes PostgreSQL announce, by anyone: other
    /// instances, FastAPI Users, a script. The store then reports a
    /// [`generation`](UserStore::generation), so that a [`crate::CachingUserStore`] in front of
    /// it serves users from memory until the next write anywhere; while the connection is down
    /// it reports none (every read goes to the database) and a new connection drops what was
    /// cached. A write is seen by every instance once its notification arrives (the commit's
    /// round trip, typically well under a millisecond on a LAN); the cache's time to live bounds
    /// the rest (a connection that dies without the socket closing).
    pub async fn watch_writes(mut self) -> Result<Self, StoreError> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let first = listen(&self.pool).await?;
        let watch = std::sync::Arc::new(Watch::default());
        watch.set_listening(true);
        tokio::spawn(watch.clone().run(self.pool.clone(), schema, first));
        self.watch = Some(watch);
        Ok(self)
    }
}

const OAUTH_COLUMNS: &str =
    "oauth_name, access_token, expires_at, refresh_token, account_id, account_email, user_id";

const OAUTH_SELECT: &str = "id::text, oauth_name, access_token, expires_at, refresh_token, \
     account_id, account_email, user_id::text";

fn read_oauth(row: &PgRow, ids: IdKind) -> Result<(OAuthAccount, UserId), StoreError> {
    let bad = |e: sqlx::Error| StoreError::Other(format!("unreadable oauth_account row: {e}"));
    let expires_at: Option<i32> = row.try_get(3).map_err(bad)?;
    let id: String = row.try_get(0).map_err(bad)?;
    let user_id: String = row.try_get(7).map_err(bad)?;
    let account = OAuthAccount {
        id: super::read_id(ids, &id)?,
        oauth_name: row.try_get(1).map_err(bad)?,
        access_token: row.try_get(2).map_err(bad)?,
        expires_at: expires_at.map(i64::from),
        refresh_token: row.try_get(4).map_err(bad)?,
        account_id: row.try_get(5).map_err(bad)?,
        account_email: row.try_get(6).map_err(bad)?,
    };
    Ok((account, super::read_id(ids, &user_id)?))
}

impl super::ExpiredDeletion for PostgresStore {
    async fn delete_expired(&self, max_age: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM accesstoken WHERE created_at < now() - make_interval(secs => $1)",
        )
        .bind(max_age.as_secs_f64())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

/// FastAPI Users' `expires_at` is an `INTEGER` (32 bits in PostgreSQL).
fn expires_at_i32(account: &OAuthAccount) -> Option<i32> {
    account
        .expires_at
        .map(|at| i32::try_from(at).unwrap_or(i32::MAX))
}

impl OAuthAccountStore for PostgresStore {
    async fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<(User, OAuthAccount)>, StoreError> {
        let sql = format!(
            "SELECT {OAUTH_SELECT} FROM oauth_account WHERE oauth_name = $1 AND account_id = $2"
        );
        let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(oauth_name)
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
        else {
            return Ok(None);
        };
        let (account, user_id) = read_oauth(&row, self.ids)?;
        Ok(UserStore::get(self, user_id)
            .await?
            .map(|user| (user, account)))
    }

    async fn add_oauth_account(
        &self,
        user_id: UserId,
        account: &OAuthAccount,
    ) -> Result<(), StoreError> {
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT id::text FROM oauth_account WHERE oauth_name = $1 AND account_id = $2",
        )
        .bind(&account.oauth_name)
        .bind(&account.account_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        if taken.is_some() {
            return Err(StoreError::Conflict);
        }
        // A UUID row id is the application's; an integer one the database's (`SERIAL`).
        let (sql, id) = match self.ids {
            IdKind::Integer => (
                format!("INSERT INTO oauth_account ({OAUTH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
                None,
            ),
            _ => (
                format!(
                    "INSERT INTO oauth_account ({OAUTH_COLUMNS}, id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid)"
                ),
                Some(account.id.to_string()),
            ),
        };
        let insert = sqlx::query(AssertSqlSafe(sql))
            .bind(&account.oauth_name)
            .bind(&account.access_token)
            .bind(expires_at_i32(account))
            .bind(&account.refresh_token)
            .bind(&account.account_id)
            .bind(&account.account_email);
        let mut insert = self
            .bind_id(insert, user_id)
            .ok_or_else(|| StoreError::Other("a link for an id of another kind".into()))?;
        if let Some(id) = id {
            insert = insert.bind(id);
        }
        insert.execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn update_oauth_account(&self, account: &OAuthAccount) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE oauth_account SET oauth_name = $1, access_token = $2, expires_at = $3, \
             refresh_token = $4, account_id = $5, account_email = $6 WHERE id = $7",
        )
        .bind(&account.oauth_name)
        .bind(&account.access_token)
        .bind(expires_at_i32(account))
        .bind(&account.refresh_token)
        .bind(&account.account_id)
        .bind(&account.account_email);
        let Some(update) = self.bind_id(update, account.id) else {
            return Ok(());
        };
        update.execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn oauth_accounts(&self, user_id: UserId) -> Result<Vec<OAuthAccount>, StoreError> {
        let sql = format!(
            "SELECT {OAUTH_SELECT} FROM oauth_account WHERE user_id = $1 \
             ORDER BY oauth_name, account_id"
        );
        let Some(query) = self.bind_id(sqlx::query(AssertSqlSafe(sql)), user_id) else {
            return Ok(Vec::new());
        };
        let rows = query.fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter()
            .map(|row| read_oauth(row, self.ids).map(|(a, _)| a))
            .collect()
    }
}

/// The kind of ids of the `user` table in the current schema, `None` when there is none yet.
async fn existing_id_kind<'c>(db: impl sqlx::PgExecutor<'c>) -> Result<Option<IdKind>, StoreError> {
    let declared: Option<String> = sqlx::query_scalar(
        "SELECT data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'user' AND column_name = 'id'",
    )
    .fetch_optional(db)
    .await
    .map_err(map_err)?;
    Ok(declared.map(|t| super::kind_of_column(&t)))
}
