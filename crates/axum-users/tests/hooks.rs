//! Hooks as the application meets them: the context they get (the request, the mailer, the
//! background queue), after-hooks whose failure is logged while the committed write stands,
//! and `on_before_delete`, which decides.

mod common;

use axum_users::{
    AxumUsers, Email, HookContext, HookError, Hooks, MailKind, MemoryMailer, RateLimits,
    SqliteStore, User, UserSchema,
};
use common::{fast_hasher, jwt_backend, send_to, Reply};
use http::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

/// Every after-hook fails; registration also sends a welcome message through the context.
struct Unreliable;

impl Hooks for Unreliable {
    async fn on_after_register(&self, user: &User, ctx: &HookContext<'_>) -> Result<(), HookError> {
        assert!(ctx.request().is_some(), "the request reaches the hook");
        ctx.send_email(Email::new(
            "welcome",
            &user.email,
            "Welcome to Camelot",
            "The round table awaits.",
        ));
        Err(HookError::failed("the CRM is down"))
    }
    async fn on_after_login(
        &self,
        _user: &User,
        _ctx: &HookContext<'_>,
        _response: &mut axum::response::Response,
    ) -> Result<(), HookError> {
        Err(HookError::failed("the analytics service is down"))
    }
    async fn on_after_update(
        &self,
        _user: &User,
        _update: &Map<String, Value>,
        _ctx: &HookContext<'_>,
    ) -> Result<(), HookError> {
        Err(HookError::reject(StatusCode::CONFLICT, "TOO_LATE"))
    }
    async fn on_before_delete(&self, user: &User, _ctx: &HookContext<'_>) -> Result<(), HookError> {
        match user.email.as_str() {
            "galahad@camelot.bt" => Err(HookError::reject(StatusCode::CONFLICT, "USER_HAS_ORDERS")),
            "mordred@camelot.bt" => Err(HookError::failed("the ledger is unreachable")),
            _ => Ok(()),
        }
    }
    async fn on_after_delete(&self, _user: &User, _ctx: &HookContext<'_>) -> Result<(), HookError> {
        Err(HookError::failed("the archive is down"))
    }
}

struct App {
    router: axum::Router,
    users: AxumUsers,
    store: SqliteStore,
    mailer: MemoryMailer,
}

async fn app() -> App {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mailer = MemoryMailer::new();
    let users = AxumUsers::builder(store.clone())
        .hooks(Unreliable)
        .mailer(mailer.clone())
        .password_hasher(fast_hasher())
        .rate_limits(RateLimits::off())
        .backend(jwt_backend())
        .build()
        .unwrap();
    App {
        router: users.router(),
        users,
        store,
        mailer,
    }
}

impl App {
    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: &str) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        send_to(
            &self.router,
            request
                .body(axum::body::Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
    }

    async fn register(&self, email: &str) -> Reply {
        let body = json!({"email": email, "password": "holy-grail"}).to_string();
        self.call(Method::POST, "/auth/register", None, &body).await
    }

    async fn login(&self, email: &str) -> Reply {
        let request = Request::post("/auth/jwt/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(format!(
                "username={}&password=holy-grail",
                common::urlencode(email)
            )))
            .unwrap();
        send_to(&self.router, request).await
    }

    async fn superuser_token(&self) -> String {
        self.register("arthur@camelot.bt").await;
        let arthur = self.users.manager().get_by_email("arthur@camelot.bt").await;
        let arthur = arthur.unwrap().unwrap();
        let mut promote = axum_users::UserPatch::default();
        promote.is_superuser = Some(true);
        axum_users::UserStore::update(&self.store, arthur.id, &promote)
            .await
            .unwrap();
        self.login("arthur@camelot.bt").await.json()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn user_json(reply: &Reply, email: &str) -> Value {
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    json!({"id": id, "email": email, "is_active": true, "is_superuser": false, "is_verified": false})
}

#[tokio::test]
async fn a_failing_after_register_hook_does_not_undo_the_answer() {
    let app = app().await;
    let reply = app.register("lancelot@camelot.bt").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.json(), user_json(&reply, "lancelot@camelot.bt"));
    // The user exists, and a client that retried would be told so, not told of a failure.
    let again = app.register("lancelot@camelot.bt").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body, r#"{"detail":"REGISTER_USER_ALREADY_EXISTS"}"#);
    // The hook's own message went out through the configured mailer, after the answer.
    app.users.wait_background().await;
    let sent = app.mailer.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, MailKind::Custom("welcome".into()));
    assert_eq!(
        (
            sent[0].to.as_str(),
            sent[0].subject.as_str(),
            sent[0].text.as_str(),
            sent[0].html.as_str()
        ),
        (
            "lancelot@camelot.bt",
            "Welcome to Camelot",
            "The round table awaits.",
            ""
        )
    );
}

#[tokio::test]
async fn failing_login_and_update_hooks_leave_the_session_and_the_write() {
    let app = app().await;
    app.register("gawain@camelot.bt").await;
    let login = app.login("gawain@camelot.bt").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(login.json()["token_type"], "bearer");
    let me = app.call(Method::GET, "/users/me", Some(&token), "").await;
    assert_eq!(me.status, StatusCode::OK);

    // An after-update hook that "rejects" cannot: the update is written.
    let body = json!({"email": "sir.gawain@camelot.bt"}).to_string();
    let patch = app
        .call(Method::PATCH, "/users/me", Some(&token), &body)
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.body);
    assert_eq!(patch.json(), user_json(&patch, "sir.gawain@camelot.bt"));
    let me = app.call(Method::GET, "/users/me", Some(&token), "").await;
    assert_eq!(me.json(), user_json(&me, "sir.gawain@camelot.bt"));
}

#[tokio::test]
async fn on_before_delete_decides_and_on_after_delete_does_not() {
    let app = app().await;
    let admin = app.superuser_token().await;
    let mut ids = Vec::new();
    for email in [
        "galahad@camelot.bt",
        "mordred@camelot.bt",
        "bedivere@camelot.bt",
    ] {
        let reply = app.register(email).await;
        ids.push(reply.json()["id"].as_str().unwrap().to_owned());
    }

    // What DELETE answers, then what GET answers after it.
    let delete_then_get = |id: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let uri = format!("/users/{id}");
            let deleted = app.call(Method::DELETE, &uri, Some(admin), "").await;
            let after = app.call(Method::GET, &uri, Some(admin), "").await;
            ((deleted.status, deleted.body), after.status)
        }
    };
    // Refused with the hook's own status and detail; nothing is deleted.
    assert_eq!(
        delete_then_get(ids[0].clone()).await,
        (
            (
                StatusCode::CONFLICT,
                r#"{"detail":"USER_HAS_ORDERS"}"#.into()
            ),
            StatusCode::OK
        )
    );
    // A before-hook that fails is a 500, never a half-done deletion.
    assert_eq!(
        delete_then_get(ids[1].clone()).await,
        (
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"detail":"Internal Server Error"}"#.into()
            ),
            StatusCode::OK
        )
    );
    // The after-hook fails; the deletion stands and is answered as done.
    assert_eq!(
        delete_then_get(ids[2].clone()).await,
        (
            (StatusCode::NO_CONTENT, String::new()),
            StatusCode::NOT_FOUND
        )
    );
}

/// Holds every forgot-password job in its hook until the test opens the gate, counting the jobs
/// that reached it.
#[derive(Clone)]
struct Gated {
    started: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    gate: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Hooks for Gated {
    async fn on_after_forgot_password(
        &self,
        _user: &User,
        _token: &str,
        _ctx: &HookContext<'_>,
    ) -> Result<(), HookError> {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Closed only by the test, after its last request: never an error here.
        let _pass = self
            .gate
            .acquire()
            .await
            .map_err(|_| HookError::failed("gate closed"))?;
        Ok(())
    }
}

/// The work after 202 answers is bounded: with room for 3 jobs, 10 forgot-password requests
/// while those 3 are held all answer 202, start no 4th job and leave no task behind; once
/// the jobs finish there is room again.
#[tokio::test]
async fn the_background_queue_holds_no_more_jobs_than_its_limit() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let hooks = Gated {
        started: std::sync::Arc::default(),
        gate: std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
    };
    let mailer = MemoryMailer::new();
    let users = AxumUsers::builder(store.clone())
        .hooks(hooks.clone())
        .mailer(mailer.clone())
        .password_hasher(fast_hasher())
        .rate_limits(RateLimits::off())
        .background_limit(3)
        .backend(jwt_backend())
        .build()
        .unwrap();
    let app = App {
        router: users.router(),
        users: users.clone(),
        store,
        mailer: mailer.clone(),
    };
    assert_eq!(
        app.register("kay@camelot.bt").await.status,
        StatusCode::CREATED
    );
    let body = json!({"email": "kay@camelot.bt"}).to_string();
    for _ in 0..10 {
        let reply = app
            .call(Method::POST, "/auth/forgot-password", None, &body)
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert_eq!(reply.json(), Value::Null);
    }
    // The three admitted jobs reach the hook; give any other (there must be none) the time to.
    for _ in 0..100 {
        if hooks.started.load(std::sync::atomic::Ordering::SeqCst) == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(hooks.started.load(std::sync::atomic::Ordering::SeqCst), 3);

    hooks.gate.add_permits(1000);
    users.wait_background().await;
    assert_eq!(mailer.take().len(), 3, "one reset e-mail per admitted job");

    // Room again.
    let reply = app
        .call(Method::POST, "/auth/forgot-password", None, &body)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    users.wait_background().await;
    assert_eq!(hooks.started.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert_eq!(mailer.take().len(), 1);
}
