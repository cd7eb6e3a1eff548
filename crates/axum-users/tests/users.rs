//! `/users/me` and the superuser routes (SPEC §3.8–3.12; checklist 18–26).

mod common;

use axum::body::Body;
use common::{app, app_with, sign, Options};
use http::{Method, Request, StatusCode};
use serde_json::json;

fn read(user: &axum_users::User) -> String {
    user.to_read().to_string()
}

#[tokio::test]
async fn me_returns_the_caller() {
    let app = app().await;
    let reply = app.get("/users/me", None).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let reply = app.get("/users/me", Some(&token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let user = app.user("king.arthur@camelot.bt").await;
    assert_eq!(
        reply.body,
        format!(
            r#"{{"id":"{}","email":"king.arthur@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}}"#,
            user.id
        )
    );
    // An inactive user's token is refused.
    let inactive = sign(
        json!({"sub": app.user("percival@camelot.bt").await.id.to_string(), "aud": "fastapi-users:auth"}),
    );
    assert_eq!(
        app.get("/users/me", Some(&inactive)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn patch_me_order_of_errors() {
    let app = app().await;
    // Malformed JSON is reported before authentication; a bad body after it.
    let reply = app.json(Method::PATCH, "/users/me", None, "{bad").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = app
        .json(Method::PATCH, "/users/me", None, r#"{"email":"nope"}"#)
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let reply = app
        .send(
            Request::patch("/users/me")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body,
        r#"{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}"#
    );
    let reply = app
        .json(Method::PATCH, "/users/me", Some(&token), "null")
        .await;
    assert_eq!(
        reply.body,
        r#"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":null}]}"#
    );
}

#[tokio::test]
async fn patch_me_is_safe() {
    let app = app().await;
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let before = app.user("king.arthur@camelot.bt").await;
    for body in [
        "{}",
        r#"{"is_superuser":true,"is_active":false,"is_verified":true,"id":"x"}"#,
        r#"{"password":null}"#,
    ] {
        let reply = app
            .json(Method::PATCH, "/users/me", Some(&token), body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{body}");
        assert_eq!(reply.body, read(&before));
    }
    assert_eq!(
        app.user("king.arthur@camelot.bt").await,
        before,
        "nothing changed, hash included"
    );
}

#[tokio::test]
async fn patch_me_changes_password_and_email() {
    let app = app().await;
    let token = app.login("lake.lady@camelot.bt", "excalibur").await;
    app.hooks.take();
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"password":"lancelot"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        app.hooks.take(),
        [r#"update:lake.lady@camelot.bt:{"password":"lancelot"}"#]
    );
    app.login("lake.lady@camelot.bt", "lancelot").await;
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"email":"Nimue@Avalon.bt"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(
        (body["email"].as_str(), body["is_verified"].as_bool()),
        (Some("Nimue@avalon.bt"), Some(false))
    );
}

#[tokio::test]
async fn patch_me_errors() {
    let app = app().await;
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    for email in [
        "lake.lady@camelot.bt",
        "LAKE.LADY@camelot.bt",
        "King.Arthur@camelot.bt",
    ] {
        let reply = app
            .json(
                Method::PATCH,
                "/users/me",
                Some(&token),
                &format!(r#"{{"email":"{email}"}}"#),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{email}");
        assert_eq!(
            reply.body,
            r#"{"detail":"UPDATE_USER_EMAIL_ALREADY_EXISTS"}"#
        );
    }
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"password":"m"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        r#"{"detail":{"code":"UPDATE_USER_INVALID_PASSWORD","reason":"Password should be at least 3 characters"}}"#
    );
    // A bad password wins over a taken e-mail (password is processed first), and nothing is written.
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"email":"lake.lady@camelot.bt","password":"m"}"#,
        )
        .await;
    assert_eq!(
        reply.body,
        r#"{"detail":{"code":"UPDATE_USER_INVALID_PASSWORD","reason":"Password should be at least 3 characters"}}"#
    );
    // FastAPI Users answers 500 for a null e-mail (its schema allows it); null leaves it as it is.
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"email":null}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["email"], "king.arthur@camelot.bt");
    app.login("king.arthur@camelot.bt", "guinevere").await;
}

#[tokio::test]
async fn superuser_routes_guard_order() {
    let app = app().await;
    let target = app.user("king.arthur@camelot.bt").await;
    let uri = format!("/users/{}", target.id);
    let regular = app.login("king.arthur@camelot.bt", "guinevere").await;
    let verified = app.login("lake.lady@camelot.bt", "excalibur").await;
    let superuser = app.login("merlin@camelot.bt", "viviane").await;
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let reply = app.json(method.clone(), &uri, None, "{}").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
        );
        for token in [&regular, &verified] {
            let reply = app
                .json(method.clone(), &uri, Some(token), r#"{"email":"bad"}"#)
                .await;
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (StatusCode::FORBIDDEN, r#"{"detail":"Forbidden"}"#)
            );
        }
        for missing in [
            "/users/3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "/users/not-a-uuid",
            "/users/me",
        ] {
            if method != Method::DELETE && missing == "/users/me" {
                continue;
            }
            let reply = app
                .json(
                    method.clone(),
                    missing,
                    Some(&superuser),
                    r#"{"email":"bad"}"#,
                )
                .await;
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#),
                "{method} {missing}"
            );
        }
    }
    // DELETE /users/me reaches DELETE /users/{id}, as in FastAPI Users.
    let reply = app
        .json(Method::DELETE, "/users/me", Some(&regular), "")
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn superuser_gets_patches_and_deletes() {
    let app = app().await;
    let superuser = app.login("merlin@camelot.bt", "viviane").await;
    let target = app.user("king.arthur@camelot.bt").await;
    let uri = format!("/users/{}", target.id);
    let reply = app.get(&uri, Some(&superuser)).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (StatusCode::OK, read(&target))
    );
    let hyphenless = format!(
        "/users/{}",
        target.id.to_string().replace('-', "").to_uppercase()
    );
    assert_eq!(
        app.get(&hyphenless, Some(&superuser)).await.body,
        read(&target)
    );

    let reply = app
        .json(
            Method::PATCH,
            &uri,
            Some(&superuser),
            r#"{"is_superuser":true,"is_verified":true}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["is_superuser"], true);
    // An e-mail change keeps an explicit is_verified of the same request.
    let reply = app
        .json(
            Method::PATCH,
            &uri,
            Some(&superuser),
            r#"{"email":"arthur@camelot.bt","is_verified":true}"#,
        )
        .await;
    assert_eq!(
        (
            reply.json()["email"].as_str(),
            reply.json()["is_verified"].as_bool()
        ),
        (Some("arthur@camelot.bt"), Some(true))
    );
    let reply = app
        .json(
            Method::PATCH,
            &uri,
            Some(&superuser),
            r#"{"is_active":null}"#,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "null leaves the flag as it is"
    );
    assert_eq!(reply.json()["is_active"], true);
    let reply = app
        .json(
            Method::PATCH,
            &uri,
            Some(&superuser),
            r#"{"password":"excalibur2","is_active":false}"#,
        )
        .await;
    assert_eq!(reply.json()["is_active"], false);
    let reply = app
        .form(
            "/auth/jwt/login",
            "username=arthur%40camelot.bt&password=excalibur2",
        )
        .await;
    assert_eq!(
        reply.body, r#"{"detail":"LOGIN_BAD_CREDENTIALS"}"#,
        "inactive now"
    );

    app.hooks.take();
    let reply = app.json(Method::DELETE, &uri, Some(&superuser), "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NO_CONTENT, "")
    );
    assert_eq!(reply.header("content-type"), None);
    assert_eq!(
        app.hooks.take(),
        [
            "before_delete:arthur@camelot.bt",
            "after_delete:arthur@camelot.bt"
        ]
    );
    assert_eq!(
        app.json(Method::DELETE, &uri, Some(&superuser), "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn delete_removes_linked_rows() {
    let app = app().await;
    let target = app.user("king.arthur@camelot.bt").await;
    let id = target.id.to_string();
    let pool = app.store.pool();
    sqlx::query("INSERT INTO accesstoken (user_id, token, created_at) VALUES (?, 'tok', '2026-11-28 08:48:43.938714')")
        .bind(&id).execute(pool).await.unwrap();
    sqlx::query("INSERT INTO oauth_account (id, user_id, oauth_name, access_token, account_id, account_email) VALUES ('a', ?, 'google', 't', '1', 'k@c.bt')")
        .bind(&id).execute(pool).await.unwrap();
    let superuser = app.login("merlin@camelot.bt", "viviane").await;
    let reply = app
        .json(
            Method::DELETE,
            &format!("/users/{id}"),
            Some(&superuser),
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    for table in ["accesstoken", "oauth_account"] {
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(count, 0, "{table}");
    }
}

#[tokio::test]
async fn requires_verification_guards_superuser_routes() {
    let app = app_with(Options {
        requires_verification: true,
        ..Options::default()
    })
    .await;
    let unverified = sign(
        json!({"sub": app.user("merlin@camelot.bt").await.id.to_string(), "aud": "fastapi-users:auth"}),
    );
    let target = app.user("king.arthur@camelot.bt").await;
    let reply = app
        .get(&format!("/users/{}", target.id), Some(&unverified))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let verified = app.login("the.real.merlin@camelot.bt", "viviane").await;
    assert_eq!(
        app.get(&format!("/users/{}", target.id), Some(&verified))
            .await
            .status,
        StatusCode::OK
    );
}

/// Opt-in: the password or e-mail of `PATCH /users/me` change only with the current password.
#[tokio::test]
async fn current_password_can_be_required() {
    let app = common::app_with(common::Options {
        require_current_password: true,
        ..common::Options::default()
    })
    .await;
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let refused = r#"{"detail":"UPDATE_USER_BAD_CURRENT_PASSWORD"}"#;
    for body in [
        r#"{"password":"lancelot"}"#,
        r#"{"password":"lancelot","current_password":"wrong"}"#,
        r#"{"password":"lancelot","current_password":null}"#,
        r#"{"email":"arthur@avalon.bt"}"#,
        r#"{"email":"arthur@avalon.bt","current_password":"lancelot"}"#,
    ] {
        let reply = app
            .json(Method::PATCH, "/users/me", Some(&token), body)
            .await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::BAD_REQUEST, refused),
            "{body}"
        );
    }
    // Nothing sensitive (the same e-mail, privileged flags that are ignored): no password asked.
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"email":"king.arthur@camelot.bt","is_superuser":true}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // Validation still comes first.
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"password":1}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            r#"{"password":"lancelot","email":"arthur@avalon.bt","current_password":"guinevere"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["email"], "arthur@avalon.bt");
    app.login("arthur@avalon.bt", "lancelot").await;
}

/// Found by Schemathesis: a 405 on /users/me listed DELETE, which the document does not (the
/// DELETE there is FastAPI's DELETE /users/{id} with id "me").
#[tokio::test]
async fn a_wrong_method_on_me_lists_the_documented_methods() {
    let app = app().await;
    for method in [Method::OPTIONS, Method::PUT, Method::POST] {
        let reply = app.json(method.clone(), "/users/me", None, "").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (
                StatusCode::METHOD_NOT_ALLOWED,
                r#"{"detail":"Method Not Allowed"}"#
            ),
            "{method}"
        );
        assert_eq!(reply.header("allow"), Some("GET,HEAD,PATCH"), "{method}");
    }
    // The documented methods still answer as before.
    let token = app.login("merlin@camelot.bt", "viviane").await;
    assert_eq!(
        app.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    let reply = app
        .json(Method::DELETE, "/users/me", Some(&token), "")
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#)
    );
}
