//! Sessions over HTTP: the session each login starts (with its refresh token on a backend that
//! issues them), `POST /auth/{backend}/refresh`, the user's own session list
//! (`GET|DELETE /auth/sessions`, `DELETE /auth/sessions/{id}`) and a superuser's
//! (`GET|DELETE /users/{id}/sessions`, `DELETE /users/{id}/sessions/{session_id}`).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse as _, Response};
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use super::table::Endpoint;
use crate::auth::Backend;
use crate::error::ApiError;
use crate::json::json_response;
use crate::jwt::now_unix;
use crate::session::{access_key, clip, random_id, Session, SessionStore as _, Sessions};
use crate::strategy::Strategy as _;
use crate::transport::Transport;
use crate::{AxumUsers, User};

/// `401 {"detail":"REFRESH_TOKEN_INVALID"}`: a refresh token that is malformed, forged,
/// expired, already rotated (which also ends its session) or whose session has ended.
pub const REFRESH_TOKEN_INVALID: &str = "REFRESH_TOKEN_INVALID";

/// The longest `User-Agent` a session keeps.
const MAX_USER_AGENT_CHARS: usize = 256;

fn refresh_invalid() -> ApiError {
    ApiError::Custom {
        status: StatusCode::UNAUTHORIZED,
        detail: Value::from(REFRESH_TOKEN_INVALID),
    }
}

fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl AxumUsers {
    /// `GET /auth/sessions`, `DELETE /auth/sessions` (every session but the current one),
    /// `DELETE /auth/sessions/{id}` and `POST /auth/logout-everywhere` (mount under `/auth`).
    /// The session routes are there when [`AxumUsersBuilder::sessions`](crate::AxumUsersBuilder::sessions)
    /// keeps sessions; `POST /logout-everywhere` always: it ends every session of the
    /// signed-in user on every backend (JWTs minted before are refused from then on, as the
    /// user's token version goes up), and clears the cookie of every cookie backend. Beyond
    /// FastAPI Users.
    pub fn sessions_router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.mount("/auth", self.sessions_endpoints())
    }

    pub(crate) fn sessions_endpoints(&self) -> Vec<Endpoint> {
        let mut endpoints = vec![Endpoint::at("/auth/logout-everywhere")
            .post(super::auth::logout_everywhere, |doc| {
                doc.logout_everywhere()
            })];
        if self.sessions().is_some() {
            endpoints.push(
                Endpoint::at("/auth/sessions")
                    .get(own_sessions, |doc| doc.list_sessions())
                    .delete(end_other_sessions, |doc| doc.end_other_sessions()),
            );
            endpoints.push(
                Endpoint::at("/auth/sessions/{id}")
                    .delete(end_own_session, |doc| doc.end_session()),
            );
        }
        endpoints
    }

    /// A superuser's `GET|DELETE /users/{id}/sessions` and
    /// `DELETE /users/{id}/sessions/{session_id}`, when sessions are kept.
    pub(crate) fn user_sessions_endpoints(&self) -> Vec<Endpoint> {
        if self.sessions().is_none() {
            return Vec::new();
        }
        vec![
            Endpoint::at("/users/{id}/sessions")
                .get(user_sessions, |doc| doc.list_user_sessions())
                .delete(end_user_sessions, |doc| doc.end_user_sessions()),
            Endpoint::at("/users/{id}/sessions/{session_id}")
                .delete(end_user_session, |doc| doc.end_user_session()),
        ]
    }

    /// `POST /auth/{backend}/refresh`, for a backend that issues refresh tokens.
    pub(crate) fn refresh_endpoints(&self, backend: &Backend) -> Vec<Endpoint> {
        if backend.refresh.is_none() || self.sessions().is_none() {
            return Vec::new();
        }
        let name = backend.name.clone();
        let documented = backend.clone();
        vec![
            Endpoint::at(format!("/auth/{}/refresh", backend.name)).post(
                move |State(users): State<AxumUsers>, request: Request| async move {
                    refresh(users, &name, request).await
                },
                move |doc| doc.refresh(&documented),
            ),
        ]
    }

    /// Signs `user` in through `backend` once their credentials were checked: the access
    /// token, the session (with its refresh token on a backend that issues them) and the login
    /// answer. If a password change, deactivation or "log out everywhere" committed meanwhile,
    /// both are revoked again and the login fails (`400 LOGIN_BAD_CREDENTIALS`): those revoke
    /// after their write, and the session exists before the check below.
    pub(crate) async fn sign_in(
        &self,
        backend: &Backend,
        user: &User,
        method: &str,
        parts: &Parts,
    ) -> Result<Response, ApiError> {
        if let Err(error) = self.require_second_factor(backend, user, method).await {
            if matches!(error, ApiError::MfaRequired(_)) {
                let detail = json!({"method": method, "backend": backend.name});
                self.record_user("login.mfa_required", user, parts, detail)
                    .await;
            }
            return Err(error);
        }
        self.complete_sign_in(backend, user, method, parts).await
    }

    /// [`Self::sign_in`] once every factor was given.
    pub(crate) async fn complete_sign_in(
        &self,
        backend: &Backend,
        user: &User,
        method: &str,
        parts: &Parts,
    ) -> Result<Response, ApiError> {
        let detail = json!({"method": method, "backend": backend.name});
        let Some(sessions) = self.sessions() else {
            let token = self.issue_token(backend, user).await?;
            self.record_user("login.succeeded", user, parts, detail)
                .await;
            return Ok(backend.transport.login_response(&token));
        };
        let token = backend.write_token(user).await?;
        let now = now_unix();
        let lifetime = backend.refresh.or_else(|| backend.strategy.lifetime());
        let mut session = Session {
            id: random_id(),
            user_id: user.id,
            backend: backend.name.clone(),
            method: method.to_owned(),
            created_at: now,
            last_used_at: now,
            expires_at: lifetime.map(|l| now.saturating_add(seconds(l))),
            ip: None,
            user_agent: None,
            refresh: backend.refresh.is_some(),
            generation: 0,
            rotated_at: now,
            access_key: access_key(&token),
            access_token: token,
            secret: random_id(),
        };
        self.seen_from(&mut session, parts);
        sessions.store.create_session(&session).await?;
        if !self.manager().still_signed_in(user).await? {
            self.end_session(&session.id).await?;
            return Err(ApiError::Code(crate::ErrorCode::LoginBadCredentials));
        }
        self.bound_sessions(sessions, user, &session.id).await?;
        self.record_user("login.succeeded", user, parts, detail)
            .await;
        Ok(self.token_answer(backend, sessions, &session))
    }

    /// The client's address and agent, as the session shows them.
    fn seen_from(&self, session: &mut Session, parts: &Parts) {
        session.ip = self.limits().client_ip(parts).map(|ip| ip.to_string());
        session.user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|agent| clip(agent, MAX_USER_AGENT_CHARS));
    }

    /// Ends the user's least recently used sessions beyond the bound (never `new`).
    async fn bound_sessions(
        &self,
        sessions: &Sessions,
        user: &User,
        new: &str,
    ) -> Result<(), ApiError> {
        let keep = sessions.settings.max_per_user.saturating_sub(1);
        let all = sessions.store.user_sessions(user.id).await?;
        for old in all.iter().filter(|s| s.id != new).skip(keep) {
            self.end_session(&old.id).await?;
        }
        Ok(())
    }

    /// The login (or refresh) answer for a session: its access token and, when it has one,
    /// its refresh token at its current generation.
    fn token_answer(&self, backend: &Backend, sessions: &Sessions, session: &Session) -> Response {
        let refresh = backend.refresh.filter(|_| session.refresh).map(|lifetime| {
            (
                sessions.refresh_token(session, session.generation),
                lifetime.as_secs(),
            )
        });
        let path = refresh_path(backend);
        backend.transport.login_response_with_refresh(
            &session.access_token,
            refresh
                .as_ref()
                .map(|(token, age)| (token.as_str(), *age, path.as_str())),
        )
    }

    /// Ends a session: its row is deleted, its database or Redis token revoked. `false` when
    /// it had already ended.
    pub(crate) async fn end_session(&self, id: &str) -> Result<bool, ApiError> {
        let Some(sessions) = self.sessions() else {
            return Ok(false);
        };
        let Some(session) = sessions.store.delete_session(id).await? else {
            return Ok(false);
        };
        self.revoke_access(&session).await?;
        Ok(true)
    }

    async fn revoke_access(&self, session: &Session) -> Result<(), ApiError> {
        if let (Some(backend), Some(user)) = (
            self.backend(&session.backend),
            self.manager().get(session.user_id).await?,
        ) {
            backend.destroy_token(&session.access_token, &user).await?;
        }
        Ok(())
    }

    /// The session whose access token this is.
    pub(crate) async fn current_session(&self, token: &str) -> Result<Option<Session>, ApiError> {
        match self.sessions() {
            None => Ok(None),
            Some(sessions) => Ok(sessions
                .store
                .session_by_access_key(&access_key(token))
                .await?),
        }
    }

    /// Ends every session of a user but `keep`, revoking their tokens; how many.
    async fn end_sessions_but(&self, user: &User, keep: Option<&str>) -> Result<usize, ApiError> {
        let Some(sessions) = self.sessions() else {
            return Ok(0);
        };
        let ended = sessions.store.delete_user_sessions(user.id, keep).await?;
        for session in &ended {
            if let Some(backend) = self.backend(&session.backend) {
                backend.destroy_token(&session.access_token, user).await?;
            }
        }
        Ok(ended.len())
    }

    /// A user's live sessions as the API lists them, the one `current` marked.
    async fn session_list(&self, user: &User, current: Option<&str>) -> Result<Value, ApiError> {
        let Some(sessions) = self.sessions() else {
            return Ok(Value::Array(Vec::new()));
        };
        let now = now_unix();
        let list: Vec<Value> = sessions
            .store
            .user_sessions(user.id)
            .await?
            .iter()
            .filter(|s| !s.expired(now))
            .map(|s| session_json(s, current == Some(s.id.as_str())))
            .collect();
        Ok(Value::Array(list))
    }
}

/// Where the refresh cookie is sent: the backend's refresh route, nowhere else.
pub(super) fn refresh_path(backend: &Backend) -> String {
    match &backend.transport {
        Transport::Cookie(cookie) => cookie
            .refresh_path
            .clone()
            .unwrap_or_else(|| format!("/auth/{}/refresh", backend.name)),
        Transport::Bearer(_) => String::new(),
    }
}

/// Unix seconds as RFC 3339 (`2026-12-02T05:00:00Z`).
pub(super) fn timestamp(unix: i64) -> Value {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::from)
}

/// A session as the API shows it: never its tokens or key.
fn session_json(session: &Session, current: bool) -> Value {
    json!({
        "id": session.id,
        "backend": session.backend,
        "method": session.method,
        "created_at": timestamp(session.created_at),
        "last_used_at": timestamp(session.last_used_at),
        "expires_at": session.expires_at.map_or(Value::Null, timestamp),
        "ip": session.ip,
        "user_agent": session.user_agent,
        "refresh": session.refresh,
        "current": current,
    })
}

fn no_content() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /auth/{backend}/refresh`: the refresh token (`{"refresh_token": ...}` for Bearer,
/// the refresh cookie for a cookie backend) for a new access token and refresh token.
async fn refresh(users: AxumUsers, backend: &str, request: Request) -> Result<Response, ApiError> {
    let backend = users
        .backend(backend)
        .ok_or_else(|| ApiError::Internal(format!("backend {backend} vanished")))?;
    let sessions = users
        .sessions()
        .ok_or_else(|| ApiError::Internal("refresh without sessions".into()))?;
    let (parts, body) = request.into_parts();
    let presented = match &backend.transport {
        Transport::Cookie(_) => {
            users.check_cookie_login(backend, &parts.headers)?;
            backend.transport.refresh_cookie(&parts.headers)
        }
        _ => {
            let values =
                super::account::embedded_strings(&users, &parts, body, &["refresh_token"]).await?;
            values.first().and_then(Value::as_str).map(str::to_owned)
        }
    };
    let answer = match presented {
        Some(token) => rotate(&users, backend, sessions, &token, &parts).await,
        None => Err(refresh_invalid()),
    };
    match answer {
        // A cookie that no longer refreshes anything is cleared.
        Err(error) if matches!(backend.transport, Transport::Cookie(_)) => {
            let mut response = error.into_response();
            backend
                .transport
                .clear_refresh_cookie(&mut response, &refresh_path(backend));
            Ok(response)
        }
        answer => answer,
    }
}

/// Rotation with reuse detection: the current generation moves on (one winner among
/// concurrent refreshes, by compare-and-set); the previous one within the grace period gets the
/// current answer; any older one ends the session.
async fn rotate(
    users: &AxumUsers,
    backend: &Backend,
    sessions: &Sessions,
    token: &str,
    parts: &Parts,
) -> Result<Response, ApiError> {
    let claim = Sessions::parse(token).ok_or_else(refresh_invalid)?;
    let Some(mut session) = sessions.store.get_session(claim.session_id).await? else {
        return Err(refresh_invalid());
    };
    if !sessions.authentic(&session, &claim) || !session.refresh || session.backend != backend.name
    {
        return Err(refresh_invalid());
    }
    let now = now_unix();
    let user = users.manager().get(session.user_id).await?;
    let allowed = user
        .as_ref()
        .is_some_and(|user| user.is_active && (user.is_verified || !users.requires_verification()));
    let (Some(user), true, false) = (user, allowed, session.expired(now)) else {
        users.end_session(&session.id).await?;
        return Err(refresh_invalid());
    };
    if claim.generation == session.generation {
        let access = backend.write_token(&user).await?;
        let mut rotated = session.clone();
        rotated.generation += 1;
        rotated.rotated_at = now;
        rotated.last_used_at = now;
        rotated.expires_at = backend.refresh.map(|l| now.saturating_add(seconds(l)));
        rotated.access_key = access_key(&access);
        rotated.access_token = access;
        users.seen_from(&mut rotated, parts);
        if sessions
            .store
            .rotate_session(&rotated, session.generation)
            .await?
        {
            // The previous access token goes (database, Redis) now that its successor stands.
            backend.destroy_token(&session.access_token, &user).await?;
            return Ok(users.token_answer(backend, sessions, &rotated));
        }
        backend.destroy_token(&rotated.access_token, &user).await?;
        // Another request rotated first: judged against the session as it left it.
        session = match sessions.store.get_session(claim.session_id).await? {
            Some(session) => session,
            None => return Err(refresh_invalid()),
        };
    }
    let grace = seconds(sessions.settings.grace);
    if claim.generation + 1 == session.generation && now - session.rotated_at <= grace && grace > 0
    {
        return Ok(users.token_answer(backend, sessions, &session));
    }
    if claim.generation < session.generation {
        tracing::warn!(
            user_id = %session.user_id,
            session_id = %session.id,
            "a rotated refresh token was presented again: the session is ended"
        );
        users.end_session(&session.id).await?;
        let detail = json!({"session_id": session.id, "reason": "refresh_token_reused"});
        users
            .record(
                "session.revoked",
                Some(session.user_id),
                None,
                parts,
                detail,
            )
            .await;
    }
    Err(refresh_invalid())
}

/// The signed-in caller and the id of the session their token belongs to.
async fn caller_and_session(
    users: &AxumUsers,
    parts: &Parts,
) -> Result<(User, Option<String>), ApiError> {
    let auth = users
        .signed_in(&parts.method, &parts.headers, false)
        .await?;
    let current = users.current_session(&auth.token).await?;
    Ok((auth.user, current.map(|s| s.id)))
}

async fn own_sessions(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let (user, current) = caller_and_session(&users, &parts).await?;
    let list = users.session_list(&user, current.as_deref()).await?;
    let mut response = json_response(StatusCode::OK, &list);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /auth/sessions`: every session but the one making the request.
async fn end_other_sessions(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let (user, current) = caller_and_session(&users, &parts).await?;
    let ended = users.end_sessions_but(&user, current.as_deref()).await?;
    let detail = json!({"count": ended, "reason": "others_ended"});
    users
        .record_user("session.revoked", &user, &parts, detail)
        .await;
    Ok(no_content())
}

async fn end_own_session(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let auth = users
        .signed_in(request.method(), request.headers(), false)
        .await?;
    let (parts, _) = request.into_parts();
    let id = path.map(|Path(id)| id).map_err(|_| ApiError::NOT_FOUND)?;
    end_if_owned(&users, &auth.user, &id, &parts, None).await
}

/// Ends session `id` if it is `user`'s; 404 otherwise (another user's session is not
/// revealed to exist).
async fn end_if_owned(
    users: &AxumUsers,
    user: &User,
    id: &str,
    parts: &Parts,
    actor: Option<&User>,
) -> Result<Response, ApiError> {
    let sessions = users
        .sessions()
        .ok_or_else(|| ApiError::Internal("sessions vanished".into()))?;
    if id.len() > 64 {
        return Err(ApiError::NOT_FOUND);
    }
    match sessions.store.get_session(id).await? {
        Some(session) if session.user_id == user.id => {
            users.end_session(id).await?;
            let detail = json!({ "session_id": id });
            users
                .record(
                    "session.revoked",
                    Some(user.id),
                    actor.map(|a| a.id),
                    parts,
                    detail,
                )
                .await;
            Ok(no_content())
        }
        _ => Err(ApiError::NOT_FOUND),
    }
}

async fn user_sessions(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = users.named_user(&parts, path).await?;
    let list = users.session_list(&user, None).await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// `DELETE /users/{id}/sessions`: as the user's own "log out everywhere".
async fn end_user_sessions(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let (admin, user) = users.named_user_and_caller(&parts, path).await?;
    users.manager().logout_everywhere(&user).await?;
    users
        .record(
            "logout.everywhere",
            Some(user.id),
            Some(admin.id),
            &parts,
            json!({}),
        )
        .await;
    Ok(no_content())
}

async fn end_user_session(
    State(users): State<AxumUsers>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let admin = users.caller(&parts, true).await?;
    let (id, session_id) = path.map(|Path(p)| p).map_err(|_| ApiError::NOT_FOUND)?;
    let user = match users.manager().parse_id(&id) {
        Some(id) => users.manager().get(id).await?,
        None => None,
    }
    .ok_or(ApiError::NOT_FOUND)?;
    end_if_owned(&users, &user, &session_id, &parts, Some(&admin)).await
}
