//! Confirmed e-mail changes over HTTP, on SQLite and PostgreSQL: the user's own change waits
//! (`pending_email`), the new address gets the link and the old one a notice, the link
//! switches the address once (20 parallel confirmations, 20 rounds: one switch), not when the
//! address was taken meanwhile, and a superuser's change is immediate.

#[macro_use]
mod common;

use std::sync::Arc;

use axum::Router;
use axum_users::{
    AccessTokenStore, AuditSettings, AuditStore, AxumUsers, Backend, BearerTransport,
    EmailChangeStore, JwtStrategy, MailKind, MemoryMailer, PasswordPolicy, RateLimits, UserStore,
};
use common::{fast_hasher, Reply, SECRET};
use http::{Method, StatusCode};
use serde_json::{json, Value};

trait TestStore:
    UserStore + AccessTokenStore + EmailChangeStore + AuditStore + Clone + 'static
{
}
impl<S: UserStore + AccessTokenStore + EmailChangeStore + AuditStore + Clone + 'static> TestStore
    for S
{
}

struct App {
    users: AxumUsers,
    router: Router,
    mailer: MemoryMailer,
}

fn app(store: impl TestStore) -> App {
    let mailer = MemoryMailer::new();
    let users = AxumUsers::builder(store.clone())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .rate_limits(RateLimits::off())
        .mailer(mailer.clone())
        .verify_on_register(false)
        .confirm_email_changes(store.clone())
        .audit(store, AuditSettings::default())
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(SECRET, Some(900)),
        ))
        .build()
        .unwrap();
    App {
        router: users.router(),
        users,
        mailer,
    }
}

impl App {
    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: &str) -> Reply {
        common::call(&self.router, method, uri, token, body).await
    }

    async fn register(&self, email: &str) -> String {
        let body = json!({"email": email, "password": "holy-grail"}).to_string();
        let reply = self.call(Method::POST, "/auth/register", None, &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.json()["id"].as_str().unwrap().to_owned()
    }

    async fn token(&self, email: &str) -> Option<String> {
        let body = format!("username={}&password=holy-grail", common::urlencode(email));
        let reply = self
            .call(Method::POST, "/auth/jwt/login", None, &body)
            .await;
        (reply.status == StatusCode::OK)
            .then(|| reply.json()["access_token"].as_str().unwrap().to_owned())
    }

    /// Asks to switch to `new`; the link the new address got.
    async fn ask(&self, token: &str, new: &str) -> (Value, String) {
        let body = json!({ "email": new }).to_string();
        let reply = self
            .call(Method::PATCH, "/users/me", Some(token), &body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        self.users.wait_background().await;
        let sent = self.mailer.take();
        let link = sent
            .iter()
            .find(|m| m.to == new)
            .and_then(|m| common::token_in(&m.text).map(str::to_owned))
            .unwrap_or_else(|| panic!("no link to {new} in {sent:?}"));
        (reply.json(), link)
    }

    async fn confirm(&self, link: &str) -> Reply {
        let body = json!({ "token": link }).to_string();
        self.call(Method::POST, "/auth/verify", None, &body).await
    }
}

async fn the_new_address_confirms_the_change(store: impl TestStore) {
    let app = app(store);
    let id = app.register("gawain@camelot.bt").await;
    let token = app.token("gawain@camelot.bt").await.unwrap();

    let body = json!({"email": "sir.gawain@camelot.bt"}).to_string();
    let reply = app
        .call(Method::PATCH, "/users/me", Some(&token), &body)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"id": id, "email": "gawain@camelot.bt", "is_active": true, "is_superuser": false,
               "is_verified": false, "pending_email": "sir.gawain@camelot.bt"})
    );
    app.users.wait_background().await;
    let sent = app.mailer.take();
    let kinds: Vec<(MailKind, &str)> = sent
        .iter()
        .map(|m| (m.kind.clone(), m.to.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (MailKind::Verify, "sir.gawain@camelot.bt"),
            (MailKind::Security, "gawain@camelot.bt")
        ]
    );
    assert!(
        sent[1]
            .subject
            .starts_with("a change of your e-mail address to sir.gawain@camelot.bt was asked for"),
        "{}",
        sent[1].subject
    );
    let link = common::token_in(&sent[0].text).unwrap().to_owned();
    assert!(!sent[1].text.contains(&link));
    let me = app
        .call(Method::GET, "/users/me", Some(&token), "")
        .await
        .json();
    assert_eq!(me["email"], "gawain@camelot.bt");
    assert_eq!(me["pending_email"], "sir.gawain@camelot.bt");
    // The old address still signs in; the new one not yet.
    assert!(app.token("sir.gawain@camelot.bt").await.is_none());

    let reply = app.confirm(&link).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"id": id, "email": "sir.gawain@camelot.bt", "is_active": true,
               "is_superuser": false, "is_verified": true})
    );
    assert!(app.token("gawain@camelot.bt").await.is_none());
    let token = app.token("sir.gawain@camelot.bt").await.unwrap();
    let me = app
        .call(Method::GET, "/users/me", Some(&token), "")
        .await
        .json();
    assert_eq!(me.get("pending_email"), None);
    // Spent: the address is the new one and verified, as after any verification link.
    let reply = app.confirm(&link).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"detail": "VERIFY_USER_ALREADY_VERIFIED"})
    );
    let events = app
        .call(
            Method::GET,
            "/users/me/events?type=email.change_requested,email.changed",
            Some(&token),
            "",
        )
        .await
        .json();
    let details: Vec<Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["type"], e["detail"]]))
        .collect();
    assert_eq!(
        details,
        [
            json!(["email.changed", {"from": "gawain@camelot.bt", "to": "sir.gawain@camelot.bt"}]),
            json!(["email.change_requested", {"to": "sir.gawain@camelot.bt"}]),
        ]
    );

    // Taken meanwhile: the link switches nothing.
    let (_, link) = app.ask(&token, "green.knight@camelot.bt").await;
    app.register("green.knight@camelot.bt").await;
    let reply = app.confirm(&link).await;
    assert_eq!(reply.json(), json!({"detail": "VERIFY_USER_BAD_TOKEN"}));
    let me = app
        .call(Method::GET, "/users/me", Some(&token), "")
        .await
        .json();
    assert_eq!(me["email"], "sir.gawain@camelot.bt");
    // Taken already: refused at once, as without confirmation.
    let body = json!({"email": "green.knight@camelot.bt"}).to_string();
    let reply = app
        .call(Method::PATCH, "/users/me", Some(&token), &body)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"})
    );
    // A second request replaces the first: only the latest link works.
    let (_, first) = app.ask(&token, "one@camelot.bt").await;
    let (_, second) = app.ask(&token, "two@camelot.bt").await;
    assert_eq!(
        app.confirm(&first).await.json(),
        json!({"detail": "VERIFY_USER_BAD_TOKEN"})
    );
    assert_eq!(app.confirm(&second).await.json()["email"], "two@camelot.bt");

    // A superuser's change is immediate.
    let admin = app
        .users
        .create_user(
            json!({"email": "merlin@camelot.bt", "password": "holy-grail", "is_superuser": true}),
        )
        .await
        .unwrap();
    let admin = app.users.token_for("jwt", &admin).await.unwrap();
    let body = json!({"email": "gawain.the.green@camelot.bt"}).to_string();
    let reply = app
        .call(Method::PATCH, &format!("/users/{id}"), Some(&admin), &body)
        .await;
    assert_eq!(reply.json()["email"], "gawain.the.green@camelot.bt");
    assert_eq!(reply.json().get("pending_email"), None);
}

/// 20 rounds of 20 parallel confirmations of one link: one switch, the others refused.
async fn a_link_switches_once(store: impl TestStore) {
    let app = Arc::new(app(store));
    app.register("percival@camelot.bt").await;
    let mut current = "percival@camelot.bt".to_owned();
    for round in 0..20 {
        let token = app.token(&current).await.unwrap();
        let new = format!("percival.{round}@camelot.bt");
        let (_, link) = app.ask(&token, &new).await;
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (app, link) = (app.clone(), link.clone());
                tokio::spawn(async move { app.confirm(&link).await })
            })
            .collect();
        let mut switched = 0;
        for task in tasks {
            let reply = task.await.unwrap();
            match reply.status {
                StatusCode::OK => switched += 1,
                _ => {
                    let detail = reply.json()["detail"].clone();
                    assert!(
                        detail == "VERIFY_USER_BAD_TOKEN"
                            || detail == "VERIFY_USER_ALREADY_VERIFIED",
                        "{detail}"
                    );
                }
            }
        }
        assert_eq!(switched, 1, "round {round}");
        current = new;
    }
}

sql_suite!(the_new_address_confirms_the_change, a_link_switches_once);
