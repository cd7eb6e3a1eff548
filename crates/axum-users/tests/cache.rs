//! `CachingUserStore`: the per-request user read from memory, never stale where the store
//! reports its writes, bounded in entries.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum_users::{
    CachingUserStore, SqliteStore, StoreError, User, UserPatch, UserSchema, UserStore,
};
use uuid::Uuid;

const HASH: &str = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA";

/// A store in a file of its own: a SQLite file reports its writes (an in-memory one does not,
/// and is then never cached).
async fn store_with(emails: &[&str]) -> (SqliteStore, Vec<axum_users::UserId>) {
    let dir = std::env::temp_dir().join(format!("axum-users-cache-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("users.db").display());
    let store = SqliteStore::connect(&url, UserSchema::new()).await.unwrap();
    store.migrate().await.unwrap();
    let mut ids = Vec::new();
    for email in emails {
        let user = User::new(*email, HASH);
        store.create(&user).await.unwrap();
        ids.push(user.id);
    }
    (store, ids)
}

#[tokio::test]
async fn holds_no_more_users_than_its_capacity() {
    let emails: Vec<String> = (0..50).map(|i| format!("knight{i}@camelot.bt")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    let (store, ids) = store_with(&refs).await;
    settle(&store).await;
    let cached = CachingUserStore::new(store, 8, Duration::from_secs(60));
    for round in 0..3 {
        for (id, email) in ids.iter().zip(&emails) {
            let user = cached.get(*id).await.unwrap().unwrap();
            assert_eq!(&user.email, email, "round {round}");
            assert!(cached.len() <= 8, "{} users held", cached.len());
        }
    }
    assert!(!cached.is_empty());
}

#[tokio::test]
async fn a_write_anywhere_is_seen_at_once() {
    let (store, ids) = store_with(&["gawain@camelot.bt"]).await;
    let cached = CachingUserStore::new(store.clone(), 100, Duration::from_secs(3600));
    settle(&store).await;
    assert!(cached.get(ids[0]).await.unwrap().unwrap().is_active);
    assert_eq!(cached.len(), 1);

    // Through the wrapper.
    let ban = UserPatch::default().is_active(false);
    cached.update(ids[0], &ban).await.unwrap().unwrap();
    settle(&store).await;
    assert!(!cached.get(ids[0]).await.unwrap().unwrap().is_active);
    assert_eq!(cached.len(), 1);

    // Past it, straight into the store (as another process would): the store's generation
    // moved, so the entry is not served.
    let unban = UserPatch::default().is_active(true);
    store.update(ids[0], &unban).await.unwrap().unwrap();
    assert!(cached.get(ids[0]).await.unwrap().unwrap().is_active);

    store.delete(ids[0]).await.unwrap();
    assert!(cached.get(ids[0]).await.unwrap().is_none());
}

/// Two writes from past the wrapper within one tick of a filesystem's timestamps, the second
/// the same length as the first (a restarted WAL is overwritten in place): on a filesystem or
/// kernel with coarse timestamps neither the WAL's size nor its time moves between them. The
/// test plays that filesystem by putting the WAL's time back after the second write; the entry
/// read in between must not be served: here, a ban from another process (the CLI, a script)
/// must not be missed. 20 rounds.
#[tokio::test]
async fn two_writes_in_one_timestamp_tick_are_both_seen() {
    let (store, ids) = store_with(&["percival@camelot.bt"]).await;
    let wal = std::path::PathBuf::from(format!("{}-wal", db_of(&store).await.display()));
    let cached = CachingUserStore::new(store.clone(), 100, Duration::from_secs(3600));
    for round in 0..20 {
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(store.pool())
            .await
            .unwrap();
        let unban = UserPatch::default().is_active(true);
        store.update(ids[0], &unban).await.unwrap().unwrap();
        let user = cached.get(ids[0]).await.unwrap().unwrap();
        assert!(user.is_active, "round {round}");
        let before = std::fs::metadata(&wal).unwrap();

        let ban = UserPatch::default().is_active(false);
        store.update(ids[0], &ban).await.unwrap().unwrap();
        let after = std::fs::metadata(&wal).unwrap();
        assert_eq!(after.len(), before.len(), "round {round}: the WAL grew");
        let file = std::fs::File::options().write(true).open(&wal).unwrap();
        file.set_modified(before.modified().unwrap()).unwrap();

        let user = cached.get(ids[0]).await.unwrap().unwrap();
        assert!(
            !user.is_active,
            "round {round}: a banned user was served as active"
        );
    }
}

/// Makes the store's files look last written three seconds ago, as if the store had been quiet
/// that long: only then does it vouch for its generation (a file written within the last two
/// seconds might be written again without its time moving).
async fn settle(store: &SqliteStore) {
    let db = db_of(store).await;
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    let past = std::time::SystemTime::now() - Duration::from_secs(3);
    for path in [db, wal] {
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(past).unwrap();
    }
}

/// The database file of a store made by `store_with`.
async fn db_of(store: &SqliteStore) -> std::path::PathBuf {
    let row: (i64, String, String) = sqlx::query_as("PRAGMA database_list")
        .fetch_one(store.pool())
        .await
        .unwrap();
    std::path::PathBuf::from(row.2)
}

/// A store that cannot report its writes, counting its reads.
#[derive(Default)]
struct Blind {
    user: std::sync::Mutex<Option<User>>,
    reads: AtomicUsize,
}

impl UserStore for Blind {
    async fn get(&self, _id: axum_users::UserId) -> Result<Option<User>, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.user.lock().unwrap().clone())
    }
    async fn get_by_email(&self, _email: &str) -> Result<Option<User>, StoreError> {
        Ok(None)
    }
    async fn create(&self, user: &User) -> Result<axum_users::UserId, StoreError> {
        *self.user.lock().unwrap() = Some(user.clone());
        Ok(user.id)
    }
    async fn update(
        &self,
        _id: axum_users::UserId,
        _patch: &UserPatch,
    ) -> Result<Option<User>, StoreError> {
        Ok(None)
    }
    async fn delete(&self, _id: axum_users::UserId) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_store_that_cannot_report_its_writes_is_always_read() {
    let cached = CachingUserStore::new(Blind::default(), 100, Duration::from_secs(3600));
    let user = User::new("bors@camelot.bt", HASH);
    cached.create(&user).await.unwrap();
    for _ in 0..5 {
        assert_eq!(
            cached.get(user.id).await.unwrap().unwrap().email,
            "bors@camelot.bt"
        );
    }
    assert_eq!(cached.inner().reads.load(Ordering::Relaxed), 5);
    assert!(cached.is_empty());
}

/// PostgreSQL with `watch_writes`: users are served from memory until a write to the table by
/// anyone (here plain SQL on another connection) is announced, and a listening connection that
/// was lost and made again drops what was cached (writes made meanwhile went unheard).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_writes_by_anyone_are_heard_and_a_lost_listener_drops_the_cache() {
    let Some(db) = common::pg::Schema::create("cache_watch", UserSchema::new()).await else {
        return;
    };
    // Migrating again (another instance starting) keeps the one trigger, without re-creating it.
    let created = || async {
        let oid: i64 = sqlx::query_scalar(
            "SELECT oid::bigint FROM pg_trigger WHERE tgname = 'axum_users_user_written' \
             AND tgrelid = '\"user\"'::regclass",
        )
        .fetch_one(db.store.pool())
        .await
        .unwrap();
        oid
    };
    let first = created().await;
    db.store.migrate().await.unwrap();
    assert_eq!(created().await, first);
    let store = db.store.clone().watch_writes().await.unwrap();
    let sql = |statement: &'static str| {
        let pool = store.pool().clone();
        async move {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
    };
    let heard_before = store.generation().expect("listening");
    let user = User::new("gawain@camelot.bt", HASH);
    store.create(&user).await.unwrap();
    eventually("the insert is heard", || async {
        store.generation() > Some(heard_before)
    })
    .await;
    let cached = CachingUserStore::new(store.clone(), 100, Duration::from_secs(3600));
    let flags = || async {
        let user = cached.get(user.id).await.unwrap().unwrap();
        (user.is_active, user.is_verified)
    };
    assert_eq!(flags().await, (true, false));

    // A write nobody announces: the user is served from memory, as read before it.
    sql(r#"ALTER TABLE "user" DISABLE TRIGGER axum_users_user_written"#).await;
    sql(r#"UPDATE "user" SET is_active = false"#).await;
    assert_eq!(flags().await, (true, false));
    // An announced write: seen, and with it the one before.
    sql(r#"ALTER TABLE "user" ENABLE TRIGGER axum_users_user_written"#).await;
    sql(r#"UPDATE "user" SET is_verified = true"#).await;
    eventually("the announced write is seen", || async {
        flags().await == (false, true)
    })
    .await;

    // The listening connection is killed while an unannounced write lands: the new connection
    // drops the cache, and the write is seen.
    sql(r#"ALTER TABLE "user" DISABLE TRIGGER axum_users_user_written"#).await;
    sql(r#"UPDATE "user" SET is_active = true"#).await;
    assert_eq!(flags().await, (false, true));
    let before = store.generation();
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE 'LISTEN %axum_users_user_written%' AND pid <> pg_backend_pid()")
    .await;
    eventually("the listener reconnects", || async {
        store.generation().is_some_and(|now| Some(now) > before)
    })
    .await;
    assert_eq!(flags().await, (true, true));
    db.drop().await;
}

/// Polls `done` for up to five seconds.
#[cfg(feature = "postgres")]
async fn eventually<F, Fut>(what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
