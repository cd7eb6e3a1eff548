//! `POST /auth/{backend}/login|logout` and the current-user algorithm (SPEC §3.1, §3.2, §5;
//! checklist 6–17).

mod common;

use axum::body::Body;
use common::{app, app_with, payload, sign, Options};
use http::{Method, Request, StatusCode};
use serde_json::json;

#[tokio::test]
async fn bearer_login_returns_a_fastapi_users_jwt() {
    let app = app().await;
    let reply = app
        .form(
            "/auth/jwt/login",
            "username=King.Arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        common::without_refresh(&reply.body),
        format!(r#"{{"access_token":"{token}","token_type":"bearer"}}"#)
    );
    // In refresh mode the one difference is an extra key.
    assert_eq!(
        reply.json().get("refresh_token").is_some(),
        common::refresh_mode()
    );
    assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
    let user = app.user("king.arthur@camelot.bt").await;
    let claims = payload(&token);
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(
        claims,
        json!({"sub": user.id.to_string(), "aud": ["fastapi-users:auth"], "exp": exp})
    );
    let now = common::now_unix();
    assert!((now + 3599..=now + 3601).contains(&exp));
    assert_eq!(app.hooks.take(), ["login:king.arthur@camelot.bt:200"]);
}

#[tokio::test]
async fn login_accepts_multipart_and_grant_type_password() {
    let app = app().await;
    let boundary = "X-BOUNDARY";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nking.arthur@camelot.bt\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nguinevere\r\n--{boundary}--\r\n"
    );
    let request = Request::post("/auth/jwt/login")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = app.form("/auth/jwt/login", "grant_type=password&username=king.arthur%40camelot.bt&password=guinevere&scope=&client_id=x").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn login_validation_errors() {
    let app = app().await;
    let missing_both = r#"{"detail":[{"type":"missing","loc":["body","username"],"msg":"Field required","input":null},{"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]}"#;
    for body in ["", "username=&password="] {
        let reply = app.form("/auth/jwt/login", body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.body, missing_both);
    }
    let reply = app.form("/auth/jwt/login", "username=a%40b.co").await;
    assert_eq!(
        reply.body,
        r#"{"detail":[{"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]}"#
    );
    let reply = app
        .json(
            Method::POST,
            "/auth/jwt/login",
            None,
            r#"{"username":"king.arthur@camelot.bt","password":"guinevere"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body, missing_both);
    let reply = app
        .form(
            "/auth/jwt/login",
            "grant_type=client_credentials&username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body,
        r#"{"detail":[{"type":"string_pattern_mismatch","loc":["body","grant_type"],"msg":"String should match pattern '^password$'","input":"client_credentials","ctx":{"pattern":"^password$"}}]}"#
    );
}

#[tokio::test]
async fn bad_credentials_and_inactive_users_are_refused_alike() {
    let app = app().await;
    for body in [
        "username=lancelot%40camelot.bt&password=guinevere",
        "username=king.arthur%40camelot.bt&password=wrong",
        "username=percival%40camelot.bt&password=angharad",
        "username=not-an-email&password=x",
    ] {
        let reply = app.form("/auth/jwt/login", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.body, r#"{"detail":"LOGIN_BAD_CREDENTIALS"}"#);
    }
    assert!(app.hooks.take().is_empty(), "no on_after_login on failure");
}

#[tokio::test]
async fn requires_verification_refuses_unverified_users() {
    let app = app_with(Options {
        requires_verification: true,
        ..Options::default()
    })
    .await;
    let reply = app
        .form(
            "/auth/jwt/login",
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body, r#"{"detail":"LOGIN_USER_NOT_VERIFIED"}"#);
    let token = app.login("lake.lady@camelot.bt", "excalibur").await;
    assert_eq!(
        app.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    // An unverified user holding a token gets 403 on the guarded routes, logout included.
    let user = app.user("king.arthur@camelot.bt").await;
    let token = sign(json!({"sub": user.id.to_string(), "aud": ["fastapi-users:auth"]}));
    let reply = app.get("/users/me", Some(&token)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::FORBIDDEN, r#"{"detail":"Forbidden"}"#)
    );
    let reply = app
        .json(Method::POST, "/auth/jwt/logout", Some(&token), "")
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cookie_login_and_logout() {
    let app = app().await;
    let reply = app
        .form(
            "/auth/cookie/login",
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, "");
    assert_eq!(reply.header("content-type"), None);
    let set_cookie = reply.header("set-cookie").unwrap().to_owned();
    let token = set_cookie
        .strip_prefix("fastapiusersauth=")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert_eq!(
        set_cookie,
        format!("fastapiusersauth={token}; HttpOnly; Max-Age=3600; Path=/; SameSite=lax; Secure")
    );
    assert_eq!(app.hooks.take(), ["login:king.arthur@camelot.bt:204"]);

    let with_cookie = |uri: &str, method: Method| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .header("cookie", format!("fastapiusersauth={token}"))
            .body(Body::empty())
            .unwrap()
    };
    let reply = app.send(with_cookie("/users/me", Method::GET)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["email"], "king.arthur@camelot.bt");
    let reply = app
        .send(with_cookie("/auth/cookie/logout", Method::POST))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, "");
    assert_eq!(
        reply.header("set-cookie"),
        Some(r#"fastapiusersauth=""; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure"#)
    );
    // A JWT cannot be revoked: it still works after logout, as in FastAPI Users.
    assert_eq!(
        app.send(with_cookie("/users/me", Method::GET)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bearer_logout() {
    let app = app().await;
    let reply = app.json(Method::POST, "/auth/jwt/logout", None, "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );
    assert_eq!(reply.header("www-authenticate"), None);
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let reply = app
        .json(Method::POST, "/auth/jwt/logout", Some(&token), "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, "");
    assert_eq!(reply.header("set-cookie"), None);
}

#[tokio::test]
async fn token_rules() {
    let app = app().await;
    let id = app.user("king.arthur@camelot.bt").await.id.to_string();
    let now = common::now_unix();
    let refused = [
        "foo".to_owned(),
        String::new(),
        sign(json!({"sub": id, "aud": ["fastapi-users:auth"], "exp": now - 1})),
        sign(json!({"sub": id})),
        sign(json!({"user_id": id, "aud": "fastapi-users:auth"})),
        sign(json!({"aud": ["fastapi-users:auth"]})),
        sign(json!({"sub": id, "aud": "fastapi-users:reset"})),
        sign(json!({"sub": "not-a-uuid", "aud": "fastapi-users:auth"})),
        sign(json!({"sub": uuid::Uuid::new_v4().to_string(), "aud": "fastapi-users:auth"})),
        axum_users::JwtKeys::hs256(b"OTHER")
            .encode(
                json!({"sub": id, "aud": "fastapi-users:auth"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap(),
    ];
    for token in refused {
        let reply = app.get("/users/me", Some(&token)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(reply.body, r#"{"detail":"Unauthorized"}"#);
        assert_eq!(reply.header("www-authenticate"), None);
    }
    // A plain-string audience and no expiry are accepted, as PyJWT does.
    let token = sign(json!({"sub": id, "aud": "fastapi-users:auth"}));
    assert_eq!(
        app.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    let upper =
        sign(json!({"sub": id.to_uppercase().replace('-', ""), "aud": "fastapi-users:auth"}));
    assert_eq!(
        app.get("/users/me", Some(&upper)).await.status,
        StatusCode::OK
    );
    // The scheme is case-insensitive.
    let request = Request::get("/users/me")
        .header("authorization", format!("bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn first_backend_with_a_user_wins() {
    let app = app().await;
    let active = app.login("king.arthur@camelot.bt", "guinevere").await;
    let inactive_id = app.user("percival@camelot.bt").await.id.to_string();
    let inactive = sign(json!({"sub": inactive_id, "aud": ["fastapi-users:auth"]}));
    let request = |bearer: &str, cookie: &str| {
        Request::get("/users/me")
            .header("authorization", format!("Bearer {bearer}"))
            .header("cookie", format!("fastapiusersauth={cookie}"))
            .body(Body::empty())
            .unwrap()
    };
    // Garbage bearer, valid cookie: the cookie backend authenticates.
    let reply = app.send(request("garbage", &active)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["email"], "king.arthur@camelot.bt");
    // An inactive user found first ends the search: 401 even with a valid cookie.
    let reply = app.send(request(&inactive, &active)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rs256_and_es256_key_pairs() {
    use axum_users::JwtKeys;
    use axum_users::{Backend, BearerTransport, JwtStrategy};
    use jsonwebtoken::Algorithm;
    for (alg, private, public) in [
        (
            Algorithm::RS256,
            include_str!("keys/rsa-private.pem"),
            include_str!("keys/rsa-public.pem"),
        ),
        (
            Algorithm::ES256,
            include_str!("keys/ec-private.pem"),
            include_str!("keys/ec-public.pem"),
        ),
    ] {
        let keys = JwtKeys::from_pem(alg, private.as_bytes(), public.as_bytes()).unwrap();
        let backend = Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::with_keys(keys, Some(3600)),
        );
        let app = app_with(Options {
            backends: vec![backend],
            ..Options::default()
        })
        .await;
        let token = app.login("king.arthur@camelot.bt", "guinevere").await;
        let header: serde_json::Value = {
            use base64::Engine as _;
            let part = token.split('.').next().unwrap();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(part)
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(header["alg"], format!("{alg:?}"));
        assert_eq!(
            app.get("/users/me", Some(&token)).await.status,
            StatusCode::OK
        );
        // An HS256 token signed with the public key (algorithm confusion) is refused.
        let forged = JwtKeys::hs256(public.as_bytes())
            .encode(json!({"sub": app.user("king.arthur@camelot.bt").await.id.to_string(), "aud": "fastapi-users:auth"}).as_object().unwrap())
            .unwrap();
        assert_eq!(
            app.get("/users/me", Some(&forged)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn legacy_bcrypt_hash_logs_in_and_is_upgraded() {
    let app = app().await;
    app.set_hash("king.arthur@camelot.bt", common::BCRYPT_GUINEVERE)
        .await;
    app.login("king.arthur@camelot.bt", "guinevere").await;
    let upgraded = app.user("king.arthur@camelot.bt").await.hashed_password;
    assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
    app.login("king.arthur@camelot.bt", "guinevere").await;
}

#[tokio::test]
async fn unknown_stored_hash_is_a_clean_bad_credentials() {
    let app = app().await;
    app.set_hash("king.arthur@camelot.bt", "$pbkdf2-sha256$29000$abc$def")
        .await;
    let reply = app
        .form(
            "/auth/jwt/login",
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body, r#"{"detail":"LOGIN_BAD_CREDENTIALS"}"#);
}

/// A key rotation: the strategy signs with the new secret and still accepts the previous one;
/// a token of any other secret stays refused.
#[tokio::test]
async fn rotated_secrets_keep_sessions_alive() {
    use axum_users::JwtKeys;
    use axum_users::{Backend, BearerTransport, JwtStrategy};
    let app = app_with(Options {
        backends: vec![Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new("the new secret, thirty-two bytes!", Some(3600))
                .also_accept(JwtKeys::hs256(common::SECRET.as_bytes())),
        )],
        ..Options::default()
    })
    .await;
    let id = app.user("king.arthur@camelot.bt").await.id.to_string();
    let claims = json!({"sub": id, "aud": ["fastapi-users:auth"]});
    // Signed with the previous secret (common::SECRET).
    let old = sign(claims.clone());
    assert_eq!(
        app.get("/users/me", Some(&old)).await.status,
        StatusCode::OK
    );
    // New tokens are signed with the new secret.
    let new = app.login("king.arthur@camelot.bt", "guinevere").await;
    let with_new = JwtKeys::hs256(b"the new secret, thirty-two bytes!");
    assert!(with_new.decode(&new, &["fastapi-users:auth"]).is_ok());
    assert_eq!(
        app.get("/users/me", Some(&new)).await.status,
        StatusCode::OK
    );
    let stranger = JwtKeys::hs256(b"some other secret entirely......")
        .encode(claims.as_object().unwrap())
        .unwrap();
    let reply = app.get("/users/me", Some(&stranger)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );
}

#[tokio::test]
async fn logout_everywhere_ends_cookie_and_fastapi_users_sessions() {
    let app = app().await;
    let user = app.user("king.arthur@camelot.bt").await;
    let exp = common::now_unix() + 3600;
    // A token as FastAPI Users mints it: no `ver`, so it stands for version 0.
    let fastapi_token =
        sign(json!({"sub": user.id.to_string(), "aud": ["fastapi-users:auth"], "exp": exp}));
    let bearer = app.login("king.arthur@camelot.bt", "guinevere").await;
    let cookie = app
        .form(
            "/auth/cookie/login",
            "username=king.arthur@camelot.bt&password=guinevere",
        )
        .await
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let with_cookie = |uri: &str, method: Method, origin: Option<&str>| {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", cookie.clone());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(Body::empty()).unwrap()
    };
    assert_eq!(
        app.get("/users/me", Some(&fastapi_token)).await.status,
        StatusCode::OK
    );

    // A cross-site page cannot end the sessions through the cookie (CSRF).
    let reply = app
        .send(with_cookie(
            "/auth/logout-everywhere",
            Method::POST,
            Some("https://evil.example"),
        ))
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::FORBIDDEN,
            r#"{"detail":"CSRF_ORIGIN_NOT_ALLOWED"}"#
        )
    );
    assert_eq!(
        app.get("/users/me", Some(&bearer)).await.status,
        StatusCode::OK
    );

    // The user's own cookie session ends them all, and the answer clears the cookie.
    let reply = app
        .send(with_cookie("/auth/logout-everywhere", Method::POST, None))
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NO_CONTENT, "")
    );
    assert_eq!(
        reply.header("set-cookie"),
        Some(r#"fastapiusersauth=""; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure"#)
    );
    let unauthorized = (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#);
    for token in [&bearer, &fastapi_token] {
        let reply = app.get("/users/me", Some(token)).await;
        assert_eq!((reply.status, reply.body.as_str()), unauthorized);
    }
    let reply = app.send(with_cookie("/users/me", Method::GET, None)).await;
    assert_eq!((reply.status, reply.body.as_str()), unauthorized);
    assert_eq!(app.user("king.arthur@camelot.bt").await.token_version, 1);

    // Hand-made versions: only the current one passes; a `ver` that is not an integer is no
    // token.
    for (ver, status) in [
        (json!(1), StatusCode::OK),
        (json!(0), StatusCode::UNAUTHORIZED),
        (json!(2), StatusCode::UNAUTHORIZED),
        (json!("1"), StatusCode::UNAUTHORIZED),
        (json!(1.5), StatusCode::UNAUTHORIZED),
        (json!(null), StatusCode::UNAUTHORIZED),
    ] {
        let token = sign(
            json!({"sub": user.id.to_string(), "aud": ["fastapi-users:auth"], "exp": exp, "ver": ver}),
        );
        assert_eq!(
            app.get("/users/me", Some(&token)).await.status,
            status,
            "ver {ver}"
        );
    }
    // Other users are untouched.
    let merlin = app.login("merlin@camelot.bt", "viviane").await;
    assert_eq!(
        app.get("/users/me", Some(&merlin)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.user("merlin@camelot.bt").await.token_version, 0);
}

#[tokio::test]
async fn by_default_a_password_change_keeps_jwt_sessions_as_fastapi_users_does() {
    let app = app().await;
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"password":"morgana"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        app.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.user("king.arthur@camelot.bt").await.token_version, 0);
}

/// `exp`, `nbf` and `iat` are read as PyJWT reads them: leeway 0, against the time to the
/// microsecond.
#[tokio::test]
async fn time_claims_as_pyjwt_reads_them() {
    let app = app().await;
    let user = app.user("king.arthur@camelot.bt").await;
    let now = common::now_unix();
    let token = |extra: serde_json::Value| {
        let mut claims = json!({"sub": user.id.to_string(), "aud": ["fastapi-users:auth"]});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        common::sign(claims)
    };
    // PyJWT refuses `exp` equal to the current second, `nbf` or `iat` in the future.
    for refused in [
        json!({"exp": now}),
        json!({"nbf": now + 60}),
        json!({"iat": now + 60}),
        json!({"nbf": "soon"}),
        // Present but null is not absent; a version or a subject of the wrong kind is no token.
        json!({"exp": null}),
        json!({"iat": null}),
        json!({"ver": null}),
        json!({"ver": 1.5}),
        json!({"sub": 7, "ver": 0}),
    ] {
        let reply = app.get("/users/me", Some(&token(refused.clone()))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{refused}");
        assert_eq!(reply.body, r#"{"detail":"Unauthorized"}"#);
    }
    for accepted in [
        json!({"exp": now + 2}),
        json!({"nbf": now}),
        json!({"iat": now - 5, "nbf": now - 5}),
    ] {
        let reply = app.get("/users/me", Some(&token(accepted.clone()))).await;
        assert_eq!(reply.status, StatusCode::OK, "{accepted}");
    }
}

/// The JWT attacks of the issue, through real requests: each forged token is just no token.
#[tokio::test]
async fn forged_jwts_are_refused() {
    use base64::Engine as _;
    let b64 = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let app = app().await;
    let user = app.user("king.arthur@camelot.bt").await;
    let claims = json!({"sub": user.id.to_string(), "aud": ["fastapi-users:auth"], "exp": common::now_unix() + 3600});
    let signed = |header: serde_json::Value, secret: &str| {
        let message = format!("{}.{}", b64(header), b64(claims.clone()));
        let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap();
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
                .unwrap();
        format!("{message}.{signature}")
    };
    // The control: the right key and a plain header pass.
    let good = signed(json!({"alg": "HS256", "typ": "JWT"}), common::SECRET);
    assert_eq!(
        app.get("/users/me", Some(&good)).await.status,
        StatusCode::OK
    );
    let forged = [
        // No signature at all.
        format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(claims.clone())
        ),
        // Another algorithm than the configured one, with the right secret.
        {
            let message = format!(
                "{}.{}",
                b64(json!({"alg": "HS512", "typ": "JWT"})),
                b64(claims.clone())
            );
            let key = jsonwebtoken::EncodingKey::from_secret(common::SECRET.as_bytes()).unwrap();
            let signature = jsonwebtoken::crypto::sign(
                message.as_bytes(),
                &key,
                jsonwebtoken::Algorithm::HS512,
            )
            .unwrap();
            format!("{message}.{signature}")
        },
        // A `kid` naming the attacker's key set, signed with the attacker's key.
        signed(
            json!({"alg": "HS256", "typ": "JWT", "kid": "https://evil.example/jwks.json"}),
            "the attacker's own secret",
        ),
        // A critical extension nobody here understands, even with the right key.
        signed(
            json!({"alg": "HS256", "typ": "JWT", "crit": ["exp-override"], "exp-override": true}),
            common::SECRET,
        ),
        // `crit` present at all, even null, as PyJWT reads it.
        signed(
            json!({"alg": "HS256", "typ": "JWT", "crit": null}),
            common::SECRET,
        ),
    ];
    for token in forged {
        let reply = app.get("/users/me", Some(&token)).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#),
            "{token}"
        );
    }
}

/// `Option<CurrentUser>` (and the other guards): `None` where the guard would answer 401/403.
#[tokio::test]
async fn optional_guards_are_none_instead_of_failing() {
    use axum::routing::get;
    use axum_users::{CurrentUser, Superuser};
    let app = app().await;
    let router = axum::Router::new()
        .route(
            "/whoami",
            get(|user: Option<CurrentUser>| async move {
                user.map_or("nobody".to_owned(), |CurrentUser(u)| u.email)
            }),
        )
        .route(
            "/drafts",
            get(|admin: Option<Superuser>| async move {
                admin.map_or("no drafts".to_owned(), |Superuser(u)| {
                    format!("drafts for {}", u.email)
                })
            }),
        )
        .with_state(app.users.clone());
    let get = |uri: &str, token: Option<&str>| {
        let mut request = http::Request::get(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        common::send_to(&router, request.body(axum::body::Body::empty()).unwrap())
    };
    let arthur = app.login("king.arthur@camelot.bt", "guinevere").await;
    let merlin = app.login("merlin@camelot.bt", "viviane").await;
    assert_eq!(get("/whoami", None).await.body, "nobody");
    assert_eq!(get("/whoami", Some("garbage")).await.body, "nobody");
    assert_eq!(
        get("/whoami", Some(&arthur)).await.body,
        "king.arthur@camelot.bt"
    );
    assert_eq!(get("/drafts", Some(&arthur)).await.body, "no drafts");
    assert_eq!(
        get("/drafts", Some(&merlin)).await.body,
        "drafts for merlin@camelot.bt"
    );
}
