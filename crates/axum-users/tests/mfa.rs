//! The second factor over HTTP, on SQLite and PostgreSQL: enrolment with its QR code, the
//! login challenge for every kind of backend, TOTP codes accepted once (replay refused) with one
//! step of skew, recovery codes spent once, wrong codes ending the challenge, disabling and
//! regenerating with a proof, a superuser's reset, the hooks, users without it unchanged, and 20
//! concurrent completions of one challenge or one recovery code giving one login.

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::Router;
use axum_users::{
    AccessTokenStore, AxumUsers, Backend, BearerTransport, DatabaseStrategy, HookContext,
    HookError, Hooks, JwtStrategy, MfaChange, MfaSettings, MfaStore, PasswordPolicy,
    SessionSettings, SessionStore, User, UserCreate, UserStore,
};
use common::{fast_hasher, send_to, Reply, SECRET};
use http::{Method, Request, StatusCode};
use serde_json::{json, Map};

const ARTHUR: &str = "king.arthur@camelot.bt";
const MERLIN: &str = "merlin@camelot.bt";

trait TestStore: UserStore + AccessTokenStore + SessionStore + MfaStore + Clone + 'static {}
impl<S: UserStore + AccessTokenStore + SessionStore + MfaStore + Clone + 'static> TestStore for S {}

/// Records the second-factor changes the hook hears.
#[derive(Clone, Default)]
struct Changes(Arc<Mutex<Vec<String>>>);

impl Hooks for Changes {
    async fn on_after_mfa_change(
        &self,
        user: &User,
        change: MfaChange,
        _ctx: &HookContext<'_>,
    ) -> Result<(), HookError> {
        self.0
            .lock()
            .unwrap()
            .push(format!("{change:?}:{}", user.email));
        Ok(())
    }
}

struct App {
    users: AxumUsers,
    router: Router,
    changes: Changes,
    mailer: axum_users::MemoryMailer,
}

async fn app(store: impl TestStore) -> App {
    app_with_limits(store, axum_users::RateLimits::off()).await
}

async fn app_with_limits(store: impl TestStore, limits: axum_users::RateLimits) -> App {
    let changes = Changes::default();
    let mailer = axum_users::MemoryMailer::new();
    let users = AxumUsers::builder(store.clone())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .rate_limits(limits)
        .hooks(changes.clone())
        .mailer(mailer.clone())
        .sessions(store.clone(), SessionSettings::new("refresh secret"))
        .mfa(
            store.clone(),
            MfaSettings::new("Camelot", "recovery pepper"),
        )
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(SECRET, Some(900)),
        ))
        .backend(Backend::new(
            "cookie",
            common::cookie_transport(),
            JwtStrategy::new(SECRET, Some(3600)),
        ))
        .backend(Backend::new(
            "db",
            BearerTransport::new("auth/db/login"),
            DatabaseStrategy::new(store.clone(), Some(900)),
        ))
        .build()
        .unwrap();
    for (email, password, superuser) in [(ARTHUR, "guinevere", false), (MERLIN, "viviane", true)] {
        let flags = json!({"is_active": true, "is_superuser": superuser, "is_verified": true});
        let input = UserCreate {
            email: email.into(),
            password: password.into(),
            flags: flags.as_object().cloned().unwrap(),
            fields: Map::new(),
        };
        users.manager().create(input, false, None).await.unwrap();
    }
    App {
        router: users.router(),
        users,
        changes,
        mailer,
    }
}

fn password_of(email: &str) -> &'static str {
    if email == ARTHUR {
        "guinevere"
    } else {
        "viviane"
    }
}

/// The code an authenticator app shows for `secret` at `now` (+ `offset` seconds).
fn code(secret: &str, offset: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let now = u64::try_from(common::now_unix() + offset).unwrap();
    totp.generate(now).to_string()
}

impl App {
    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: &str) -> Reply {
        common::call(&self.router, method, uri, token, body).await
    }

    async fn login_reply(&self, backend: &str, email: &str) -> Reply {
        let body = format!(
            "username={}&password={}",
            common::urlencode(email),
            password_of(email)
        );
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("/auth/{backend}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        send_to(&self.router, request).await
    }

    /// The access token of a login without a second factor.
    async fn token(&self, email: &str) -> String {
        let reply = self.login_reply("jwt", email).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// The `mfa_token` a login answers for a user with a second factor.
    async fn challenge(&self, backend: &str, email: &str) -> String {
        let reply = self.login_reply(backend, email).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let body = reply.json();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["detail", "mfa_token"]);
        assert_eq!(body["detail"], "LOGIN_MFA_REQUIRED");
        body["mfa_token"].as_str().unwrap().to_owned()
    }

    async fn verify(&self, token: &str, code: &str) -> Reply {
        let body = json!({"mfa_token": token, "code": code}).to_string();
        self.call(Method::POST, "/auth/mfa/verify", None, &body)
            .await
    }

    /// Enrols `email` (signed in with `token`): the secret and the recovery codes.
    async fn enrol(&self, token: &str) -> (String, Vec<String>) {
        let reply = self
            .call(Method::POST, "/auth/mfa/totp/setup", Some(token), "")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let secret = reply.json()["secret"].as_str().unwrap().to_owned();
        let body = json!({ "code": code(&secret, 0) }).to_string();
        let reply = self
            .call(Method::POST, "/auth/mfa/totp/enable", Some(token), &body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let codes = reply.json()["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        (secret, codes)
    }

    fn changes(&self) -> Vec<String> {
        std::mem::take(&mut self.changes.0.lock().unwrap())
    }
}

fn refused(reply: &Reply, code: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.json(), json!({ "detail": code }));
}

async fn enrolment_and_login_with_totp(store: impl TestStore) {
    let app = app(store).await;
    let token = app.token(ARTHUR).await;
    let reply = app.call(Method::GET, "/auth/mfa", Some(&token), "").await;
    assert_eq!(
        reply.json(),
        json!({"totp_enabled": false, "recovery_codes_left": 0})
    );
    let reply = app
        .call(
            Method::POST,
            "/auth/mfa/totp/enable",
            Some(&token),
            r#"{"code":"123456"}"#,
        )
        .await;
    refused(&reply, "MFA_NOT_SET_UP");

    let reply = app
        .call(Method::POST, "/auth/mfa/totp/setup", Some(&token), "")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["secret", "otpauth_url", "qr_svg"]);
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32);
    assert_eq!(
        body["otpauth_url"],
        format!("otpauth://totp/Camelot:king.arthur%40camelot.bt?secret={secret}&issuer=Camelot")
    );
    let svg = body["qr_svg"].as_str().unwrap();
    assert!(
        svg.starts_with("<?xml") && svg.contains("<svg") && svg.ends_with("</svg>"),
        "{svg}"
    );
    // Not in force until a first code confirms it: logins are unchanged.
    assert_eq!(app.login_reply("jwt", ARTHUR).await.status, StatusCode::OK);
    // A wrong code, a malformed body.
    let reply = app
        .call(
            Method::POST,
            "/auth/mfa/totp/enable",
            Some(&token),
            r#"{"code":"000000"}"#,
        )
        .await;
    refused(&reply, "MFA_INVALID_CODE");
    let reply = app
        .call(Method::POST, "/auth/mfa/totp/enable", Some(&token), "{}")
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [{"type": "missing", "loc": ["body", "code"], "msg": "Field required", "input": null}]})
    );
    let body = json!({ "code": code(&secret, 0) }).to_string();
    let reply = app
        .call(Method::POST, "/auth/mfa/totp/enable", Some(&token), &body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let codes = reply.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    assert_eq!(app.changes(), ["Enabled:king.arthur@camelot.bt"]);
    // The user hears of it by e-mail, after the answer.
    app.users.wait_background().await;
    let sent = app.mailer.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, axum_users::MailKind::Security);
    assert_eq!(sent[0].to, ARTHUR);
    assert_eq!(
        sent[0].subject,
        "two-factor sign-in was turned on: your axum-users account"
    );
    assert!(sent[0]
        .text
        .contains("If this was you, there is nothing to do."));
    for code in &codes {
        assert!(!sent[0].text.contains(code.as_str().unwrap()));
    }
    let reply = app
        .call(Method::POST, "/auth/mfa/totp/setup", Some(&token), "")
        .await;
    refused(&reply, "MFA_ALREADY_ENABLED");
    let reply = app.call(Method::GET, "/auth/mfa", Some(&token), "").await;
    assert_eq!(
        reply.json(),
        json!({"totp_enabled": true, "recovery_codes_left": 10})
    );

    // Every backend now answers a challenge; the code completes the login through it.
    let challenge = app.challenge("jwt", ARTHUR).await;
    refused(&app.verify(&challenge, "000000").await, "MFA_INVALID_CODE");
    // The code enable spent is spent; the next step's (one step of skew) is not.
    refused(
        &app.verify(&challenge, &code(&secret, 0)).await,
        "MFA_INVALID_CODE",
    );
    let reply = app.verify(&challenge, &code(&secret, 30)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let keys: Vec<String> = reply.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access_token", "token_type"]);
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let me = app.call(Method::GET, "/users/me", Some(&access), "").await;
    assert_eq!(me.status, StatusCode::OK);
    let sessions = app
        .call(Method::GET, "/auth/sessions", Some(&access), "")
        .await
        .json();
    // (Two JWTs minted in one second for one user are one token: the session is found by
    // its method.)
    assert!(
        sessions
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["method"] == "password+totp"),
        "{sessions}"
    );
    // The token is spent; the same code again on a new challenge is a replay.
    refused(
        &app.verify(&challenge, &code(&secret, 30)).await,
        "MFA_TOKEN_INVALID",
    );
    let again = app.challenge("jwt", ARTHUR).await;
    refused(
        &app.verify(&again, &code(&secret, 30)).await,
        "MFA_INVALID_CODE",
    );

    // A recovery code, once; any letter case and separator.
    let recovery = codes[0].as_str().unwrap();
    let reply = app
        .verify(&again, &recovery.to_uppercase().replace('-', " "))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(app.changes(), ["RecoveryCodeUsed:king.arthur@camelot.bt"]);
    let third = app.challenge("jwt", ARTHUR).await;
    refused(&app.verify(&third, recovery).await, "MFA_INVALID_CODE");
    let reply = app.call(Method::GET, "/auth/mfa", Some(&access), "").await;
    assert_eq!(
        reply.json(),
        json!({"totp_enabled": true, "recovery_codes_left": 9})
    );

    // The cookie and database backends; a cookie completion from a page of another site is
    // refused before the code is spent.
    let challenge = app.challenge("cookie", ARTHUR).await;
    let cross = Request::builder()
        .method(Method::POST)
        .uri("/auth/mfa/verify")
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(Body::from(
            json!({"mfa_token": challenge, "code": codes[1]}).to_string(),
        ))
        .unwrap();
    let reply = send_to(&app.router, cross).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json(), json!({"detail": "CSRF_ORIGIN_NOT_ALLOWED"}));
    let reply = app.verify(&challenge, codes[1].as_str().unwrap()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert!(reply
        .header("set-cookie")
        .unwrap()
        .starts_with("fastapiusersauth="));
    let challenge = app.challenge("db", ARTHUR).await;
    let reply = app.verify(&challenge, codes[2].as_str().unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let db_token = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(db_token.len(), 43);
    assert_eq!(
        app.call(Method::GET, "/users/me", Some(&db_token), "")
            .await
            .status,
        StatusCode::OK
    );

    // Users without a second factor: exactly the answers of before.
    let reply = app.login_reply("jwt", MERLIN).await;
    assert_eq!(reply.status, StatusCode::OK);
    let keys: Vec<String> = reply.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access_token", "token_type"]);
    // Tokens that name nothing.
    for token in ["", "nope", &"x".repeat(500)] {
        refused(&app.verify(token, "123456").await, "MFA_TOKEN_INVALID");
    }
    let reply = app
        .call(
            Method::POST,
            "/auth/mfa/verify",
            None,
            r#"{"mfa_token": 1}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn wrong_codes_end_the_challenge(store: impl TestStore) {
    let app = app(store.clone()).await;
    let token = app.token(ARTHUR).await;
    let (_, codes) = app.enrol(&token).await;
    let challenge = app.challenge("jwt", ARTHUR).await;
    for _ in 0..5 {
        refused(&app.verify(&challenge, "000000").await, "MFA_INVALID_CODE");
    }
    refused(
        &app.verify(&challenge, &codes[0]).await,
        "MFA_TOKEN_INVALID",
    );
    // The code was not spent by the dead challenge.
    let challenge = app.challenge("jwt", ARTHUR).await;
    assert_eq!(
        app.verify(&challenge, &codes[0]).await.status,
        StatusCode::OK
    );
    // A login nobody finishes is purged once expired (the server does it hourly).
    let abandoned = app.challenge("jwt", ARTHUR).await;
    let now = common::now_unix();
    assert_eq!(store.delete_expired_challenges(now).await.unwrap(), 0);
    assert_eq!(store.delete_expired_challenges(now + 301).await.unwrap(), 1);
    assert!(store.get_challenge(&abandoned).await.unwrap().is_none());
}

async fn disable_regenerate_and_reset(store: impl TestStore) {
    let app = app(store).await;
    let token = app.token(ARTHUR).await;
    let merlin = app.token(MERLIN).await;
    let (_, codes) = app.enrol(&token).await;
    app.changes();

    // New codes with the password; the old ones are void.
    let reply = app
        .call(
            Method::POST,
            "/auth/mfa/recovery-codes",
            Some(&token),
            r#"{"password":"wrong"}"#,
        )
        .await;
    refused(&reply, "MFA_INVALID_CODE");
    let reply = app
        .call(Method::POST, "/auth/mfa/recovery-codes", Some(&token), "{}")
        .await;
    refused(&reply, "MFA_INVALID_CODE");
    let reply = app
        .call(
            Method::POST,
            "/auth/mfa/recovery-codes",
            Some(&token),
            r#"{"code": 5}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = app
        .call(
            Method::POST,
            "/auth/mfa/recovery-codes",
            Some(&token),
            r#"{"password":"guinevere"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let fresh = reply.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(
        app.changes(),
        ["RecoveryCodesRegenerated:king.arthur@camelot.bt"]
    );
    let challenge = app.challenge("jwt", ARTHUR).await;
    refused(&app.verify(&challenge, &codes[0]).await, "MFA_INVALID_CODE");

    // Off with a recovery code as the proof.
    let body = json!({ "code": fresh[0] }).to_string();
    let reply = app
        .call(Method::POST, "/auth/mfa/totp/disable", Some(&token), &body)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(
        app.changes(),
        [
            "RecoveryCodeUsed:king.arthur@camelot.bt",
            "Disabled:king.arthur@camelot.bt"
        ]
    );
    assert_eq!(app.login_reply("jwt", ARTHUR).await.status, StatusCode::OK);
    let reply = app
        .call(
            Method::POST,
            "/auth/mfa/totp/disable",
            Some(&token),
            r#"{"password":"guinevere"}"#,
        )
        .await;
    refused(&reply, "MFA_NOT_ENABLED");

    // A superuser's reset (a lost phone).
    app.enrol(&token).await;
    let id = app
        .users
        .manager()
        .get_by_email(ARTHUR)
        .await
        .unwrap()
        .unwrap()
        .id;
    let uri = format!("/users/{id}/mfa");
    let reply = app.call(Method::DELETE, &uri, Some(&token), "").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    app.changes();
    let reply = app.call(Method::DELETE, &uri, Some(&merlin), "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.changes(), ["ResetByAdmin:king.arthur@camelot.bt"]);
    assert_eq!(app.login_reply("jwt", ARTHUR).await.status, StatusCode::OK);
    let reply = app
        .call(
            Method::DELETE,
            "/users/00000000-0000-0000-0000-000000000000/mfa",
            Some(&merlin),
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // A deleted user's second factor goes with them.
    app.enrol(&token).await;
    let reply = app
        .call(Method::DELETE, &format!("/users/{id}"), Some(&merlin), "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
}

async fn one_login_per_challenge_and_per_code_under_a_race(store: impl TestStore) {
    let app = app(store).await;
    let token = app.token(ARTHUR).await;
    app.enrol(&token).await;
    for round in 0..20 {
        let reply = app
            .call(
                Method::POST,
                "/auth/mfa/recovery-codes",
                Some(&token),
                r#"{"password":"guinevere"}"#,
            )
            .await;
        let codes = reply.json()["recovery_codes"].as_array().unwrap().clone();
        // One challenge, 20 completions with valid recovery codes: one login.
        let challenge = app.challenge("jwt", ARTHUR).await;
        let replies = futures_util::future::join_all(
            (0..20).map(|i| app.verify(&challenge, codes[i % 10].as_str().unwrap())),
        )
        .await;
        let ok = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(ok, 1, "round {round}");
        for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "round {round}: {}",
                reply.body
            );
        }
        // 20 challenges, one unused recovery code: one login.
        let mut challenges = Vec::new();
        for _ in 0..20 {
            challenges.push(app.challenge("jwt", ARTHUR).await);
        }
        let reply = app
            .call(
                Method::POST,
                "/auth/mfa/recovery-codes",
                Some(&token),
                r#"{"password":"guinevere"}"#,
            )
            .await;
        let unused = reply.json()["recovery_codes"][0]
            .as_str()
            .unwrap()
            .to_owned();
        let replies =
            futures_util::future::join_all(challenges.iter().map(|c| app.verify(c, &unused))).await;
        let ok = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(ok, 1, "round {round}: one login with one code");
        // A user keeps 5 pending challenges at most: at least 15 of the 20 were ended by newer
        // ones (more when the previous round's left-overs expire in the same second and win
        // the tie); the live ones lost to the one login.
        let count = |code: &str| {
            replies
                .iter()
                .filter(|r| r.status == StatusCode::BAD_REQUEST && r.json()["detail"] == code)
                .count()
        };
        assert!(count("MFA_TOKEN_INVALID") >= 15, "round {round}");
        assert_eq!(
            count("MFA_TOKEN_INVALID") + count("MFA_INVALID_CODE"),
            19,
            "round {round}"
        );
    }
}

/// Code guesses for one user are limited per user, whatever the clients' addresses.
async fn guesses_are_limited_per_user(store: impl TestStore) {
    let mut limits = axum_users::RateLimits::default();
    limits.login = Some(axum_users::Limit::per(4, 60));
    limits.account = None;
    let app = app_with_limits(store, limits).await;
    let token = app.token(ARTHUR).await;
    app.enrol(&token).await;
    let challenge = app.challenge("jwt", ARTHUR).await;
    let from = |n: u8, body: String| {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/auth/mfa/verify")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let address = std::net::SocketAddr::from(([10, 0, 0, n], 4000));
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(address));
        request
    };
    let body = json!({"mfa_token": challenge, "code": "000000"}).to_string();
    for n in 1..=4 {
        let reply = send_to(&app.router, from(n, body.clone())).await;
        refused(&reply, "MFA_INVALID_CODE");
    }
    let reply = send_to(&app.router, from(5, body)).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.json(), json!({"detail": "TOO_MANY_REQUESTS"}));
}

sql_suite!(
    guesses_are_limited_per_user,
    enrolment_and_login_with_totp,
    wrong_codes_end_the_challenge,
    disable_regenerate_and_reset,
    one_login_per_challenge_and_per_code_under_a_race,
);

#[tokio::test]
async fn without_mfa_there_are_no_mfa_routes() {
    let app = common::app().await;
    assert!(!app.users.routes().iter().any(|r| r.path.contains("mfa")));
}
