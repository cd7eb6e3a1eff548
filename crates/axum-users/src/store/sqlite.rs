//! The SQLite store: FastAPI Users' schema, UUIDs as lower-case `CHAR(36)` text (or integer
//! ids as `INTEGER PRIMARY KEY`), booleans as 0/1, one real column per custom field.

// Statements are built from the schema's column names, which `UserSchema::check` restricts to
// `[a-z_][a-z0-9_]*` (at most 63 characters); every value is a bound parameter. That is what
// each `AssertSqlSafe` below asserts.
use sqlx::AssertSqlSafe;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
};
use sqlx::{Arguments as _, Row as _, SqlitePool};

use super::{
    AccessTokenStore, Dialect, OAuthAccount, OAuthAccountStore, StoreError, UserPatch, UserStore,
};
use crate::user::UserSchema;
use crate::{IdKind, User, UserId};

const MIGRATION: &str = include_str!("../../migrations/sqlite/0001_fastapi_users.sql");
/// The `auth_session` table (axum-users' own; FastAPI Users ignores it), the same SQL on
/// SQLite and PostgreSQL.
const SESSIONS: &str = include_str!("../../migrations/sessions.sql");
/// The second-factor tables (axum-users' own), the same SQL on SQLite and PostgreSQL.
const MFA: &str = include_str!("../../migrations/mfa.sql");

super::mfa_sql::mfa_store!(SqliteStore, map_err);
const AUDIT: &str = include_str!("../../migrations/audit.sql");
super::audit_sql::audit_store!(SqliteStore, map_err);
const EMAIL_CHANGES: &str = include_str!("../../migrations/email_change.sql");
const USER_CREATED: &str = include_str!("../../migrations/user_created.sql");
super::email_change_sql::email_change_store!(SqliteStore, map_err);
#[cfg(feature = "webhooks")]
const WEBHOOKS: &str = include_str!("../../migrations/webhooks.sql");
#[cfg(feature = "webhooks")]
super::webhook_sql::webhook_store!(SqliteStore, map_err);
#[cfg(feature = "passkeys")]
const PASSKEYS: &str = include_str!("../../migrations/passkeys.sql");
#[cfg(feature = "passkeys")]
super::passkeys_sql::passkey_store!(SqliteStore, SqliteRow, map_err);

super::sessions::session_store!(SqliteStore, SqliteRow, map_err);

/// Users in SQLite (the embedded default).
///
/// ```no_run
/// # async fn run() -> Result<(), axum_users::StoreError> {
/// use axum_users::{SqliteStore, UserSchema};
/// let store = SqliteStore::connect("sqlite://users.db", UserSchema::new()).await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The database file and its write-ahead log, watched for writes by any process.
    files: Option<[std::path::PathBuf; 2]>,
    schema: UserSchema,
    ids: IdKind,
    /// Every column a user is read from, for `SELECT` and `RETURNING`.
    columns: String,
    select: String,
    insert: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("schema", &self.schema)
            .field("ids", &self.ids)
            .finish_non_exhaustive()
    }
}

const DIALECT: Dialect = Dialect {
    numbered: false,
    date_cast: "",
    text_ids: true,
};

pub(crate) fn map_err(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(err.to_string())
        }
        sqlx::Error::Database(db) if db.message().contains("database is locked") => {
            StoreError::Unavailable(err.to_string())
        }
        _ => StoreError::Other(err.to_string()),
    }
}

impl SqliteStore {
    /// Opens (and creates if missing) the database at `url` (`sqlite://path`, `sqlite::memory:`),
    /// in WAL mode with a busy timeout so that readers and the writer do not block each other.
    /// The kind of ids is the existing `user` table's (UUIDs for a new database; see
    /// [`SqliteStore::with_id_kind`]).
    pub async fn connect(url: &str, schema: UserSchema) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let filename = options.get_filename().to_path_buf();
        let pool = if memory {
            // Each connection to `:memory:` is a database of its own: keep exactly one, forever.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                .await
        }
        .map_err(map_err)?;
        let mut store = Self::new(pool, schema);
        if let Some(kind) = store.existing_id_kind().await? {
            store = store.with_id_kind(kind);
        }
        if !memory {
            let path = filename;
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            store.files = Some([path, wal.into()]);
        }
        Ok(store)
    }

    /// Wraps an existing pool; the store holds UUIDs unless [`SqliteStore::with_id_kind`] says
    /// otherwise.
    pub fn new(pool: SqlitePool, schema: UserSchema) -> Self {
        Self::build(pool, schema, IdKind::Uuid, None)
    }

    /// The kind of ids the store holds: for a new database, the kind
    /// [`migrate`](SqliteStore::migrate) creates the tables with (`INTEGER PRIMARY KEY` for
    /// [`IdKind::Integer`], as FastAPI Users' `IntegerIDMixin` models do); for an existing one,
    /// `migrate` refuses a kind other than the table's.
    #[must_use]
    pub fn with_id_kind(self, kind: IdKind) -> Self {
        Self::build(self.pool, self.schema, kind, self.files)
    }

    /// The kind of ids of the existing `user` table, `None` when there is none yet.
    pub async fn existing_id_kind(&self) -> Result<Option<IdKind>, StoreError> {
        let declared: Option<String> =
            sqlx::query_scalar("SELECT type FROM pragma_table_info('user') WHERE name = 'id'")
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(declared.map(|t| super::kind_of_column(&t)))
    }

    fn build(
        pool: SqlitePool,
        schema: UserSchema,
        ids: IdKind,
        files: Option<[std::path::PathBuf; 2]>,
    ) -> Self {
        let mut columns = vec![
            "email",
            "hashed_password",
            "is_active",
            "is_superuser",
            "is_verified",
        ];
        columns.extend(schema.fields().iter().map(|f| f.name.as_str()));
        let list = columns.join(", ");
        let read = format!("CAST(id AS TEXT), {list}, token_version");
        // A UUID is bound first; an integer id is the database's to assign.
        let insert = match ids {
            IdKind::Integer => format!(
                "INSERT INTO user ({list}, email_key) VALUES ({}) RETURNING CAST(id AS TEXT)",
                vec!["?"; columns.len() + 1].join(", ")
            ),
            _ => format!(
                "INSERT INTO user (id, {list}, email_key) VALUES ({}) RETURNING CAST(id AS TEXT)",
                vec!["?"; columns.len() + 2].join(", ")
            ),
        };
        Self {
            files,
            select: format!("SELECT {read} FROM user"),
            insert,
            columns: read,
            pool,
            schema,
            ids,
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates FastAPI Users' tables when missing, a column per custom field, and a
    /// case-insensitive e-mail index (unique where the existing data allows it).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if let Some(found) = self.existing_id_kind().await? {
            if found != self.ids {
                return Err(super::kind_mismatch(self.ids, found));
            }
        }
        let migration = match self.ids {
            // SQLAlchemy's DDL for `Mapped[int]` keys: `INTEGER`, a rowid alias.
            IdKind::Integer => MIGRATION.replace("CHAR(36)", "INTEGER"),
            _ => MIGRATION.to_owned(),
        };
        sqlx::raw_sql(AssertSqlSafe(migration))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(SESSIONS)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(MFA)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(AUDIT)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(EMAIL_CHANGES)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(USER_CREATED)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        #[cfg(feature = "webhooks")]
        sqlx::raw_sql(WEBHOOKS)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        #[cfg(feature = "passkeys")]
        sqlx::raw_sql(PASSKEYS)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let unique = sqlx::query(
            "CREATE UNIQUE INDEX IF NOT EXISTS ix_user_email_lower ON user (lower(email))",
        )
        .execute(&self.pool)
        .await;
        if unique.is_err() {
            tracing::warn!(
                "the user table holds e-mails that differ only in letter case; \
                 creating a non-unique case-insensitive index instead"
            );
            sqlx::query("CREATE INDEX IF NOT EXISTS ix_user_email_lower ON user (lower(email))")
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        }
        let unique_links = sqlx::query(
            "CREATE UNIQUE INDEX IF NOT EXISTS ix_oauth_account_provider_account \
             ON oauth_account (oauth_name, account_id)",
        )
        .execute(&self.pool)
        .await;
        if unique_links.is_err() {
            tracing::warn!(
                "the oauth_account table links one provider account to several users; \
                 new links are still checked, but the existing ones are left as they are"
            );
        }
        let existing: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info('user')")
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        if !existing.iter().any(|c| c == "token_version") {
            sqlx::query("ALTER TABLE user ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0")
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        }
        if !existing.iter().any(|c| c == "email_key") {
            sqlx::query("ALTER TABLE user ADD COLUMN email_key VARCHAR(320)")
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        }
        sqlx::query("CREATE UNIQUE INDEX IF NOT EXISTS ix_user_email_key ON user (email_key)")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        self.fill_email_keys().await?;
        for field in self.schema.fields() {
            if !existing.iter().any(|c| c == &field.name) {
                // Nullable at the database level so that the column can be added to a table that
                // already has rows; the API enforces `required`.
                let sql = format!(
                    "ALTER TABLE user ADD COLUMN {} {}",
                    field.name,
                    field.kind.sql_type()
                );
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
            }
        }
        Ok(())
    }

    /// Fills in the e-mail key of rows that have none (written before this column existed, or by
    /// FastAPI Users itself). A row whose key another row already has keeps none, with a warning:
    /// two accounts for one address, which an administrator resolves by changing one's e-mail.
    async fn fill_email_keys(&self) -> Result<(), StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT CAST(id AS TEXT), email FROM user WHERE email_key IS NULL ORDER BY rowid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for (id, email) in rows {
            let filled = sqlx::query("UPDATE user SET email_key = ? WHERE id = ?")
                .bind(crate::email::email_key(&email))
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(map_err);
            match filled {
                Ok(_) => {}
                Err(StoreError::Conflict) => super::warn_same_address(&id),
                Err(other) => return Err(other),
            }
        }
        tx.commit().await.map_err(map_err)
    }

    fn read(&self, row: &SqliteRow) -> Result<User, StoreError> {
        let bad = |e: sqlx::Error| StoreError::Other(format!("unreadable user row: {e}"));
        let id: String = row.try_get(0).map_err(bad)?;
        let id = super::read_id(self.ids, &id)?;
        let fields = super::read_custom_fields(row, &self.schema, 6)?;
        let version_column = 6 + self.schema.fields().len();
        Ok(User {
            id,
            email: row.try_get(1).map_err(bad)?,
            hashed_password: row.try_get(2).map_err(bad)?,
            is_active: row.try_get(3).map_err(bad)?,
            is_superuser: row.try_get(4).map_err(bad)?,
            is_verified: row.try_get(5).map_err(bad)?,
            fields,
            token_version: row.try_get(version_column).map_err(bad)?,
        })
    }

    /// Binds every column but `id`, in the order of the generated statements.
    fn bind_columns(&self, args: &mut SqliteArguments, user: &User) -> Result<(), StoreError> {
        let bad = |e: sqlx::error::BoxDynError| StoreError::Other(e.to_string());
        args.add(user.email.clone()).map_err(bad)?;
        args.add(user.hashed_password.clone()).map_err(bad)?;
        args.add(user.is_active).map_err(bad)?;
        args.add(user.is_superuser).map_err(bad)?;
        args.add(user.is_verified).map_err(bad)?;
        for field in self.schema.fields() {
            let value = user.fields.get(&field.name).unwrap_or(&Value::Null);
            super::bind_param::<sqlx::Sqlite>(args, super::custom_param(field.kind, value))?;
        }
        args.add(crate::email::email_key(&user.email)).map_err(bad)
    }
}

/// How long a file's modification time must be in the past before it proves that nothing was
/// written since (see [`UserStore::generation`] for [`SqliteStore`]).
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

impl UserStore for SqliteStore {
    /// Size and modification time of the database file and its WAL: every committed write, by
    /// this process or another (`create-superuser`, a script), changes one of them. Two `stat`
    /// calls, no query. `None` for in-memory databases and pools given to [`SqliteStore::new`].
    ///
    /// Also `None` while either file was modified less than two seconds ago: a filesystem's
    /// timestamps have a granularity (a kernel tick, a second on some, two on FAT), and a second
    /// write of the same length within it (a restarted WAL is overwritten in place) would move
    /// neither. Once both files are older than that, any later write gets a later time. (Git's
    /// "racily clean" index entries follow the same rule.)
    fn generation(&self) -> Option<u128> {
        let files = self.files.as_ref()?;
        let now = std::time::SystemTime::now();
        let mut generation = 0u128;
        for file in files {
            let (len, modified) = match std::fs::metadata(file) {
                Ok(meta) => {
                    let modified = meta.modified().ok()?;
                    // A time in the future (clock skew) is as unsure as a recent one.
                    if now.duration_since(modified).ok()? < SETTLE {
                        return None;
                    }
                    (
                        meta.len(),
                        modified
                            .duration_since(std::time::UNIX_EPOCH)
                            .ok()?
                            .as_nanos(),
                    )
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, 0),
                Err(_) => return None,
            };
            generation = generation
                .wrapping_mul(1_000_003)
                .wrapping_add(modified)
                .wrapping_add(u128::from(len) << 64);
        }
        Some(generation)
    }

    fn schema(&self) -> Option<&UserSchema> {
        Some(&self.schema)
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
        let arguments = super::list_arguments::<sqlx::Sqlite>(params)?;
        let tx = self.pool.begin().await.map_err(map_err)?;
        super::fetch_page(tx, (page, count), arguments, map_err, |row| self.read(row)).await
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, StoreError> {
        if id.kind() != self.ids {
            return Ok(None);
        }
        let sql = format!("{} WHERE id = ?", self.select);
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| self.read(&r)).transpose()
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "{} WHERE email_key = ? OR (email_key IS NULL AND lower(email) = lower(?)) \
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
        // Rows without a key yet, and SQLite's lower() folds ASCII only: compare the few
        // non-ASCII addresses among them in Rust.
        let sql = format!(
            "{} WHERE email_key IS NULL AND email GLOB '*[^ -~]*'",
            self.select
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        super::find_folded(rows.iter().map(|row| self.read(row)), email)
    }

    async fn create(&self, user: &User) -> Result<UserId, StoreError> {
        let mut args = SqliteArguments::default();
        if self.ids == IdKind::Uuid {
            args.add(user.id.to_string())
                .map_err(|e| StoreError::Other(e.to_string()))?;
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
        let mut args = SqliteArguments::default();
        for param in params {
            super::bind_param::<sqlx::Sqlite>(&mut args, param)?;
        }
        let row = sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| self.read(&r)).transpose()
    }

    async fn delete(&self, id: UserId) -> Result<(), StoreError> {
        if id.kind() != self.ids {
            return Ok(());
        }
        let id = id.to_string();
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for sql in [
            "DELETE FROM accesstoken WHERE user_id = ?",
            "DELETE FROM oauth_account WHERE user_id = ?",
            "DELETE FROM auth_user_created WHERE user_id = ?",
            "DELETE FROM user WHERE id = ?",
        ] {
            sqlx::query(sql)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }
}

/// `created_at` as FastAPI Users writes it in SQLite: naive UTC text with microseconds, which
/// compares correctly as a string.
fn sqlite_timestamp(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    at.format(&format).unwrap_or_default()
}

fn ago(age: Duration) -> String {
    sqlite_timestamp(time::OffsetDateTime::now_utc() - age)
}

impl AccessTokenStore for SqliteStore {
    async fn create_token(&self, token: &str, user_id: UserId) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO accesstoken (token, user_id, created_at) VALUES (?, ?, ?)")
            .bind(token)
            .bind(user_id.to_string())
            .bind(sqlite_timestamp(time::OffsetDateTime::now_utc()))
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
                "SELECT CAST(user_id AS TEXT) FROM accesstoken WHERE token = ? AND created_at >= ?",
            )
            .bind(token)
            .bind(ago(age)),
            None => {
                sqlx::query_scalar("SELECT CAST(user_id AS TEXT) FROM accesstoken WHERE token = ?")
                    .bind(token)
            }
        };
        let id = query.fetch_optional(&self.pool).await.map_err(map_err)?;
        id.map(|id| super::read_id(self.ids, &id)).transpose()
    }

    async fn delete_token(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM accesstoken WHERE token = ?")
            .bind(token)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_user_tokens(&self, user_id: UserId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM accesstoken WHERE user_id = ?")
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

const OAUTH_COLUMNS: &str =
    "oauth_name, access_token, expires_at, refresh_token, account_id, account_email, user_id";

const OAUTH_SELECT: &str = "CAST(id AS TEXT), oauth_name, access_token, expires_at, \
     refresh_token, account_id, account_email, CAST(user_id AS TEXT)";

fn read_oauth(row: &SqliteRow, ids: IdKind) -> Result<(OAuthAccount, UserId), StoreError> {
    let bad = |e: sqlx::Error| StoreError::Other(format!("unreadable oauth_account row: {e}"));
    let id: String = row.try_get(0).map_err(bad)?;
    let user_id: String = row.try_get(7).map_err(bad)?;
    let account = OAuthAccount {
        id: super::read_id(ids, &id)?,
        oauth_name: row.try_get(1).map_err(bad)?,
        access_token: row.try_get(2).map_err(bad)?,
        expires_at: row.try_get(3).map_err(bad)?,
        refresh_token: row.try_get(4).map_err(bad)?,
        account_id: row.try_get(5).map_err(bad)?,
        account_email: row.try_get(6).map_err(bad)?,
    };
    Ok((account, super::read_id(ids, &user_id)?))
}

impl super::ExpiredDeletion for SqliteStore {
    async fn delete_expired(&self, max_age: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM accesstoken WHERE created_at < ?")
            .bind(ago(max_age))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

impl OAuthAccountStore for SqliteStore {
    async fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<(User, OAuthAccount)>, StoreError> {
        let sql = format!(
            "SELECT {OAUTH_SELECT} FROM oauth_account WHERE oauth_name = ? AND account_id = ?"
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
        // The unique index refuses a second link; a table that predates it is checked here.
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT CAST(id AS TEXT) FROM oauth_account WHERE oauth_name = ? AND account_id = ?",
        )
        .bind(&account.oauth_name)
        .bind(&account.account_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        if taken.is_some() {
            return Err(StoreError::Conflict);
        }
        // A UUID row id is the application's; an integer one the database's.
        let (columns, id) = match self.ids {
            IdKind::Integer => (OAUTH_COLUMNS.to_owned(), None),
            _ => (format!("id, {OAUTH_COLUMNS}"), Some(account.id.to_string())),
        };
        let placeholders = vec!["?"; 7 + usize::from(id.is_some())].join(", ");
        let sql = format!("INSERT INTO oauth_account ({columns}) VALUES ({placeholders})");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(id) = id {
            query = query.bind(id);
        }
        query
            .bind(&account.oauth_name)
            .bind(&account.access_token)
            .bind(account.expires_at)
            .bind(&account.refresh_token)
            .bind(&account.account_id)
            .bind(&account.account_email)
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn update_oauth_account(&self, account: &OAuthAccount) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE oauth_account SET oauth_name = ?, access_token = ?, expires_at = ?, \
             refresh_token = ?, account_id = ?, account_email = ? WHERE id = ?",
        )
        .bind(&account.oauth_name)
        .bind(&account.access_token)
        .bind(account.expires_at)
        .bind(&account.refresh_token)
        .bind(&account.account_id)
        .bind(&account.account_email)
        .bind(account.id.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn oauth_accounts(&self, user_id: UserId) -> Result<Vec<OAuthAccount>, StoreError> {
        let sql = format!(
            "SELECT {OAUTH_SELECT} FROM oauth_account WHERE user_id = ? \
             ORDER BY oauth_name, account_id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| read_oauth(row, self.ids).map(|(a, _)| a))
            .collect()
    }
}
