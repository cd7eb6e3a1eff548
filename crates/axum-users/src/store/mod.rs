//! Where users live: the store traits, the patch type, the cache wrapper and the SQL stores
//! (documented on [`UserStore`], from `docs/stores.md`).

use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::{IdKind, User, UserId};

mod cache;
#[cfg(feature = "redis")]
mod redis_sessions;
#[cfg(feature = "redis")]
pub use redis_sessions::RedisSessionStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod audit_sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod email_change_sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod mfa_sql;
#[cfg(all(feature = "passkeys", any(feature = "sqlite", feature = "postgres")))]
mod passkeys_sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sessions;
#[cfg(all(feature = "webhooks", any(feature = "sqlite", feature = "postgres")))]
mod webhook_sql;
pub use cache::CachingUserStore;

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;

pub use crate::store_error::StoreError;

/// Which users [`UserStore::list`] answers, and which page of them: the conditions set all hold,
/// ordered by e-mail (then id).
///
/// ```
/// let query = axum_users::UserQuery::default().email_contains("camelot").page(2, 20);
/// assert_eq!((query.offset, query.limit), (20, 20));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UserQuery {
    /// The e-mail contains this, in any letter case (`%` and `_` are plain characters).
    pub email_contains: Option<String>,
    /// `is_active` is this.
    pub is_active: Option<bool>,
    /// `is_verified` is this.
    pub is_verified: Option<bool>,
    /// `is_superuser` is this.
    pub is_superuser: Option<bool>,
    /// Custom fields equal to these values (`null`: not set), by name.
    pub fields: Map<String, Value>,
    /// Created at or after this time (Unix seconds). Users created before axum-users kept
    /// creation times (a FastAPI Users database's) match neither bound.
    pub created_after: Option<i64>,
    /// Created before this time (Unix seconds).
    pub created_before: Option<i64>,
    /// Order by e-mail from Z to A (and id descending) instead of A to Z.
    pub descending: bool,
    /// Users skipped.
    pub offset: u64,
    /// Users answered at most.
    pub limit: u64,
}

impl Default for UserQuery {
    fn default() -> Self {
        Self {
            email_contains: None,
            is_active: None,
            is_verified: None,
            is_superuser: None,
            fields: Map::new(),
            created_after: None,
            created_before: None,
            descending: false,
            offset: 0,
            limit: 50,
        }
    }
}

impl UserQuery {
    /// Only users whose e-mail contains `text`.
    #[must_use]
    pub fn email_contains(mut self, text: impl Into<String>) -> Self {
        self.email_contains = Some(text.into());
        self
    }

    /// Page `page` (from 1) of `size` users.
    #[must_use]
    pub fn page(mut self, page: u64, size: u64) -> Self {
        self.offset = page.saturating_sub(1).saturating_mul(size);
        self.limit = size;
        self
    }
}

/// One page of [`UserStore::list`], with how many users match in all.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UserPage {
    /// The users of the page, in order.
    pub users: Vec<User>,
    /// How many users match the query, on every page.
    pub total: u64,
}

impl UserPage {
    /// A page.
    pub fn new(users: Vec<User>, total: u64) -> Self {
        Self { users, total }
    }
}

/// Reads and writes users. Look-ups by e-mail compare the [`email_key`](crate::email::email_key)
/// (Unicode-normalised, case-folded); `create` and `update` answer [`StoreError::Conflict`] when
/// the e-mail is taken; `delete` also removes the user's access tokens and OAuth accounts.
///
#[doc = include_str!("../docs/stores.md")]
#[dynosaur::dynosaur(pub(crate) DynUserStore = dyn(box) UserStore)]
pub trait UserStore: Send + Sync {
    /// The user with this id.
    fn get(&self, id: UserId) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    /// The user with this e-mail, compared by [`email_key`](crate::email::email_key).
    fn get_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    /// Inserts a new user; answers its id: `user.id` in a store of UUIDs, the one the database
    /// assigned in a store of [integer ids](IdKind::Integer).
    fn create(&self, user: &User) -> impl Future<Output = Result<UserId, StoreError>> + Send;
    /// Writes the columns the patch sets, and nothing else, in one atomic step, if the row still
    /// holds what the patch [expects](UserPatch::expect); answers the row as it is after the write,
    /// or `None` when there is no such user or an expectation failed (nothing was written).
    fn update(
        &self,
        id: UserId,
        patch: &UserPatch,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    /// Deletes a user and the rows that belong to it.
    fn delete(&self, id: UserId) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The application's extra fields, when the store keeps them (the SQL stores do, as
    /// columns): [`crate::AxumUsersBuilder`] takes the schema from here, so that it is declared
    /// once. `None` (the default): the builder's [`schema`](crate::AxumUsersBuilder::schema).
    fn schema(&self) -> Option<&crate::UserSchema> {
        None
    }
    /// The kind of ids the store holds (UUIDs by default). An id of the other kind names no
    /// user: `get` answers `None` for it.
    fn id_kind(&self) -> IdKind {
        IdKind::Uuid
    }
    /// A value that changes whenever anyone (another process too) writes to the store, read
    /// without a query; `None` (the default) when the store cannot tell, always or for the
    /// moment, and the user cache then reads the store. The cache is trusted only while this
    /// value stays the same.
    fn generation(&self) -> Option<u128> {
        None
    }
    /// The users a query selects, a page of them, and how many it selects in all (the admin
    /// route `GET /users`). The default answers [`StoreError::Unsupported`] (a 501), so that a
    /// store of the application's own need not implement it.
    fn list(
        &self,
        _query: &UserQuery,
    ) -> impl Future<Output = Result<UserPage, StoreError>> + Send {
        async { Err(StoreError::Unsupported("listing users")) }
    }
    /// Whether the store answers now (a trivial query), for readiness probes (`GET /ready`).
    /// The default answers `Ok` without asking anything.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }
}

/// A write to some of a user's columns. What it does not set stays as stored, so two requests
/// that change different fields (an admin's ban, the user's own password change) both stand.
/// With [`UserPatch::expect`] it is a compare-and-set: a reset token is spent by the one request
/// whose write finds the old password hash still there.
///
/// ```
/// use axum_users::UserPatch;
/// let ban = UserPatch::default().is_active(false);
/// assert!(!ban.sets_nothing());
/// ```
#[derive(Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UserPatch {
    /// A new e-mail (its [`email_key`](crate::email::email_key) is written with it).
    pub email: Option<String>,
    /// A new password hash.
    pub hashed_password: Option<String>,
    /// A new `is_active`.
    pub is_active: Option<bool>,
    /// A new `is_superuser`.
    pub is_superuser: Option<bool>,
    /// A new `is_verified`.
    pub is_verified: Option<bool>,
    /// New values of custom fields, by name.
    pub fields: Map<String, Value>,
    /// Raise `token_version` by one (every JWT minted before is refused).
    pub bump_token_version: bool,
    /// What the row must still hold for the write to happen.
    pub expect: Expect,
}

/// The conditions of a [`UserPatch`]: each one set must hold in the stored row.
#[derive(Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Expect {
    /// The password hash is still this one.
    pub hashed_password: Option<String>,
    /// The e-mail is still exactly this one.
    pub email: Option<String>,
    /// `is_active` is still this.
    pub is_active: Option<bool>,
    /// `is_verified` is still this.
    pub is_verified: Option<bool>,
}

impl std::fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |hash: &Option<String>| hash.as_ref().map(|_| "<redacted>");
        f.debug_struct("UserPatch")
            .field("email", &self.email)
            .field("hashed_password", &hidden(&self.hashed_password))
            .field("is_active", &self.is_active)
            .field("is_superuser", &self.is_superuser)
            .field("is_verified", &self.is_verified)
            .field("fields", &self.fields)
            .field("bump_token_version", &self.bump_token_version)
            .field(
                "expect.hashed_password",
                &hidden(&self.expect.hashed_password),
            )
            .field("expect.email", &self.expect.email)
            .field("expect.is_active", &self.expect.is_active)
            .field("expect.is_verified", &self.expect.is_verified)
            .finish()
    }
}

impl UserPatch {
    /// Every field of `user` but the token version: a whole-row write, for imports and tests.
    pub fn all_of(user: &User) -> Self {
        Self {
            email: Some(user.email.clone()),
            hashed_password: Some(user.hashed_password.clone()),
            is_active: Some(user.is_active),
            is_superuser: Some(user.is_superuser),
            is_verified: Some(user.is_verified),
            fields: user.fields.clone(),
            ..Self::default()
        }
    }

    /// Sets `is_active`.
    #[must_use]
    pub fn is_active(mut self, value: bool) -> Self {
        self.is_active = Some(value);
        self
    }

    /// Sets the password hash.
    #[must_use]
    pub fn hashed_password(mut self, hash: impl Into<String>) -> Self {
        self.hashed_password = Some(hash.into());
        self
    }

    /// Whether the patch writes no column (it then only reads the row, if the expectations hold).
    pub fn sets_nothing(&self) -> bool {
        self.email.is_none()
            && self.hashed_password.is_none()
            && self.is_active.is_none()
            && self.is_superuser.is_none()
            && self.is_verified.is_none()
            && self.fields.is_empty()
            && !self.bump_token_version
    }

    /// Applies the patch to a copy of a user, as the store would (for stores without SQL).
    pub fn apply_to(&self, user: &User) -> Option<User> {
        let expect = &self.expect;
        let holds = expect
            .hashed_password
            .as_ref()
            .is_none_or(|h| *h == user.hashed_password)
            && expect.email.as_ref().is_none_or(|e| *e == user.email)
            && expect.is_active.is_none_or(|v| v == user.is_active)
            && expect.is_verified.is_none_or(|v| v == user.is_verified);
        if !holds {
            return None;
        }
        let mut user = user.clone();
        if let Some(email) = &self.email {
            user.email.clone_from(email);
        }
        if let Some(hash) = &self.hashed_password {
            user.hashed_password.clone_from(hash);
        }
        user.is_active = self.is_active.unwrap_or(user.is_active);
        user.is_superuser = self.is_superuser.unwrap_or(user.is_superuser);
        user.is_verified = self.is_verified.unwrap_or(user.is_verified);
        for (name, value) in &self.fields {
            user.fields.insert(name.clone(), value.clone());
        }
        user.token_version += i64::from(self.bump_token_version);
        Some(user)
    }
}

/// The `accesstoken` table of the database token strategy (FastAPI Users'
/// `SQLAlchemyAccessTokenDatabase`): opaque tokens with their user and creation time.
#[dynosaur::dynosaur(pub(crate) DynAccessTokenStore = dyn(box) AccessTokenStore)]
pub trait AccessTokenStore: Send + Sync {
    /// Stores a new token, created now.
    fn create_token(
        &self,
        token: &str,
        user_id: UserId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The user of a token created within `max_age` (any age when `None`).
    fn get_token(
        &self,
        token: &str,
        max_age: Option<Duration>,
    ) -> impl Future<Output = Result<Option<UserId>, StoreError>> + Send;
    /// Removes one token (logout).
    fn delete_token(&self, token: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes every token of a user; answers how many.
    fn delete_user_tokens(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Deletes the rows that have expired (access tokens past their lifetime), as tower-sessions'
/// `ExpiredDeletion`. Expired tokens are refused whether or not their rows are still there;
/// this only keeps the table small. Run it in the background:
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # async fn doc(store: axum_users::SqliteStore) {
/// use std::time::Duration;
/// use axum_users::ExpiredDeletion as _;
///
/// // Tokens live an hour; sweep every ten minutes.
/// tokio::spawn(
///     store.clone().continuously_delete_expired(Duration::from_secs(3600), Duration::from_secs(600)),
/// );
/// # }
/// ```
pub trait ExpiredDeletion: Send + Sync {
    /// Deletes the access tokens created more than `max_age` ago; answers how many.
    fn delete_expired(
        &self,
        max_age: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Calls [`ExpiredDeletion::delete_expired`] every `period`, for ever; a failure is logged
    /// and tried again at the next period.
    fn continuously_delete_expired(
        self,
        max_age: Duration,
        period: Duration,
    ) -> impl Future<Output = ()> + Send
    where
        Self: Sized,
    {
        async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                match self.delete_expired(max_age).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "deleted expired access tokens"),
                    Err(error) => tracing::warn!(%error, "cannot delete expired access tokens"),
                }
            }
        }
    }
}

/// One row of `oauth_account`: a provider account linked to a user, with the provider's tokens.
/// `Debug` never shows the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthAccount {
    /// The row id: a UUID v4, or in a store of [integer ids](IdKind::Integer) an integer the
    /// database assigns when the link is added.
    pub id: UserId,
    /// The provider's name (`google`, `github`, ...), as FastAPI Users' `oauth_name`.
    pub oauth_name: String,
    /// The provider's access token.
    pub access_token: String,
    /// When the access token expires (Unix seconds), if the provider said.
    pub expires_at: Option<i64>,
    /// The provider's refresh token, if any.
    pub refresh_token: Option<String>,
    /// The account's id at the provider.
    pub account_id: String,
    /// The account's e-mail at the provider.
    pub account_email: String,
}

impl std::fmt::Debug for OAuthAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthAccount")
            .field("id", &self.id)
            .field("oauth_name", &self.oauth_name)
            .field("access_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("account_id", &self.account_id)
            .field("account_email", &self.account_email)
            .finish()
    }
}

/// The `oauth_account` table (FastAPI Users' `SQLAlchemyBaseOAuthAccountTable`). A provider
/// account is linked to one user at most: `add_oauth_account` answers
/// [`StoreError::Conflict`] when it is linked already.
#[cfg_attr(
    feature = "oauth",
    dynosaur::dynosaur(pub(crate) DynOAuthAccountStore = dyn(box) OAuthAccountStore)
)]
pub trait OAuthAccountStore: Send + Sync {
    /// The user linked to this provider account, and the link.
    fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<(User, OAuthAccount)>, StoreError>> + Send;
    /// Links a provider account to a user.
    fn add_oauth_account(
        &self,
        user_id: UserId,
        account: &OAuthAccount,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Rewrites a link's tokens and e-mail (found by its `id`).
    fn update_oauth_account(
        &self,
        account: &OAuthAccount,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every provider account linked to a user.
    fn oauth_accounts(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Vec<OAuthAccount>, StoreError>> + Send;
}

/// The user whose [`email_key`](crate::email::email_key) is `email`'s, among rows whose key
/// column is not filled in yet (rows written by FastAPI Users itself): the fallback of the
/// stores whose SQL `lower()` folds ASCII only.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn find_folded(
    users: impl IntoIterator<Item = Result<User, StoreError>>,
    email: &str,
) -> Result<Option<User>, StoreError> {
    let wanted = crate::email::email_key(email);
    for user in users {
        let user = user?;
        if crate::email::email_key(&user.email) == wanted {
            return Ok(Some(user));
        }
    }
    Ok(None)
}

/// Says which row keeps no e-mail key, and how to resolve it.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn warn_same_address(id: &str) {
    tracing::warn!(
        user_id = id,
        "this user's e-mail is, after Unicode normalisation, another user's: both accounts are \
         kept, the address logs in to the older one; change or delete one of them to resolve"
    );
}

/// A trivial query, for [`UserStore::ping`].
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn ping<'e, E>(
    executor: E,
    map_err: fn(sqlx::Error) -> StoreError,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e>,
{
    sqlx::raw_sql(sqlx::AssertSqlSafe("SELECT 1"))
        .execute(executor)
        .await
        .map(drop)
        .map_err(map_err)
}

/// A value bound to a generated statement.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Uuid(uuid::Uuid),
    Text(Option<String>),
    Bool(bool),
    Int(Option<i64>),
    Float(Option<f64>),
    OptionalBool(Option<bool>),
}

/// A custom field's value as a parameter of its column's type.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn custom_param(kind: crate::user::FieldKind, value: &Value) -> Param {
    use crate::user::FieldKind;
    match kind {
        FieldKind::Integer => Param::Int(value.as_i64()),
        FieldKind::Float => Param::Float(value.as_f64()),
        FieldKind::Boolean => Param::OptionalBool(value.as_bool()),
        FieldKind::String { .. } | FieldKind::Date => {
            Param::Text(value.as_str().map(str::to_owned))
        }
    }
}

/// Binds one parameter, in the store's own types (`uuid` for PostgreSQL ids; SQLite gets them
/// as text from [`patch_statement`]).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn bind_param<'q, DB>(
    args: &mut <DB as sqlx::Database>::Arguments,
    param: Param,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    uuid::Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<bool>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    use sqlx::Arguments as _;
    match param {
        Param::Uuid(id) => args.add(id),
        Param::Text(text) => args.add(text),
        Param::Bool(value) => args.add(value),
        Param::OptionalBool(value) => args.add(value),
        Param::Int(value) => args.add(value),
        Param::Float(value) => args.add(value),
    }
    .map_err(|e| StoreError::Other(e.to_string()))
}

/// What differs between the two SQL stores' statements.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) struct Dialect {
    /// `$1`, `$2`, ... (PostgreSQL) rather than `?` (SQLite).
    pub(crate) numbered: bool,
    /// The cast a date column's parameter needs.
    pub(crate) date_cast: &'static str,
    /// UUIDs are bound as their canonical text (SQLite's `CHAR(36)`).
    pub(crate) text_ids: bool,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Dialect {
    /// An id as a parameter; `None` when it is not of the store's kind (it names no row).
    pub(crate) fn id_param(&self, kind: IdKind, id: UserId) -> Option<Param> {
        match (kind, id) {
            (IdKind::Uuid, UserId::Uuid(id)) if self.text_ids => {
                Some(Param::Text(Some(id.to_string())))
            }
            (IdKind::Uuid, UserId::Uuid(id)) => Some(Param::Uuid(id)),
            (IdKind::Integer, UserId::Int(id)) => Some(Param::Int(Some(id))),
            _ => None,
        }
    }
}

/// Reads an id column selected as text (`CAST(id AS TEXT)`, `id::text`).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn read_id(kind: IdKind, text: &str) -> Result<UserId, StoreError> {
    kind.parse(text)
        .ok_or_else(|| StoreError::Other(format!("bad id in the database: {text:?}")))
}

/// The id kind a `user` table's `id` column holds, from its declared SQL type (SQLite's rule:
/// a type naming `INT` is an integer).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn kind_of_column(sql_type: &str) -> IdKind {
    if sql_type.to_ascii_uppercase().contains("INT") {
        IdKind::Integer
    } else {
        IdKind::Uuid
    }
}

/// The error of a store opened for one kind of ids on a table of the other.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn kind_mismatch(wanted: IdKind, found: IdKind) -> StoreError {
    let name = |kind| match kind {
        IdKind::Integer => "integer",
        _ => "UUID",
    };
    StoreError::Other(format!(
        "the user table holds {} ids but the store was opened for {} ids \
         (`with_id_kind`; server: AXUM_USERS_ID_TYPE)",
        name(found),
        name(wanted)
    ))
}

/// The one statement that applies a [`UserPatch`] to the row `id` and answers the row after it
/// (`returning` is the store's column list), with its parameters in order. Conditions go into
/// the `WHERE`, so the check and the write are one atomic step.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn patch_statement(
    dialect: &Dialect,
    schema: &crate::user::UserSchema,
    returning: &str,
    id: Param,
    patch: &UserPatch,
) -> (String, Vec<Param>) {
    use crate::user::FieldKind;
    let mut params = Vec::new();
    let mut next = |param: Param, cast: &str| {
        params.push(param);
        if dialect.numbered {
            format!("${}{cast}", params.len())
        } else {
            "?".to_owned()
        }
    };
    let mut sets = Vec::new();
    if let Some(email) = &patch.email {
        sets.push(format!(
            "email = {}",
            next(Param::Text(Some(email.clone())), "")
        ));
        let key = crate::email::email_key(email);
        sets.push(format!("email_key = {}", next(Param::Text(Some(key)), "")));
    }
    if let Some(hash) = &patch.hashed_password {
        sets.push(format!(
            "hashed_password = {}",
            next(Param::Text(Some(hash.clone())), "")
        ));
    }
    for (column, value) in [
        ("is_active", patch.is_active),
        ("is_superuser", patch.is_superuser),
        ("is_verified", patch.is_verified),
    ] {
        if let Some(value) = value {
            sets.push(format!("{column} = {}", next(Param::Bool(value), "")));
        }
    }
    for field in schema.fields() {
        if let Some(value) = patch.fields.get(&field.name) {
            let cast = if field.kind == FieldKind::Date {
                dialect.date_cast
            } else {
                ""
            };
            let param = next(custom_param(field.kind, value), cast);
            sets.push(format!("\"{}\" = {param}", field.name));
        }
    }
    if patch.bump_token_version {
        sets.push("token_version = token_version + 1".to_owned());
    }
    let mut conditions = vec![format!("id = {}", next(id, ""))];
    let expect = &patch.expect;
    if let Some(hash) = &expect.hashed_password {
        conditions.push(format!(
            "hashed_password = {}",
            next(Param::Text(Some(hash.clone())), "")
        ));
    }
    if let Some(email) = &expect.email {
        conditions.push(format!(
            "email = {}",
            next(Param::Text(Some(email.clone())), "")
        ));
    }
    for (column, value) in [
        ("is_active", expect.is_active),
        ("is_verified", expect.is_verified),
    ] {
        if let Some(value) = value {
            conditions.push(format!("{column} = {}", next(Param::Bool(value), "")));
        }
    }
    let conditions = conditions.join(" AND ");
    let sql = if sets.is_empty() {
        format!("SELECT {returning} FROM \"user\" WHERE {conditions}")
    } else {
        format!(
            "UPDATE \"user\" SET {} WHERE {conditions} RETURNING {returning}",
            sets.join(", ")
        )
    };
    (sql, params)
}

/// The statements of [`UserStore::list`]: the page (`select` is the store's `SELECT ... FROM`
/// of users) and the count, with their parameters in order (the page's add the limit and
/// offset to the count's).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn list_statements(
    dialect: &Dialect,
    schema: &crate::user::UserSchema,
    select: &str,
    query: &UserQuery,
) -> (String, String, Vec<Param>) {
    use crate::user::FieldKind;
    let mut params = Vec::new();
    let mut next = |param: Param, cast: &str| {
        params.push(param);
        if dialect.numbered {
            format!("${}{cast}", params.len())
        } else {
            "?".to_owned()
        }
    };
    let mut conditions = Vec::new();
    if let Some(text) = &query.email_contains {
        let escaped: String = text
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = next(Param::Text(Some(format!("%{escaped}%"))), "");
        conditions.push(format!("lower(email) LIKE {pattern} ESCAPE '\\'"));
    }
    for (column, value) in [
        ("is_active", query.is_active),
        ("is_verified", query.is_verified),
        ("is_superuser", query.is_superuser),
    ] {
        if let Some(value) = value {
            conditions.push(format!("{column} = {}", next(Param::Bool(value), "")));
        }
    }
    for field in schema.fields() {
        match query.fields.get(&field.name) {
            None => {}
            Some(Value::Null) => conditions.push(format!("\"{}\" IS NULL", field.name)),
            Some(value) => {
                let cast = if field.kind == FieldKind::Date {
                    dialect.date_cast
                } else {
                    ""
                };
                let param = next(custom_param(field.kind, value), cast);
                conditions.push(format!("\"{}\" = {param}", field.name));
            }
        }
    }
    for (bound, operator) in [(query.created_after, ">="), (query.created_before, "<")] {
        if let Some(at) = bound {
            let param = next(Param::Int(Some(at)), "");
            conditions.push(format!(
                "CAST(id AS TEXT) IN (SELECT user_id FROM auth_user_created \
                 WHERE created_at {operator} {param})"
            ));
        }
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let direction = if query.descending { "DESC" } else { "ASC" };
    let count = format!("SELECT count(*) FROM \"user\"{filter}");
    let limit = next(
        Param::Int(Some(i64::try_from(query.limit).unwrap_or(i64::MAX))),
        "",
    );
    let offset = next(
        Param::Int(Some(i64::try_from(query.offset).unwrap_or(i64::MAX))),
        "",
    );
    let page = format!(
        "{select}{filter} ORDER BY coalesce(email_key, lower(email)) {direction}, id {direction} \
         LIMIT {limit} OFFSET {offset}"
    );
    (page, count, params)
}

/// Records when a user was created (in the transaction that creates it).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) const RECORD_CREATED: &str =
    "INSERT INTO auth_user_created (user_id, created_at) VALUES ($1, $2)";

/// Seconds since the Unix epoch.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn now_seconds() -> i64 {
    crate::jwt::now_unix()
}

/// The page's and the count's arguments, from [`list_statements`]' parameters (the count takes
/// all but the last two: limit and offset).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn list_arguments<'q, DB>(
    params: Vec<Param>,
) -> Result<(DB::Arguments, DB::Arguments), StoreError>
where
    DB: sqlx::Database,
    uuid::Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<bool>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut page = DB::Arguments::default();
    let mut count = DB::Arguments::default();
    let conditions = params.len().saturating_sub(2);
    for (index, param) in params.into_iter().enumerate() {
        if index < conditions {
            bind_param::<DB>(&mut count, param.clone())?;
        }
        bind_param::<DB>(&mut page, param)?;
    }
    Ok((page, count))
}

/// Runs [`list_statements`] in `tx` (one snapshot for the page and its total) and commits.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn fetch_page<DB>(
    mut tx: sqlx::Transaction<'_, DB>,
    (page, count): (String, String),
    (args, count_args): (DB::Arguments, DB::Arguments),
    map_err: fn(sqlx::Error) -> StoreError,
    read: impl Fn(&DB::Row) -> Result<User, StoreError>,
) -> Result<UserPage, StoreError>
where
    DB: sqlx::Database,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let total: i64 = sqlx::query_scalar_with(sqlx::AssertSqlSafe(count), count_args)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(page), args)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    let users = rows.iter().map(read).collect::<Result<_, _>>()?;
    Ok(UserPage::new(users, u64::try_from(total).unwrap_or(0)))
}

/// The custom columns of a user row, from column `start` on, in schema order.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn read_custom_fields<'r, R>(
    row: &'r R,
    schema: &crate::user::UserSchema,
    start: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    use crate::user::FieldKind;
    use serde_json::Value;
    let bad = |e: sqlx::Error| StoreError::Other(format!("unreadable user row: {e}"));
    let mut fields = serde_json::Map::new();
    for (offset, field) in schema.fields().iter().enumerate() {
        let index = start + offset;
        let value = match field.kind {
            FieldKind::String { .. } | FieldKind::Date => row
                .try_get::<Option<String>, _>(index)
                .map_err(bad)?
                .map(Value::from),
            FieldKind::Integer => row
                .try_get::<Option<i64>, _>(index)
                .map_err(bad)?
                .map(Value::from),
            FieldKind::Float => row
                .try_get::<Option<f64>, _>(index)
                .map_err(bad)?
                .map(Value::from),
            FieldKind::Boolean => row
                .try_get::<Option<bool>, _>(index)
                .map_err(bad)?
                .map(Value::from),
        };
        fields.insert(field.name.clone(), value.unwrap_or(Value::Null));
    }
    Ok(fields)
}
