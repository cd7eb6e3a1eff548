//! Where users live. [`UserStore`] is the whole contract: five operations on users. The store
//! also owns the schema (FastAPI Users' tables plus a column per custom field).
//!
//! An in-memory store, complete, to show the contract:
//!
//! ```
//! use std::{collections::HashMap, sync::Mutex};
//! use axum_users::{store::{StoreError, UserStore}, User};
//! use uuid::Uuid;
//!
//! #[derive(Default)]
//! struct MemoryStore(Mutex<HashMap<Uuid, User>>);
//!
//! impl UserStore for MemoryStore {
//!     async fn get(&self, id: Uuid) -> Result<Option<User>, StoreError> {
//!         Ok(self.0.lock().unwrap().get(&id).cloned())
//!     }
//!     async fn get_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
//!         let email = email.to_lowercase();
//!         Ok(self.0.lock().unwrap().values().find(|u| u.email.to_lowercase() == email).cloned())
//!     }
//!     async fn create(&self, user: &User) -> Result<(), StoreError> {
//!         let mut users = self.0.lock().unwrap();
//!         let email = user.email.to_lowercase();
//!         if users.values().any(|u| u.email.to_lowercase() == email) {
//!             return Err(StoreError::Conflict);
//!         }
//!         users.insert(user.id, user.clone());
//!         Ok(())
//!     }
//!     async fn update(&self, user: &User) -> Result<(), StoreError> {
//!         self.0.lock().unwrap().insert(user.id, user.clone());
//!         Ok(())
//!     }
//!     async fn delete(&self, id: Uuid) -> Result<(), StoreError> {
//!         self.0.lock().unwrap().remove(&id);
//!         Ok(())
//!     }
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use uuid::Uuid;

use crate::User;

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;

/// A store failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint (the e-mail) was violated.
    #[error("a user with this e-mail already exists")]
    Conflict,
    /// The database cannot be reached or is overloaded: the request answers 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other failure.
    #[error("database error: {0}")]
    Other(String),
}

/// Reads and writes users. Look-ups by e-mail are case-insensitive; `create` and `update`
/// answer [`StoreError::Conflict`] when the e-mail is taken; `delete` also removes the user's
/// access tokens and OAuth accounts.
pub trait UserStore: Send + Sync + 'static {
    /// The user with this id.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    /// The user with this e-mail, compared case-insensitively.
    fn get_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    /// Inserts a new user.
    fn create(&self, user: &User) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes every field of an existing user but `token_version` (see
    /// [`UserStore::bump_token_version`]).
    fn update(&self, user: &User) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes a user and the rows that belong to it.
    fn delete(&self, id: Uuid) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Raises the user's `token_version` by one, so that every JWT minted before is refused
    /// ("log out everywhere"). The default reads and writes the whole user; the SQL stores do it
    /// in one statement, so that a concurrent update cannot undo it.
    fn bump_token_version(&self, id: Uuid) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            if let Some(mut user) = self.get(id).await? {
                user.token_version += 1;
                self.update(&user).await?;
            }
            Ok(())
        }
    }
    /// A value that changes whenever anyone (another process too) writes to the store, read
    /// without a query; `None` (the default) when the store cannot tell, which keeps the user
    /// cache off. The cache is trusted only while this value stays the same.
    fn generation(&self) -> Option<u128> {
        None
    }
}

/// The `accesstoken` table of the database token strategy (FastAPI Users'
/// `SQLAlchemyAccessTokenDatabase`): opaque tokens with their user and creation time.
pub trait AccessTokenStore: Send + Sync + 'static {
    /// Stores a new token, created now.
    fn create_token(
        &self,
        token: &str,
        user_id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The user of a token created within `max_age` (any age when `None`).
    fn get_token(
        &self,
        token: &str,
        max_age: Option<Duration>,
    ) -> impl Future<Output = Result<Option<Uuid>, StoreError>> + Send;
    /// Removes one token (logout).
    fn delete_token(&self, token: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes every token of a user; answers how many.
    fn delete_user_tokens(
        &self,
        user_id: Uuid,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Removes the tokens created more than `older_than` ago; answers how many.
    fn purge_tokens(
        &self,
        older_than: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// One row of `oauth_account`: a provider account linked to a user, with the provider's tokens.
/// `Debug` never shows the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthAccount {
    /// The row id (UUID v4).
    pub id: Uuid,
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
pub trait OAuthAccountStore: Send + Sync + 'static {
    /// The user linked to this provider account, and the link.
    fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<(User, OAuthAccount)>, StoreError>> + Send;
    /// Links a provider account to a user.
    fn add_oauth_account(
        &self,
        user_id: Uuid,
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
        user_id: Uuid,
    ) -> impl Future<Output = Result<Vec<OAuthAccount>, StoreError>> + Send;
}

/// [`OAuthAccountStore`] made object-safe.
pub(crate) trait DynOAuthStore: Send + Sync {
    fn get_by_oauth_account<'a>(
        &'a self,
        oauth_name: &'a str,
        account_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<(User, OAuthAccount)>, StoreError>>;
    fn add_oauth_account<'a>(
        &'a self,
        user_id: Uuid,
        account: &'a OAuthAccount,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn update_oauth_account<'a>(
        &'a self,
        account: &'a OAuthAccount,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn oauth_accounts(&self, user_id: Uuid)
        -> BoxFuture<'_, Result<Vec<OAuthAccount>, StoreError>>;
}

impl<T: OAuthAccountStore> DynOAuthStore for T {
    fn get_by_oauth_account<'a>(
        &'a self,
        oauth_name: &'a str,
        account_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<(User, OAuthAccount)>, StoreError>> {
        Box::pin(OAuthAccountStore::get_by_oauth_account(
            self, oauth_name, account_id,
        ))
    }
    fn add_oauth_account<'a>(
        &'a self,
        user_id: Uuid,
        account: &'a OAuthAccount,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(OAuthAccountStore::add_oauth_account(self, user_id, account))
    }
    fn update_oauth_account<'a>(
        &'a self,
        account: &'a OAuthAccount,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(OAuthAccountStore::update_oauth_account(self, account))
    }
    fn oauth_accounts(
        &self,
        user_id: Uuid,
    ) -> BoxFuture<'_, Result<Vec<OAuthAccount>, StoreError>> {
        Box::pin(OAuthAccountStore::oauth_accounts(self, user_id))
    }
}

/// The user whose e-mail equals `email` under full Unicode case folding: the fallback of the
/// stores whose SQL `lower()` folds ASCII only.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn find_folded(
    users: impl IntoIterator<Item = Result<User, StoreError>>,
    email: &str,
) -> Result<Option<User>, StoreError> {
    let wanted = email.to_lowercase();
    for user in users {
        let user = user?;
        if user.email.to_lowercase() == wanted {
            return Ok(Some(user));
        }
    }
    Ok(None)
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

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`UserStore`] made object-safe, so that one non-generic `AxumUsers` can hold any store.
pub(crate) trait DynUserStore: Send + Sync {
    fn get(&self, id: Uuid) -> BoxFuture<'_, Result<Option<User>, StoreError>>;
    fn get_by_email<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>>;
    fn create<'a>(&'a self, user: &'a User) -> BoxFuture<'a, Result<(), StoreError>>;
    fn update<'a>(&'a self, user: &'a User) -> BoxFuture<'a, Result<(), StoreError>>;
    fn delete(&self, id: Uuid) -> BoxFuture<'_, Result<(), StoreError>>;
    fn bump_token_version(&self, id: Uuid) -> BoxFuture<'_, Result<(), StoreError>>;
    fn generation(&self) -> Option<u128>;
}

impl<T: UserStore> DynUserStore for T {
    fn get(&self, id: Uuid) -> BoxFuture<'_, Result<Option<User>, StoreError>> {
        Box::pin(UserStore::get(self, id))
    }
    fn get_by_email<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(UserStore::get_by_email(self, email))
    }
    fn create<'a>(&'a self, user: &'a User) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(UserStore::create(self, user))
    }
    fn update<'a>(&'a self, user: &'a User) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(UserStore::update(self, user))
    }
    fn delete(&self, id: Uuid) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(UserStore::delete(self, id))
    }
    fn bump_token_version(&self, id: Uuid) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(UserStore::bump_token_version(self, id))
    }
    fn generation(&self) -> Option<u128> {
        UserStore::generation(self)
    }
}
