//! The example served on a real port: the password rule answers as FastAPI Users' own
//! `validate_password` does, and registration mails a welcome message.

use axum_users::{MailKind, MemoryMailer, SqliteStore, UserSchema};
use example_hooks::{app, users};
use example_support::serve;
use serde_json::json;

#[tokio::test]
async fn the_password_rule_refuses_and_a_registration_is_welcomed() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mailer = MemoryMailer::new();
    let users = users(store, mailer.clone(), "a test secret").unwrap();
    let server = serve(app(&users)).await;

    let register = |password: &'static str| {
        let server = &server;
        async move {
            let body = json!({"email": "tristan@camelot.bt", "password": password});
            let reply = server
                .call("POST", "/auth/register", None, Some(body))
                .await;
            (reply.status, reply.body)
        }
    };
    let refused = |reason: &str| {
        (
            400,
            json!({"detail": {"code": "REGISTER_INVALID_PASSWORD", "reason": reason}}),
        )
    };
    assert_eq!(
        register("password").await,
        refused("Password is too common")
    );
    assert_eq!(
        register("iam-Tristan-of-lyonesse").await,
        refused("Password should not contain your name")
    );
    assert!(mailer.take().is_empty(), "no user, no welcome");

    let (status, body) = register("iseult-of-ireland").await;
    assert_eq!(status, 201, "{body}");
    users.wait_background().await;
    let sent = mailer.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, MailKind::Custom("welcome".into()));
    assert_eq!(
        (sent[0].to.as_str(), sent[0].subject.as_str()),
        ("tristan@camelot.bt", "Welcome to Camelot")
    );
}
