//! Your own store: users and access tokens kept in memory, behind the database token strategy
//! (so logout really ends a session). The whole contract is [`UserStore`] and
//! [`AccessTokenStore`]; a real store makes each write one atomic step, as this one does with a
//! single lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum_users::{
    email_key, AccessTokenStore, AxumUsers, Backend, BearerTransport, ConfigError,
    DatabaseStrategy, StoreError, User, UserId, UserPatch, UserStore,
};

#[derive(Default)]
struct Tables {
    users: HashMap<UserId, User>,
    tokens: HashMap<String, (UserId, Instant)>,
}

/// Users and tokens in memory. Cheap to clone (one `Arc`).
#[derive(Clone, Default)]
pub struct MemoryStore(Arc<Mutex<Tables>>);

impl MemoryStore {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic while the lock was held cannot leave a half-written row: every write below
        // is a single insert or remove.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl UserStore for MemoryStore {
    async fn get(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.tables().users.get(&id).cloned())
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let key = email_key(email);
        let tables = self.tables();
        Ok(tables
            .users
            .values()
            .find(|u| email_key(&u.email) == key)
            .cloned())
    }

    async fn create(&self, user: &User) -> Result<UserId, StoreError> {
        let mut tables = self.tables();
        let key = email_key(&user.email);
        if tables.users.values().any(|u| email_key(&u.email) == key) {
            return Err(StoreError::Conflict);
        }
        tables.users.insert(user.id, user.clone());
        Ok(user.id)
    }

    async fn update(&self, id: UserId, patch: &UserPatch) -> Result<Option<User>, StoreError> {
        let mut tables = self.tables();
        let Some(updated) = tables.users.get(&id).and_then(|user| patch.apply_to(user)) else {
            return Ok(None);
        };
        if let Some(email) = &patch.email {
            let key = email_key(email);
            if tables
                .users
                .values()
                .any(|u| u.id != id && email_key(&u.email) == key)
            {
                return Err(StoreError::Conflict);
            }
        }
        tables.users.insert(id, updated.clone());
        Ok(Some(updated))
    }

    async fn delete(&self, id: UserId) -> Result<(), StoreError> {
        let mut tables = self.tables();
        tables.users.remove(&id);
        tables.tokens.retain(|_, (user, _)| *user != id);
        Ok(())
    }
}

impl AccessTokenStore for MemoryStore {
    async fn create_token(&self, token: &str, user_id: UserId) -> Result<(), StoreError> {
        let mut tables = self.tables();
        tables
            .tokens
            .insert(token.to_owned(), (user_id, Instant::now()));
        Ok(())
    }

    async fn get_token(
        &self,
        token: &str,
        max_age: Option<Duration>,
    ) -> Result<Option<UserId>, StoreError> {
        let tables = self.tables();
        Ok(tables
            .tokens
            .get(token)
            .filter(|(_, created)| max_age.is_none_or(|age| created.elapsed() < age))
            .map(|(user, _)| *user))
    }

    async fn delete_token(&self, token: &str) -> Result<(), StoreError> {
        self.tables().tokens.remove(token);
        Ok(())
    }

    async fn delete_user_tokens(&self, user_id: UserId) -> Result<u64, StoreError> {
        let mut tables = self.tables();
        let before = tables.tokens.len();
        tables.tokens.retain(|_, (user, _)| *user != user_id);
        Ok((before - tables.tokens.len()) as u64)
    }
}

/// axum-users over the memory store, with opaque tokens in it (`/auth/db/login`).
pub fn users(store: MemoryStore) -> Result<AxumUsers, ConfigError> {
    AxumUsers::builder(store.clone())
        .backend(Backend::new(
            "db",
            BearerTransport::new("auth/db/login"),
            DatabaseStrategy::new(store, Some(3600)),
        ))
        .build()
}

/// All of axum-users' routes.
pub fn app(users: &AxumUsers) -> Router {
    users.router()
}
