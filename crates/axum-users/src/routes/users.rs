//! `GET/PATCH /me` and the superuser routes `GET/PATCH/DELETE /{id}`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http::request::Parts;
use http::{Method, StatusCode};

use super::body::read_body;
use super::body::read_json_body;
use super::table::Endpoint;
use crate::error::ErrorCode;
use crate::input::parse_update;
use crate::json::json_response;
use crate::manager::ManagerError;
use crate::user::{UpdateField, UserUpdate};
use crate::validation::RawBody;
use crate::{ApiError, AxumUsers, User};
use serde_json::{json, Value};

impl AxumUsers {
    /// `GET /me`, `PATCH /me`, and for superusers `GET`, `PATCH`, `DELETE /{id}`, `GET`,
    /// `POST /` and `POST /{id}/reset-password`, and with sessions kept
    /// `GET`, `DELETE /{id}/sessions` and `DELETE /{id}/sessions/{session_id}` (mount under
    /// `/users`).
    pub fn users_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let mut endpoints = self.users_endpoints();
        endpoints.extend(self.user_sessions_endpoints());
        endpoints.extend(self.user_mfa_endpoints());
        endpoints.extend(self.user_events_endpoints());
        self.mount("/users", endpoints)
    }

    pub(crate) fn users_endpoints(&self) -> Vec<Endpoint> {
        vec![
            Endpoint::at("/users")
                .get(super::admin::list_users, |doc| {
                    doc.list_users(super::admin::MAX_PAGE, super::admin::MAX_SIZE)
                })
                .post(super::admin::create_user, |doc| doc.create_user()),
            Endpoint::at("/users/{id}/reset-password")
                .post(super::admin::send_reset_password, |doc| {
                    doc.send_reset_password()
                }),
            // One handler for every method, so that a 405 lists the methods of /me alone, as
            // documented: FastAPI has no DELETE /me, the request reaches DELETE /{id} with id
            // "me" (and answers like it).
            Endpoint::at("/users/me")
                .any(any(
                    |State(users): State<AxumUsers>, request: Request| async move {
                        match *request.method() {
                            Method::GET | Method::HEAD => me(State(users), request).await,
                            Method::PATCH => patch_me(State(users), request).await,
                            Method::DELETE => delete_user(users, Some("me"), request).await,
                            _ => Ok(me_method_not_allowed()),
                        }
                    },
                ))
                .documents(Method::GET, |doc| doc.current_user())
                .documents(Method::PATCH, |doc| doc.patch_current_user()),
            Endpoint::at("/users/{id}")
                .get(get_user, |doc| doc.user())
                .patch(patch_user, |doc| doc.patch_user())
                .delete(
                    |State(users): State<AxumUsers>,
                     path: Result<Path<String>, PathRejection>,
                     request: Request| async move {
                        let id = path.ok().map(|Path(id)| id);
                        delete_user(users, id.as_deref(), request).await
                    },
                    |doc| doc.delete_user(),
                ),
        ]
    }

    /// The user a superuser's `/users/{id}...` request names: `401`/`403` for the caller
    /// first, then `404` for the id.
    pub(crate) async fn named_user(
        &self,
        parts: &Parts,
        path: Result<Path<String>, PathRejection>,
    ) -> Result<User, ApiError> {
        Ok(self.named_user_and_caller(parts, path).await?.1)
    }

    /// [`Self::named_user`], and the superuser who asks.
    pub(crate) async fn named_user_and_caller(
        &self,
        parts: &Parts,
        path: Result<Path<String>, PathRejection>,
    ) -> Result<(User, User), ApiError> {
        let admin = self.caller(parts, true).await?;
        let id = path.ok().map(|Path(id)| id);
        Ok((admin, self.user_or_404(id.as_deref()).await?))
    }

    async fn user_or_404(&self, id: Option<&str>) -> Result<User, ApiError> {
        let Some(id) = id.and_then(|id| self.manager().parse_id(id)) else {
            return Err(ApiError::NOT_FOUND);
        };
        self.manager().get(id).await?.ok_or(ApiError::NOT_FOUND)
    }

    pub(crate) async fn caller(&self, parts: &Parts, superuser: bool) -> Result<User, ApiError> {
        Ok(self
            .signed_in(&parts.method, &parts.headers, superuser)
            .await?
            .user)
    }
}

fn update_error(err: ManagerError) -> ApiError {
    match err {
        ManagerError::InvalidPassword(reason) => ApiError::CodeWithReason {
            code: ErrorCode::UpdateUserInvalidPassword,
            reason,
        },
        ManagerError::UserAlreadyExists => ApiError::Code(ErrorCode::UpdateUserEmailAlreadyExists),
        other => other.into(),
    }
}

async fn me(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = users.caller(&parts, false).await?;
    let pending = users.manager().pending_email(&user).await?;
    Ok(json_response(
        StatusCode::OK,
        &user.read_view(pending.as_deref()),
    ))
}

/// The user as FastAPI Users shows it, with `pending_email` while a confirmed e-mail change
/// waits for its link (never otherwise, so FastAPI Users' clients see the same keys).
fn read_with_pending(user: &User, pending: Option<String>) -> Value {
    let mut read = user.to_read();
    if let (Some(pending), Some(object)) = (pending, read.as_object_mut()) {
        object.insert("pending_email".into(), Value::from(pending));
    }
    read
}

/// With confirmed e-mail changes on, a new address in the user's own update is taken out of
/// it and waits: the new address is mailed a verification link, the old one a notice. The
/// address the change waits for, if any.
async fn hold_email_change(
    users: &AxumUsers,
    user: &User,
    update: &mut UserUpdate,
    parts: &Parts,
) -> Result<Option<String>, ApiError> {
    let manager = users.manager();
    let Some(changes) = &manager.email_changes else {
        return Ok(None);
    };
    let new = update.fields.iter().find_map(|field| match field {
        UpdateField::Email(email) if *email != user.email => Some(email.clone()),
        _ => None,
    });
    let Some(new) = new else {
        return Ok(None);
    };
    if manager.get_by_email(&new).await?.is_some() {
        return Err(ApiError::Code(ErrorCode::UpdateUserEmailAlreadyExists));
    }
    update
        .fields
        .retain(|field| !matches!(field, UpdateField::Email(_)));
    update.raw.remove("email");
    use crate::email_change::EmailChangeStore as _;
    changes
        .set_pending_email(user.id, &new, crate::jwt::now_unix())
        .await?;
    let token = manager.email_change_token(user, &new)?;
    users
        .record_user("email.change_requested", user, parts, json!({ "to": new }))
        .await;
    let (mail, lifetime) = (users.mail().clone(), manager.verify_tokens.lifetime);
    let (old, mut to) = (user.clone(), user.clone());
    to.email = new.clone();
    let notice = format!("a change of your e-mail address to {new} was asked for");
    users.spawn_background(async move {
        mail.deliver(crate::tokens::TokenKind::Verify, &to, &token, lifetime)
            .await;
        mail.notify(&old, &notice).await;
    });
    Ok(Some(new))
}

fn me_method_not_allowed() -> Response {
    let mut response = ApiError::Status(StatusCode::METHOD_NOT_ALLOWED).into_response();
    response.headers_mut().insert(
        http::header::ALLOW,
        http::HeaderValue::from_static("GET,HEAD,PATCH"),
    );
    response
}

/// Reads the JSON body first, so that malformed JSON answers 422 before authentication.
async fn json_first(users: &AxumUsers, request: Request) -> Result<(Parts, RawBody), ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(users, body).await?;
    let raw = read_json_body(&parts.headers, &bytes)?;
    Ok((parts, raw))
}

fn sets_password(update: &UserUpdate) -> bool {
    update
        .fields
        .iter()
        .any(|field| matches!(field, UpdateField::Password(_)))
}

/// Requests that cost a password hash count against the caller's own limit, so that one
/// account cannot keep the hashing pool busy for everyone.
async fn limit_hashing(users: &AxumUsers, caller: &User) -> Result<(), ApiError> {
    users
        .limits()
        .check_user(crate::ratelimit::Scope::PasswordChange, caller.id)
        .await?;
    Ok(())
}

/// Writes an update by `actor` (the user, or a superuser) and records it: `user.updated` with
/// the fields sent, and `password.changed` / `email.changed` when those changed. `pending`: an
/// e-mail change waiting for its link, shown in the answer.
async fn apply_update(
    users: &AxumUsers,
    user: User,
    update: UserUpdate,
    parts: &Parts,
    actor: &User,
    pending: Option<String>,
) -> Result<Response, ApiError> {
    let before = user.email.clone();
    let fields: Vec<String> = update.raw.keys().cloned().collect();
    let password = sets_password(&update);
    let updated = users
        .manager()
        .update(user, update, Some(parts))
        .await
        .map_err(update_error)?;
    let (id, by) = (Some(updated.id), Some(actor.id));
    users
        .record("user.updated", id, by, parts, json!({ "fields": fields }))
        .await;
    if password {
        users
            .record("password.changed", id, by, parts, json!({}))
            .await;
    }
    if updated.email != before {
        let detail = json!({"from": before, "to": updated.email});
        users.record("email.changed", id, by, parts, detail).await;
    }
    Ok(json_response(
        StatusCode::OK,
        &read_with_pending(&updated, pending),
    ))
}

async fn patch_me(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, raw) = json_first(&users, request).await?;
    let user = users.caller(&parts, false).await?;
    let current = match &raw {
        RawBody::Json(Value::Object(body)) => body
            .get("current_password")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    let mut update = parse_update(raw, users.manager().schema(), true)?;
    let sensitive = update.fields.iter().any(|field| match field {
        UpdateField::Password(_) => true,
        UpdateField::Email(email) => *email != user.email,
        _ => false,
    });
    if sets_password(&update) || (sensitive && users.requires_current_password()) {
        limit_hashing(&users, &user).await?;
    }
    if users.requires_current_password() {
        let confirmed = match &current {
            Some(password) => {
                users
                    .manager()
                    .hasher()
                    .matches(password, &user.hashed_password)
                    .await?
            }
            None => false,
        };
        if sensitive && !confirmed {
            return Err(ApiError::Custom {
                status: StatusCode::BAD_REQUEST,
                detail: Value::from(crate::error::UPDATE_USER_BAD_CURRENT_PASSWORD),
            });
        }
    }
    let pending = hold_email_change(&users, &user, &mut update, &parts).await?;
    let pending = match pending {
        Some(pending) => Some(pending),
        None => users.manager().pending_email(&user).await?,
    };
    let actor = user.clone();
    apply_update(&users, user, update, &parts, &actor, pending).await
}

async fn get_user(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = users.named_user(&parts, path).await?;
    Ok(json_response(StatusCode::OK, &user.to_read()))
}

async fn patch_user(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, raw) = json_first(&users, request).await?;
    let admin = users.caller(&parts, true).await?;
    let id = path.ok().map(|Path(id)| id);
    let user = users.user_or_404(id.as_deref()).await?;
    let update = parse_update(raw, users.manager().schema(), false)?;
    if sets_password(&update) {
        limit_hashing(&users, &admin).await?;
    }
    apply_update(&users, user, update, &parts, &admin, None).await
}

async fn delete_user(
    users: AxumUsers,
    id: Option<&str>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let admin = users.caller(&parts, true).await?;
    let user = users.user_or_404(id).await?;
    users.manager().delete(&user, Some(&parts)).await?;
    let detail = json!({ "email": user.email });
    users
        .record(
            "user.deleted",
            Some(user.id),
            Some(admin.id),
            &parts,
            detail,
        )
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
