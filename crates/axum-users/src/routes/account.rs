//! The verify router (`POST /request-verify-token`, `POST /verify`) and the reset-password
//! router (`POST /forgot-password`, `POST /reset-password`).
//!
//! The two routes that take an e-mail answer `202 null` as soon as the body is valid: the
//! lookup, the token, the hook and the e-mail run afterwards, so that the answer takes the same
//! time whether or not the address belongs to someone.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use axum::Router;
use http::request::Parts;
use http::StatusCode;
use serde_json::Value;

use super::table::Endpoint;
use crate::error::ErrorCode;
use crate::input::validate_email_value;
use crate::json::json_response;
use crate::manager::ManagerError;
use crate::ratelimit::Scope;
use crate::tokens::TokenKind;
use crate::validation::{ValidationErrors, ValidationItem};
use crate::{ApiError, AxumUsers, User};

impl AxumUsers {
    /// `POST /request-verify-token` and `POST /verify` (mount under `/auth`).
    pub fn verify_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.mount("/auth", self.verify_endpoints())
    }

    pub(crate) fn verify_endpoints(&self) -> Vec<Endpoint> {
        vec![
            Endpoint::at("/auth/request-verify-token")
                .post(request_verify_token, |doc| doc.request_verify_token())
                .limited(),
            Endpoint::at("/auth/verify")
                .post(verify, |doc| doc.verify())
                .get(verify_link, |doc| doc.verify_link())
                .limited(),
        ]
    }

    /// `POST /forgot-password` and `POST /reset-password` (mount under `/auth`).
    pub fn reset_password_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.mount("/auth", self.reset_password_endpoints())
    }

    pub(crate) fn reset_password_endpoints(&self) -> Vec<Endpoint> {
        vec![
            Endpoint::at("/auth/forgot-password")
                .post(forgot_password, |doc| doc.forgot_password())
                .limited(),
            Endpoint::at("/auth/reset-password")
                .post(reset_password, |doc| doc.reset_password())
                .limited(),
        ]
    }

    /// Issues a verification token for `user` (hook `on_after_request_verify`) and mails it.
    /// Inactive and verified users get nothing. Failures are logged, never returned.
    pub(crate) async fn send_verification(&self, user: &User, request: Option<&Parts>) {
        match self.manager().request_verify(user, request).await {
            Ok(token) => {
                let lifetime = self.manager().verify_tokens.lifetime;
                self.mail()
                    .deliver(TokenKind::Verify, user, &token, lifetime)
                    .await;
            }
            Err(ManagerError::UserInactive | ManagerError::UserAlreadyVerified) => {}
            Err(error) => {
                tracing::error!(%error, user_id = %user.id, "request-verify-token failed")
            }
        }
    }

    pub(crate) async fn send_reset(&self, user: &User, request: Option<&Parts>) {
        match self.manager().forgot_password(user, request).await {
            Ok(token) => {
                let lifetime = self.manager().reset_tokens.lifetime;
                self.mail()
                    .deliver(TokenKind::Reset, user, &token, lifetime)
                    .await;
            }
            Err(ManagerError::UserInactive) => {}
            Err(error) => tracing::error!(%error, user_id = %user.id, "forgot-password failed"),
        }
    }

    /// Records a verification, and the switch of address when it confirmed an e-mail change.
    async fn verified(&self, user: &User, before: Option<String>, parts: &Parts) {
        let detail = serde_json::json!({ "email": user.email });
        self.record_user("email.verified", user, parts, detail)
            .await;
        if let Some(before) = before {
            let detail = serde_json::json!({"from": before, "to": user.email});
            self.record_user("email.changed", user, parts, detail).await;
        }
    }

    /// The user behind an e-mail address, in a background job: errors are logged.
    async fn lookup(&self, email: &str) -> Option<User> {
        self.manager()
            .get_by_email(email)
            .await
            .inspect_err(|error| tracing::error!(%error, "user lookup failed"))
            .ok()
            .flatten()
    }
}

/// Fields sent as FastAPI's embedded body parameters, every one required
/// ([`super::body::string_fields`]).
pub(super) async fn embedded_strings(
    users: &AxumUsers,
    parts: &Parts,
    body: Body,
    names: &[&str],
) -> Result<Vec<Value>, ApiError> {
    let values = super::body::string_fields(users, parts, body, names, names).await?;
    Ok(values
        .into_iter()
        .map(|value| value.map(Value::from).unwrap_or_default())
        .collect())
}

async fn email_body(users: &AxumUsers, parts: &Parts, body: Body) -> Result<String, ApiError> {
    let values = embedded_strings(users, parts, body, &["email"]).await?;
    let value = values.first().cloned().unwrap_or_default();
    validate_email_value("email", &value).map_err(|item| ValidationErrors::from(item).into())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// `request-verify-token` and `forgot-password`: `202 null` once the body is valid; the rest
/// happens after the answer.
async fn email_job(
    users: AxumUsers,
    request: Request,
    kind: TokenKind,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    users.limits().check(Scope::Mail, &parts).await?;
    let email = email_body(&users, &parts, body).await?;
    let job = users.clone();
    users.spawn_background(async move {
        if let Some(user) = job.lookup(&email).await {
            let kind_name = match kind {
                TokenKind::Verify => "email.verification_requested",
                TokenKind::Reset => "password.reset_requested",
            };
            job.record_user(kind_name, &user, &parts, serde_json::json!({}))
                .await;
            match kind {
                TokenKind::Verify => job.send_verification(&user, Some(&parts)).await,
                TokenKind::Reset => job.send_reset(&user, Some(&parts)).await,
            }
        }
    });
    Ok(json_response(StatusCode::ACCEPTED, &Value::Null))
}

async fn request_verify_token(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    email_job(users, request, TokenKind::Verify).await
}

/// `GET /auth/verify?token=...`: the verification as a link an e-mail can carry (FastAPI
/// Users' issue #1402), for applications without a page of their own to post the token from.
/// The answer is for a browser: `303` to [`verified_redirect`](crate::AxumUsersBuilder::verified_redirect)
/// with `status` in its query, or a small HTML page (`200` verified, `400` otherwise).
async fn verify_link(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    users.limits().check(Scope::Token, &parts).await?;
    let query = parts.uri.query().unwrap_or("");
    let token = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned());
    let Some(token) = token else {
        let item = ValidationItem {
            kind: "missing",
            loc: vec![Value::from("query"), Value::from("token")],
            msg: "Field required".into(),
            input: Value::Null,
            ctx: None,
        };
        return Err(ValidationErrors(vec![item]).into());
    };
    let status = match users.manager().verify_or_switch(&token, Some(&parts)).await {
        Ok((user, before)) => {
            users.verified(&user, before, &parts).await;
            "verified"
        }
        Err(ManagerError::InvalidToken) => ErrorCode::VerifyUserBadToken.as_str(),
        Err(ManagerError::UserAlreadyVerified) => ErrorCode::VerifyUserAlreadyVerified.as_str(),
        Err(other) => return Err(other.into()),
    };
    if let Some(url) = users.verified_redirect() {
        let separator = if url.contains('?') { '&' } else { '?' };
        return Ok(
            axum::response::Redirect::to(&format!("{url}{separator}status={status}"))
                .into_response(),
        );
    }
    let (code, message) = match status {
        "verified" => (StatusCode::OK, "Your e-mail address is verified. You may close this page."),
        "VERIFY_USER_ALREADY_VERIFIED" => (StatusCode::BAD_REQUEST, "This e-mail address was verified already."),
        _ => (StatusCode::BAD_REQUEST, "This link is not valid: it has expired, or it was not made for this address. Ask for a new one."),
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{app}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head><body><main><h1>{app}</h1>\
         <p>{message}</p></main></body></html>",
        app = html_escape(&users.mail().app_name),
    );
    Ok((
        code,
        [(http::header::CACHE_CONTROL, "no-store")],
        axum::response::Html(page),
    )
        .into_response())
}

/// Text safe inside HTML.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn verify(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    users.limits().check(Scope::Token, &parts).await?;
    let values = embedded_strings(&users, &parts, body, &["token"]).await?;
    match users
        .manager()
        .verify_or_switch(text(&values[0]), Some(&parts))
        .await
    {
        Ok((user, before)) => {
            users.verified(&user, before, &parts).await;
            Ok(json_response(StatusCode::OK, &user.to_read()))
        }
        Err(ManagerError::InvalidToken) => Err(ApiError::Code(ErrorCode::VerifyUserBadToken)),
        Err(ManagerError::UserAlreadyVerified) => {
            Err(ApiError::Code(ErrorCode::VerifyUserAlreadyVerified))
        }
        Err(other) => Err(other.into()),
    }
}

async fn forgot_password(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    email_job(users, request, TokenKind::Reset).await
}

async fn reset_password(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    users.limits().check(Scope::Token, &parts).await?;
    let values = embedded_strings(&users, &parts, body, &["token", "password"]).await?;
    match users
        .manager()
        .reset_password(text(&values[0]), text(&values[1]), Some(&parts))
        .await
    {
        Ok(user) => {
            users
                .record_user("password.reset", &user, &parts, serde_json::json!({}))
                .await;
            Ok(json_response(StatusCode::OK, &Value::Null))
        }
        Err(ManagerError::InvalidToken | ManagerError::UserInactive) => {
            Err(ApiError::Code(ErrorCode::ResetPasswordBadToken))
        }
        Err(ManagerError::InvalidPassword(reason)) => Err(ApiError::CodeWithReason {
            code: ErrorCode::ResetPasswordInvalidPassword,
            reason,
        }),
        Err(other) => Err(other.into()),
    }
}
