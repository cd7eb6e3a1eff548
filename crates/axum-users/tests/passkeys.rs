//! Passkeys over HTTP, on SQLite and PostgreSQL, with a software authenticator: registration
//! (its options, the exact answers, every refusal), the list, rename and delete, discoverable
//! sign-in through the JWT, cookie and database backends, a passkey standing for both factors
//! of a user with TOTP on, ceremonies spent once under 20 parallel finishes (20 rounds), the
//! bounds on pending ceremonies and passkeys per user, and a deleted user's passkeys gone.

#![cfg(feature = "passkeys")]

#[macro_use]
mod common;
#[path = "passkeys/authenticator.rs"]
mod authenticator;

use std::sync::{Arc, Mutex};

use authenticator::{Credential, Quirks};
use axum::Router;
use axum_users::{
    AccessTokenStore, AxumUsers, Backend, BearerTransport, DatabaseStrategy, HookContext,
    HookError, Hooks, JwtStrategy, MfaChange, MfaSettings, MfaStore, PasskeySettings, PasskeyStore,
    PasswordPolicy, SessionSettings, SessionStore, User, UserCreate, UserStore,
};
use common::{fast_hasher, Reply, SECRET};
use http::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

const ARTHUR: &str = "king.arthur@camelot.bt";
const MERLIN: &str = "merlin@camelot.bt";

trait TestStore:
    UserStore + AccessTokenStore + SessionStore + MfaStore + PasskeyStore + Clone + 'static
{
}
impl<
        S: UserStore + AccessTokenStore + SessionStore + MfaStore + PasskeyStore + Clone + 'static,
    > TestStore for S
{
}

/// Records the changes the hook hears.
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

fn settings() -> PasskeySettings {
    PasskeySettings::new(authenticator::RP_ID, "Camelot", [authenticator::ORIGIN]).unwrap()
}

async fn app(store: impl TestStore) -> App {
    app_with(store, settings()).await
}

async fn app_with(store: impl TestStore, passkeys: PasskeySettings) -> App {
    let changes = Changes::default();
    let mailer = axum_users::MemoryMailer::new();
    let users = AxumUsers::builder(store.clone())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .rate_limits(axum_users::RateLimits::off())
        .hooks(changes.clone())
        .mailer(mailer.clone())
        .sessions(store.clone(), SessionSettings::new("refresh secret"))
        .mfa(
            store.clone(),
            MfaSettings::new("Camelot", "recovery pepper"),
        )
        .passkeys(store.clone(), passkeys)
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

fn refused(reply: &Reply, code: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.json(), json!({ "detail": code }));
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

impl App {
    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: &str) -> Reply {
        common::call(&self.router, method, uri, token, body).await
    }

    async fn token(&self, email: &str) -> String {
        let password = if email == ARTHUR {
            "guinevere"
        } else {
            "viviane"
        };
        let body = format!("username={}&password={password}", common::urlencode(email));
        let reply = self
            .call(Method::POST, "/auth/jwt/login", None, &body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// A registration's begin: the ceremony id and the whole answer.
    async fn register_begin(&self, token: &str) -> (String, Value) {
        let reply = self
            .call(
                Method::POST,
                "/auth/passkeys/register/begin",
                Some(token),
                "",
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let body = reply.json();
        (body["ceremony_id"].as_str().unwrap().to_owned(), body)
    }

    async fn register_finish(&self, token: &str, ceremony: &str, credential: &Value) -> Reply {
        let body = json!({"ceremony_id": ceremony, "credential": credential, "name": "Laptop"});
        self.call(
            Method::POST,
            "/auth/passkeys/register/finish",
            Some(token),
            &body.to_string(),
        )
        .await
    }

    /// Registers a passkey for the holder of `token`.
    async fn register(&self, token: &str) -> (Credential, Value) {
        let (ceremony, options) = self.register_begin(token).await;
        let (credential, json) = authenticator::register(&options, &Quirks::default());
        let reply = self.register_finish(token, &ceremony, &json).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        (credential, reply.json())
    }

    async fn login_begin(&self) -> (String, Value) {
        let reply = self
            .call(Method::POST, "/auth/passkeys/login/begin", None, "")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let body = reply.json();
        (body["ceremony_id"].as_str().unwrap().to_owned(), body)
    }

    async fn login_finish(
        &self,
        ceremony: &str,
        assertion: &Value,
        backend: Option<&str>,
    ) -> Reply {
        let mut body = json!({"ceremony_id": ceremony, "credential": assertion});
        if let Some(backend) = backend {
            body["backend"] = Value::from(backend);
        }
        self.call(
            Method::POST,
            "/auth/passkeys/login/finish",
            None,
            &body.to_string(),
        )
        .await
    }

    /// A whole sign-in with `credential`.
    async fn sign_in(&self, credential: &mut Credential, backend: Option<&str>) -> Reply {
        let (ceremony, options) = self.login_begin().await;
        let assertion = authenticator::assert(credential, &options, &Quirks::default());
        self.login_finish(&ceremony, &assertion, backend).await
    }

    fn changes(&self) -> Vec<String> {
        std::mem::take(&mut self.changes.0.lock().unwrap())
    }
}

async fn registration_list_rename_and_delete(store: impl TestStore) {
    let app = app(store).await;
    let token = app.token(ARTHUR).await;
    let reply = app
        .call(Method::GET, "/auth/passkeys", Some(&token), "")
        .await;
    assert_eq!((reply.status, reply.json()), (StatusCode::OK, json!([])));
    for (method, path) in [
        (Method::GET, "/auth/passkeys"),
        (Method::POST, "/auth/passkeys/register/begin"),
        (Method::POST, "/auth/passkeys/register/finish"),
        (Method::DELETE, "/auth/passkeys/x"),
    ] {
        let reply = app.call(method, path, None, "{}").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(reply.json(), json!({"detail": "Unauthorized"}));
    }

    let (ceremony, options) = app.register_begin(&token).await;
    assert_eq!(keys(&options), ["ceremony_id", "publicKey"]);
    assert_eq!(ceremony.len(), 22);
    let public_key = &options["publicKey"];
    assert_eq!(
        public_key["rp"],
        json!({"id": "localhost", "name": "Camelot"})
    );
    assert_eq!(public_key["user"]["name"], ARTHUR);
    assert_eq!(public_key["user"]["displayName"], ARTHUR);
    assert_eq!(
        public_key["authenticatorSelection"],
        json!({"residentKey": "required", "requireResidentKey": true, "userVerification": "required"})
    );
    assert_eq!(public_key["excludeCredentials"], json!([]));
    assert_eq!(public_key["attestation"], "none");
    assert_eq!(public_key["timeout"], 300_000);

    // Refusals before a good finish: a malformed body, someone else's ceremony, a forged
    // answer. Each of those spends the ceremony only if it was the caller's.
    let (credential, json) = authenticator::register(&options, &Quirks::default());
    let reply = app
        .call(
            Method::POST,
            "/auth/passkeys/register/finish",
            Some(&token),
            r#"{"credential": [1]}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [
            {"type": "missing", "loc": ["body", "ceremony_id"], "msg": "Field required", "input": null},
            {"type": "dict_type", "loc": ["body", "credential"],
             "msg": "Input should be a valid dictionary", "input": [1]},
        ]})
    );
    // An object that is no WebAuthn answer fails like a forged one (and spends the ceremony).
    let (ceremony_spent, _) = app.register_begin(&token).await;
    let body = json!({"ceremony_id": ceremony_spent, "credential": {"id": 1}});
    let reply = app
        .call(
            Method::POST,
            "/auth/passkeys/register/finish",
            Some(&token),
            &body.to_string(),
        )
        .await;
    refused(&reply, "PASSKEY_INVALID");
    let long = "x".repeat(65);
    let body = json!({"ceremony_id": ceremony, "credential": json, "name": long});
    let reply = app
        .call(
            Method::POST,
            "/auth/passkeys/register/finish",
            Some(&token),
            &body.to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json()["detail"][0],
        json!({"type": "string_too_long", "loc": ["body", "name"],
               "msg": "String should have at most 64 characters", "input": long,
               "ctx": {"max_length": 64}})
    );
    let merlin = app.token(MERLIN).await;
    refused(
        &app.register_finish(&merlin, &ceremony, &json).await,
        "PASSKEY_CEREMONY_INVALID",
    );
    // Merlin's try took the ceremony away: Arthur begins again.
    refused(
        &app.register_finish(&token, &ceremony, &json).await,
        "PASSKEY_CEREMONY_INVALID",
    );
    for quirks in [
        Quirks {
            origin: Some("https://evil.example".into()),
            ..Quirks::default()
        },
        Quirks {
            no_user_verification: true,
            ..Quirks::default()
        },
        Quirks {
            wrong_challenge: true,
            ..Quirks::default()
        },
    ] {
        let (ceremony, options) = app.register_begin(&token).await;
        let (_, json) = authenticator::register(&options, &quirks);
        refused(
            &app.register_finish(&token, &ceremony, &json).await,
            "PASSKEY_INVALID",
        );
    }
    assert!(app.changes().is_empty());

    let (ceremony, options) = app.register_begin(&token).await;
    drop(credential);
    let (credential_again, json_again) = authenticator::register(&options, &Quirks::default());
    let reply = app.register_finish(&token, &ceremony, &json_again).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let laptop = reply.json();
    assert_eq!(keys(&laptop), ["id", "name", "created_at", "last_used_at"]);
    assert_eq!(laptop["name"], "Laptop");
    assert_eq!(laptop["last_used_at"], Value::Null);
    assert!(laptop["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.changes(), [format!("PasskeyAdded:{ARTHUR}")]);
    // The same credential a second time (another ceremony): refused.
    let (ceremony, options) = app.register_begin(&token).await;
    let again = authenticator::register_again(&credential_again, &options);
    refused(
        &app.register_finish(&token, &ceremony, &again).await,
        "PASSKEY_ALREADY_REGISTERED",
    );
    // Another account cannot take it either (the credential ids are unique).
    let (ceremony, options) = app.register_begin(&merlin).await;
    let again = authenticator::register_again(&credential_again, &options);
    refused(
        &app.register_finish(&merlin, &ceremony, &again).await,
        "PASSKEY_ALREADY_REGISTERED",
    );
    // Now excluded from new registrations.
    let (_, options) = app.register_begin(&token).await;
    assert_eq!(
        options["publicKey"]["excludeCredentials"][0]["id"],
        json_again["id"]
    );
    drop(credential_again);
    // A second one, named by default.
    let (ceremony, options) = app.register_begin(&token).await;
    let (_, json) = authenticator::register(&options, &Quirks::default());
    let body = json!({"ceremony_id": ceremony, "credential": json});
    let reply = app
        .call(
            Method::POST,
            "/auth/passkeys/register/finish",
            Some(&token),
            &body.to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let phone = reply.json();
    assert_eq!(phone["name"], "Passkey");
    app.changes();

    let reply = app
        .call(Method::GET, "/auth/passkeys", Some(&token), "")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!([laptop, phone]));
    let reply = app
        .call(Method::GET, "/auth/passkeys", Some(&merlin), "")
        .await;
    assert_eq!(reply.json(), json!([]));

    // Rename: the owner only; a name of 1 to 64 characters.
    let path = format!("/auth/passkeys/{}", phone["id"].as_str().unwrap());
    let reply = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            r#"{"name": "  Phone  "}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut renamed = phone.clone();
    renamed["name"] = Value::from("Phone");
    assert_eq!(reply.json(), renamed);
    let reply = app
        .call(Method::PATCH, &path, Some(&token), r#"{"name": "  "}"#)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [{"type": "string_too_short", "loc": ["body", "name"],
            "msg": "String should have at least 1 character", "input": "", "ctx": {"min_length": 1}}]})
    );
    let reply = app.call(Method::PATCH, &path, Some(&token), "{}").await;
    assert_eq!(
        reply.json(),
        json!({"detail": [{"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": null}]})
    );
    for (who, target) in [
        (&merlin, path.clone()),
        (&token, "/auth/passkeys/unknown".to_owned()),
        (&token, format!("/auth/passkeys/{}", "x".repeat(100))),
    ] {
        let reply = app
            .call(Method::PATCH, &target, Some(who), r#"{"name": "Mine"}"#)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{target}");
        assert_eq!(reply.json(), json!({"detail": "Not Found"}));
        let reply = app.call(Method::DELETE, &target, Some(who), "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{target}");
    }

    let reply = app.call(Method::DELETE, &path, Some(&token), "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NO_CONTENT, "")
    );
    assert_eq!(app.changes(), [format!("PasskeyRemoved:{ARTHUR}")]);
    let reply = app.call(Method::DELETE, &path, Some(&token), "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .call(Method::GET, "/auth/passkeys", Some(&token), "")
        .await;
    assert_eq!(reply.json(), json!([laptop]));

    // The user heard of each change by e-mail, after the answers.
    app.users.wait_background().await;
    let subjects: Vec<String> = app.mailer.take().into_iter().map(|m| m.subject).collect();
    assert_eq!(
        subjects,
        [
            "a passkey was added to your account: your axum-users account",
            "a passkey was added to your account: your axum-users account",
            "a passkey was removed from your account: your axum-users account",
        ]
    );
}

async fn sign_in_through_every_backend(store: impl TestStore) {
    let app = app(store).await;
    let token = app.token(ARTHUR).await;
    let (mut credential, laptop) = app.register(&token).await;

    let (ceremony, options) = app.login_begin().await;
    assert_eq!(keys(&options), ["ceremony_id", "publicKey"]);
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rpId"], "localhost");
    assert_eq!(public_key["userVerification"], "required");
    assert_eq!(public_key["allowCredentials"], json!([]));
    // JWT: the login answer, and a token that works.
    let assertion = authenticator::assert(&mut credential, &options, &Quirks::default());
    let reply = app.login_finish(&ceremony, &assertion, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = reply.json();
    assert_eq!(keys(&body), ["access_token", "token_type"]);
    let access = body["access_token"].as_str().unwrap();
    let me = app.call(Method::GET, "/users/me", Some(access), "").await;
    assert_eq!(
        (me.status, me.json()["email"].clone()),
        (StatusCode::OK, json!(ARTHUR))
    );
    // The ceremony is spent.
    let reply = app.login_finish(&ceremony, &assertion, None).await;
    refused(&reply, "PASSKEY_CEREMONY_INVALID");
    // The session says how it began; the passkey when it was last used.
    let sessions = app
        .call(Method::GET, "/auth/sessions", Some(access), "")
        .await
        .json();
    let mut methods: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["method"].as_str().unwrap())
        .collect();
    methods.sort_unstable();
    assert_eq!(methods, ["passkey", "password"]);
    let list = app
        .call(Method::GET, "/auth/passkeys", Some(access), "")
        .await
        .json();
    assert_eq!(list[0]["id"], laptop["id"]);
    assert!(list[0]["last_used_at"].is_string(), "{list}");

    // Cookie: refused from a page of another site (login CSRF) before the ceremony is spent,
    // then 204 and the cookie; database: a token the database knows.
    let (ceremony, options) = app.login_begin().await;
    let assertion = authenticator::assert(&mut credential, &options, &Quirks::default());
    let body = json!({"ceremony_id": ceremony, "credential": assertion, "backend": "cookie"});
    let cross = Request::builder()
        .method(Method::POST)
        .uri("/auth/passkeys/login/finish")
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let reply = common::send_to(&app.router, cross).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json(), json!({"detail": "CSRF_ORIGIN_NOT_ALLOWED"}));
    let reply = app
        .login_finish(&ceremony, &assertion, Some("cookie"))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert!(reply
        .header("set-cookie")
        .is_some_and(|c| c.starts_with("fastapiusersauth=")));
    let reply = app.sign_in(&mut credential, Some("db")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let me = app.call(Method::GET, "/users/me", Some(&access), "").await;
    assert_eq!(me.status, StatusCode::OK);
    let (ceremony, options) = app.login_begin().await;
    let assertion = authenticator::assert(&mut credential, &options, &Quirks::default());
    let reply = app.login_finish(&ceremony, &assertion, Some("ldap")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [{"type": "literal_error", "loc": ["body", "backend"],
            "msg": "Input should be 'jwt', 'cookie' or 'db'", "input": "ldap",
            "ctx": {"expected": "'jwt', 'cookie' or 'db'"}}]})
    );

    // A passkey stands for both factors: with TOTP on, the password login answers the
    // challenge, the passkey sign-in the token.
    let setup = app
        .call(Method::POST, "/auth/mfa/totp/setup", Some(&token), "")
        .await
        .json();
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let code = totp.generate(u64::try_from(common::now_unix()).unwrap());
    let reply = app
        .call(
            Method::POST,
            "/auth/mfa/totp/enable",
            Some(&token),
            &json!({ "code": code.to_string() }).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let password_login = app
        .call(
            Method::POST,
            "/auth/jwt/login",
            None,
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(password_login.status, StatusCode::UNAUTHORIZED);
    assert_eq!(password_login.json()["detail"], "LOGIN_MFA_REQUIRED");
    let reply = app.sign_in(&mut credential, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // Forged answers: another key, no user verification, another origin, another challenge,
    // a credential nobody registered, a counter that went back (a cloned authenticator).
    for quirks in [
        Quirks {
            wrong_key: true,
            ..Quirks::default()
        },
        Quirks {
            no_user_verification: true,
            ..Quirks::default()
        },
        Quirks {
            origin: Some("https://evil.example".into()),
            ..Quirks::default()
        },
        Quirks {
            wrong_challenge: true,
            ..Quirks::default()
        },
    ] {
        let (ceremony, options) = app.login_begin().await;
        let assertion = authenticator::assert(&mut credential, &options, &quirks);
        refused(
            &app.login_finish(&ceremony, &assertion, None).await,
            "PASSKEY_INVALID",
        );
    }
    let (ceremony, options) = app.login_begin().await;
    let mut stranger = credential.clone();
    stranger.id = vec![7; 32];
    let assertion = authenticator::assert(&mut stranger, &options, &Quirks::default());
    refused(
        &app.login_finish(&ceremony, &assertion, None).await,
        "PASSKEY_INVALID",
    );
    let mut clone = credential.clone();
    clone.counter = 1;
    let (ceremony, options) = app.login_begin().await;
    let assertion = authenticator::assert(&mut clone, &options, &Quirks::default());
    refused(
        &app.login_finish(&ceremony, &assertion, None).await,
        "PASSKEY_INVALID",
    );
    // Malformed: 422 with the fields named; unknown or over-long ceremonies: refused.
    let reply = app
        .call(Method::POST, "/auth/passkeys/login/finish", None, "{}")
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [
            {"type": "missing", "loc": ["body", "ceremony_id"], "msg": "Field required", "input": null},
            {"type": "missing", "loc": ["body", "credential"], "msg": "Field required", "input": null},
        ]})
    );
    let (ceremony, _) = app.login_begin().await;
    let reply = app
        .login_finish(&ceremony, &json!({"rawId": "not base64!"}), None)
        .await;
    refused(&reply, "PASSKEY_INVALID");
    for ceremony in ["unknown".to_owned(), "x".repeat(1000)] {
        let (_, options) = app.login_begin().await;
        let assertion = authenticator::assert(&mut credential, &options, &Quirks::default());
        refused(
            &app.login_finish(&ceremony, &assertion, None).await,
            "PASSKEY_CEREMONY_INVALID",
        );
    }

    // A deactivated user's passkey signs nobody in.
    let merlin = app.token(MERLIN).await;
    let me = app
        .call(Method::GET, "/users/me", Some(&token), "")
        .await
        .json();
    let user_path = format!("/users/{}", me["id"].as_str().unwrap());
    let reply = app
        .call(
            Method::PATCH,
            &user_path,
            Some(&merlin),
            r#"{"is_active": false}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.sign_in(&mut credential, None).await;
    refused(&reply, "LOGIN_BAD_CREDENTIALS");
    // Deleted: the passkey goes with the account.
    let reply = app
        .call(Method::DELETE, &user_path, Some(&merlin), "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = app.sign_in(&mut credential, None).await;
    refused(&reply, "PASSKEY_INVALID");
}

/// 20 rounds: 20 parallel finishes of one sign-in ceremony sign in once; 20 of one
/// registration ceremony register once.
async fn ceremonies_finish_once_under_parallel_requests(store: impl TestStore) {
    let app = Arc::new(app(store).await);
    let token = app.token(ARTHUR).await;
    let (mut credential, _) = app.register(&token).await;
    for round in 0..20 {
        let (ceremony, options) = app.login_begin().await;
        let assertion = authenticator::assert(&mut credential, &options, &Quirks::default());
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (app, ceremony, assertion) = (app.clone(), ceremony.clone(), assertion.clone());
                tokio::spawn(async move { app.login_finish(&ceremony, &assertion, None).await })
            })
            .collect();
        let mut signed_in = 0;
        for task in tasks {
            let reply = task.await.unwrap();
            match reply.status {
                StatusCode::OK => signed_in += 1,
                _ => refused(&reply, "PASSKEY_CEREMONY_INVALID"),
            }
        }
        assert_eq!(signed_in, 1, "round {round}");
    }
    for round in 0..20 {
        let (ceremony, options) = app.register_begin(&token).await;
        let (_, json) = authenticator::register(&options, &Quirks::default());
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (app, token, ceremony, json) =
                    (app.clone(), token.clone(), ceremony.clone(), json.clone());
                tokio::spawn(async move { app.register_finish(&token, &ceremony, &json).await })
            })
            .collect();
        let mut registered = 0;
        for task in tasks {
            let reply = task.await.unwrap();
            match reply.status {
                StatusCode::CREATED => registered += 1,
                _ => refused(&reply, "PASSKEY_CEREMONY_INVALID"),
            }
        }
        assert_eq!(registered, 1, "round {round}");
        // Deleted again, so the per-user bound is not what stops the next round.
        let list = app
            .call(Method::GET, "/auth/passkeys", Some(&token), "")
            .await
            .json();
        let newest = list.as_array().unwrap().last().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let reply = app
            .call(
                Method::DELETE,
                &format!("/auth/passkeys/{newest}"),
                Some(&token),
                "",
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
}

/// Every bound driven past: sign-ins waiting at once, registrations one user keeps pending,
/// passkeys per user; expired ceremonies are purged.
async fn ceremonies_and_passkeys_are_bounded(store: impl TestStore) {
    let mut settings = settings();
    settings.max_pending_logins = 5;
    settings.max_per_user = 2;
    let app = app_with(store.clone(), settings).await;
    let mut waiting = Vec::new();
    for _ in 0..5 {
        waiting.push(app.login_begin().await);
    }
    let reply = app
        .call(Method::POST, "/auth/passkeys/login/begin", None, "")
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.json(), json!({"detail": "TOO_MANY_REQUESTS"}));
    assert_eq!(reply.header("retry-after"), Some("300"));
    // A finished (even a failed) sign-in frees its place.
    let token = app.token(ARTHUR).await;
    let (mut credential, _) = app.register(&token).await;
    let (ceremony, options) = waiting.remove(0);
    let assertion = authenticator::assert(&mut credential, &options, &Quirks::default());
    assert_eq!(
        app.login_finish(&ceremony, &assertion, None).await.status,
        StatusCode::OK
    );
    app.login_begin().await;
    assert_eq!(
        app.call(Method::POST, "/auth/passkeys/login/begin", None, "")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Expired ones are deleted by the purge, and by the next begin.
    assert_eq!(
        store
            .delete_expired_ceremonies(common::now_unix() + 301)
            .await
            .unwrap(),
        5
    );
    app.login_begin().await;

    // A user keeps 5 registrations pending: a 6th begin drops the oldest.
    let mut pending = Vec::new();
    for _ in 0..6 {
        pending.push(app.register_begin(&token).await);
    }
    let (oldest, options) = &pending[0];
    let (_, json) = authenticator::register(options, &Quirks::default());
    refused(
        &app.register_finish(&token, oldest, &json).await,
        "PASSKEY_CEREMONY_INVALID",
    );
    let (newest, options) = &pending[5];
    let (_, json) = authenticator::register(options, &Quirks::default());
    assert_eq!(
        app.register_finish(&token, newest, &json).await.status,
        StatusCode::CREATED
    );
    // Two passkeys is this app's most: a third begin, and a finish begun before, refused.
    let (second, options) = &pending[4];
    let reply = app
        .call(
            Method::POST,
            "/auth/passkeys/register/begin",
            Some(&token),
            "",
        )
        .await;
    refused(&reply, "PASSKEY_LIMIT_REACHED");
    let (_, json) = authenticator::register(options, &Quirks::default());
    refused(
        &app.register_finish(&token, second, &json).await,
        "PASSKEY_LIMIT_REACHED",
    );
    assert_eq!(
        app.call(Method::GET, "/auth/passkeys", Some(&token), "")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// Integer user ids (FastAPI Users' `IntegerIDMixin`): the user handle is a UUID made of a tag
/// and the number, and a passkey signs its owner in.
async fn integer_ids_register_and_sign_in(store: impl TestStore) {
    let app = app(store).await;
    let token = app.token(ARTHUR).await;
    let (mut credential, _) = app.register(&token).await;
    assert_eq!(credential.user_handle.len(), 16);
    assert_eq!(&credential.user_handle[..8], b"axum-use");
    assert_eq!(credential.user_handle[8..], 1_u64.to_be_bytes());
    let reply = app.sign_in(&mut credential, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let me = app.call(Method::GET, "/users/me", Some(&access), "").await;
    assert_eq!(me.json()["id"], 1);
}

#[tokio::test]
async fn sqlite_integer_ids_register_and_sign_in() {
    let store = axum_users::SqliteStore::connect("sqlite::memory:", axum_users::UserSchema::new())
        .await
        .unwrap()
        .with_id_kind(axum_users::IdKind::Integer);
    store.migrate().await.unwrap();
    integer_ids_register_and_sign_in(store).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_integer_ids_register_and_sign_in() {
    let Some(db) = common::pg::Schema::create_with_ids(
        "passkey_int",
        axum_users::UserSchema::new(),
        axum_users::IdKind::Integer,
    )
    .await
    else {
        return;
    };
    integer_ids_register_and_sign_in(db.store.clone()).await;
    db.drop().await;
}

sql_suite!(
    registration_list_rename_and_delete,
    sign_in_through_every_backend,
    ceremonies_finish_once_under_parallel_requests,
    ceremonies_and_passkeys_are_bounded,
);
