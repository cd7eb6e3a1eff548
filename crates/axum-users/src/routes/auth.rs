//! `POST /login` and `POST /logout` for one backend.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use super::body::read_body;
use super::body::FormFields;
use super::table::Endpoint;
use crate::error::ErrorCode;
use crate::ratelimit::Scope;
use crate::transport::Transport;
use crate::validation::{ValidationErrors, ValidationItem};
use crate::{ApiError, AxumUsers};

impl AxumUsers {
    /// `POST /login` and `POST /logout` for the backend named `backend` (mount under e.g.
    /// `/auth/jwt`); `None` when no backend has that name.
    pub fn auth_router<S: Clone + Send + Sync + 'static>(
        &self,
        backend: &str,
    ) -> Option<Router<S>> {
        self.backend(backend)?;
        Some(self.mount(&format!("/auth/{backend}"), self.auth_endpoints(backend)))
    }

    pub(crate) fn auth_endpoints(&self, name: &str) -> Vec<Endpoint> {
        let Some(backend) = self.backend(name).cloned() else {
            return Vec::new();
        };
        let (login_name, logout_name) = (name.to_owned(), name.to_owned());
        let refresh = backend.refresh.is_some() && self.sessions().is_some();
        let mfa = self.mfa().is_some();
        let documented = backend.clone();
        let mut endpoints = vec![
            Endpoint::at(format!("/auth/{name}/login"))
                .post(
                    move |State(users): State<AxumUsers>, request: Request| async move {
                        login(users, &login_name, request).await
                    },
                    move |doc| doc.login(&documented, refresh, mfa),
                )
                .limited(),
            Endpoint::at(format!("/auth/{name}/logout")).post(
                move |State(users): State<AxumUsers>, request: Request| async move {
                    logout(users, &logout_name, request).await
                },
                move |doc| doc.logout(&backend),
            ),
        ];
        if let Some(backend) = self.backend(name) {
            endpoints.extend(self.refresh_endpoints(backend));
        }
        endpoints
    }
}

pub(super) async fn logout_everywhere(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let auth = users
        .signed_in(request.method(), request.headers(), false)
        .await?;
    users.manager().logout_everywhere(&auth.user).await?;
    let (parts, _) = request.into_parts();
    users
        .record_user("logout.everywhere", &auth.user, &parts, json!({}))
        .await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    for backend in users.backends() {
        if matches!(backend.transport, Transport::Cookie(_)) {
            let mut cleared = backend.transport.logout_response();
            if backend.refresh.is_some() {
                backend
                    .transport
                    .clear_refresh_cookie(&mut cleared, &super::sessions::refresh_path(backend));
            }
            for cookie in cleared.headers().get_all(header::SET_COOKIE) {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
        }
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The longest address an account can have (the `email` column is `VARCHAR(320)`).
const MAX_USERNAME_CHARS: usize = 320;

/// The OAuth2 password form (`username`, `password`, optional `grant_type=password`).
fn credentials(form: &FormFields) -> Result<(String, String), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if let Some(grant) = form.get("grant_type") {
        if grant != "password" {
            errors.push(
                ValidationItem::body_field(
                    "string_pattern_mismatch",
                    "grant_type",
                    "String should match pattern '^password$'",
                    Value::from(grant),
                )
                .with_ctx(json!({"pattern": "^password$"})),
            );
        }
    }
    let username = form.get("username");
    let password = form.get("password");
    if username.is_none() {
        errors.push(ValidationItem::missing("username", Value::Null));
    }
    if password.is_none() {
        errors.push(ValidationItem::missing("password", Value::Null));
    }
    errors.into_result()?;
    match (username, password) {
        (Some(u), Some(p)) => Ok((u.to_owned(), p.to_owned())),
        // Both were checked just above.
        _ => Err(ValidationItem::missing("username", Value::Null).into()),
    }
}

/// The address a login tried, as the audit trail keeps it: only what looks like an e-mail
/// address (someone who typed their password into the address field must not find it there).
fn attempted(username: &str) -> Option<&str> {
    username.contains('@').then_some(username)
}

async fn login(users: AxumUsers, backend: &str, request: Request) -> Result<Response, ApiError> {
    let backend = users
        .backend(backend)
        .ok_or_else(|| ApiError::Internal(format!("backend {backend} vanished")))?;
    let (parts, body) = request.into_parts();
    users.check_cookie_login(backend, &parts.headers)?;
    let limits = users.limits();
    limits.check(Scope::Login, &parts).await?;
    let bytes = read_body(&users, body).await?;
    let form = FormFields::parse(&parts.headers, bytes).await?;
    let (username, password) = credentials(&form)?;
    // No account has a longer address: refused before anything is hashed or remembered.
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(ApiError::Code(ErrorCode::LoginBadCredentials));
    }
    let manager = users.manager();
    if let Err(error) = limits.check_account(&username).await {
        if matches!(error, crate::ratelimit::LimitError::TooMany(_)) {
            let known = manager.get_by_email(&username).await?.map(|u| u.id);
            let detail = json!({ "email": attempted(&username) });
            users
                .record("login.locked", known, None, &parts, detail)
                .await;
        }
        return Err(error.into());
    }
    let user = match manager.authenticate(&username, &password).await? {
        Some(user) if user.is_active => user,
        found => {
            limits.login_failed(&username).await?;
            // The account, when there is one (the failure path only: as costly for every
            // address, since the hash was imitated for unknown ones).
            let (known, reason) = match found {
                Some(user) => (Some(user.id), "inactive"),
                None => (
                    manager.get_by_email(&username).await?.map(|u| u.id),
                    "bad_credentials",
                ),
            };
            let detail = json!({"email": attempted(&username), "reason": reason});
            users
                .record("login.failed", known, None, &parts, detail)
                .await;
            return Err(ApiError::Code(ErrorCode::LoginBadCredentials));
        }
    };
    limits.login_succeeded(&username).await?;
    if users.requires_verification() && !user.is_verified {
        let detail = json!({"email": username, "reason": "unverified"});
        users
            .record_user("login.failed", &user, &parts, detail)
            .await;
        return Err(ApiError::Code(ErrorCode::LoginUserNotVerified));
    }
    let mut response = users.sign_in(backend, &user, "password", &parts).await?;
    manager.logged_in(&user, Some(&parts), &mut response).await;
    Ok(response)
}

async fn logout(users: AxumUsers, backend: &str, request: Request) -> Result<Response, ApiError> {
    let backend = users
        .backend(backend)
        .ok_or_else(|| ApiError::Internal(format!("backend {backend} vanished")))?;
    let auth = users
        .signed_in(request.method(), request.headers(), false)
        .await?;
    // As FastAPI Users: whichever backend authenticated, this backend's strategy revokes.
    backend.destroy_token(&auth.token, &auth.user).await?;
    if let Some(session) = users.current_session(&auth.token).await? {
        users.end_session(&session.id).await?;
    }
    let (parts, _) = request.into_parts();
    let detail = json!({ "backend": backend.name });
    users
        .record_user("logout", &auth.user, &parts, detail)
        .await;
    let mut response = backend.transport.logout_response();
    if backend.refresh.is_some() {
        backend
            .transport
            .clear_refresh_cookie(&mut response, &super::sessions::refresh_path(backend));
    }
    Ok(response)
}
