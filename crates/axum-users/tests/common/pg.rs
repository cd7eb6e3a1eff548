//! A fresh PostgreSQL schema per test, on `TEST_DATABASE_URL`; CI must set it.

use std::str::FromStr as _;

use axum_users::{PostgresStore, UserSchema};
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection as _;

/// A fresh schema of the test database, dropped when the test passed.
pub struct Schema {
    pub store: PostgresStore,
    name: String,
    url: String,
}

impl Schema {
    /// `None` (and a note on the terminal) without `TEST_DATABASE_URL`, which CI must set.
    pub async fn create(test: &str, schema: UserSchema) -> Option<Self> {
        Self::create_with_ids(test, schema, axum_users::IdKind::Uuid).await
    }

    /// A fresh schema whose tables hold this kind of ids.
    pub async fn create_with_ids(
        test: &str,
        schema: UserSchema,
        ids: axum_users::IdKind,
    ) -> Option<Self> {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the PostgreSQL suite: set TEST_DATABASE_URL"
            );
            super::skipped(&format!("postgres::{test}: TEST_DATABASE_URL is not set"));
            return None;
        };
        let name = format!("axum_users_{test}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&url)
            .await
            .expect("TEST_DATABASE_URL must be reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", name.as_str())]);
        let store = PostgresStore::connect_with(options, schema)
            .await
            .unwrap()
            .with_id_kind(ids);
        store.migrate().await.unwrap();
        Some(Self { store, name, url })
    }

    /// Another store on the same schema, with its own pool: a second instance.
    pub async fn second_pool(&self) -> PostgresStore {
        let options = PgConnectOptions::from_str(&self.url)
            .unwrap()
            .options([("search_path", self.name.as_str())]);
        PostgresStore::connect_with(options, UserSchema::new())
            .await
            .unwrap()
            .with_id_kind(axum_users::UserStore::id_kind(&self.store))
    }

    pub async fn drop(self) {
        self.store.pool().close().await;
        let mut admin = sqlx::PgConnection::connect(&self.url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}
