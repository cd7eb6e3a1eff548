//! [`CachingUserStore`]: users by id kept in memory in front of any [`UserStore`], for the one
//! read every authenticated request makes.

use std::time::{Duration, Instant};

use crate::UserId;

use super::{
    AccessTokenStore, ExpiredDeletion, OAuthAccount, OAuthAccountStore, StoreError, UserPatch,
    UserStore,
};
use crate::User;

/// A [`UserStore`] wrapper that answers [`UserStore::get`] from memory (as tower-sessions'
/// `CachingSessionStore` does for sessions). An entry is served only while the inner store's
/// [`generation`](UserStore::generation) is the one it was read at and it is younger than the
/// time to live, and every write through the wrapper drops it; so a stale user is never served
/// when the store reports its writes (a SQLite file does, even another process's, once it has
/// been quiet for two seconds; PostgreSQL does with
/// [`watch_writes`](crate::PostgresStore::watch_writes), once a write's notification arrives),
/// and every read goes to the store when it cannot. At most `capacity` users are kept (least
/// recently used go first).
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use axum_users::{CachingUserStore, SqliteStore, UserSchema};
///
/// let store = SqliteStore::connect("sqlite::memory:", UserSchema::new()).await?;
/// let cached = CachingUserStore::new(store, 10_000, Duration::from_secs(60));
/// # Ok(()) }
/// ```
pub struct CachingUserStore<S> {
    inner: S,
    entries: quick_cache::sync::Cache<UserId, (User, Instant, u128)>,
    ttl: Duration,
}

impl<S> std::fmt::Debug for CachingUserStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingUserStore")
            .field("len", &self.entries.len())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<S: UserStore> CachingUserStore<S> {
    /// Keeps up to `capacity` users, each for at most `ttl`.
    pub fn new(inner: S, capacity: usize, ttl: Duration) -> Self {
        Self {
            inner,
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
            ttl,
        }
    }

    /// How many users are held now (at most the capacity).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no user is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn forget(&self, id: UserId) {
        self.entries.remove(&id);
    }
}

impl<S: UserStore> UserStore for CachingUserStore<S> {
    async fn get(&self, id: UserId) -> Result<Option<User>, StoreError> {
        // Read before the row: a write that lands in between changes it, and the entry made
        // from the older row is then never served.
        let Some(generation) = self.inner.generation() else {
            return self.inner.get(id).await;
        };
        if let Some((user, at, seen)) = self.entries.get(&id) {
            if seen == generation && at.elapsed() < self.ttl {
                return Ok(Some(user));
            }
        }
        let user = self.inner.get(id).await?;
        match &user {
            Some(user) => self
                .entries
                .insert(id, (user.clone(), Instant::now(), generation)),
            None => self.forget(id),
        }
        Ok(user)
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.inner.get_by_email(email).await
    }

    async fn create(&self, user: &User) -> Result<UserId, StoreError> {
        self.inner.create(user).await
    }

    async fn update(&self, id: UserId, patch: &UserPatch) -> Result<Option<User>, StoreError> {
        let written = self.inner.update(id, patch).await;
        self.forget(id);
        written
    }

    async fn delete(&self, id: UserId) -> Result<(), StoreError> {
        let deleted = self.inner.delete(id).await;
        self.forget(id);
        deleted
    }

    fn schema(&self) -> Option<&crate::UserSchema> {
        self.inner.schema()
    }

    fn id_kind(&self) -> crate::IdKind {
        self.inner.id_kind()
    }

    fn generation(&self) -> Option<u128> {
        self.inner.generation()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn list(&self, query: &super::UserQuery) -> Result<super::UserPage, StoreError> {
        self.inner.list(query).await
    }
}

impl<S: AccessTokenStore> AccessTokenStore for CachingUserStore<S> {
    async fn create_token(&self, token: &str, user_id: UserId) -> Result<(), StoreError> {
        self.inner.create_token(token, user_id).await
    }
    async fn get_token(
        &self,
        token: &str,
        max_age: Option<Duration>,
    ) -> Result<Option<UserId>, StoreError> {
        self.inner.get_token(token, max_age).await
    }
    async fn delete_token(&self, token: &str) -> Result<(), StoreError> {
        self.inner.delete_token(token).await
    }
    async fn delete_user_tokens(&self, user_id: UserId) -> Result<u64, StoreError> {
        self.inner.delete_user_tokens(user_id).await
    }
}

impl<S: ExpiredDeletion> ExpiredDeletion for CachingUserStore<S> {
    async fn delete_expired(&self, max_age: Duration) -> Result<u64, StoreError> {
        self.inner.delete_expired(max_age).await
    }
}

impl<S: OAuthAccountStore> OAuthAccountStore for CachingUserStore<S> {
    async fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<(User, OAuthAccount)>, StoreError> {
        self.inner
            .get_by_oauth_account(oauth_name, account_id)
            .await
    }
    async fn add_oauth_account(
        &self,
        user_id: UserId,
        account: &OAuthAccount,
    ) -> Result<(), StoreError> {
        self.inner.add_oauth_account(user_id, account).await
    }
    async fn update_oauth_account(&self, account: &OAuthAccount) -> Result<(), StoreError> {
        self.inner.update_oauth_account(account).await
    }
    async fn oauth_accounts(&self, user_id: UserId) -> Result<Vec<OAuthAccount>, StoreError> {
        self.inner.oauth_accounts(user_id).await
    }
}
