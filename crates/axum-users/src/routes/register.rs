//! `POST /register`.

use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use http::StatusCode;

use super::table::Endpoint;

use super::body::read_body;
use super::body::read_json_body;
use crate::error::ErrorCode;
use crate::input::parse_create;
use crate::json::json_response;
use crate::manager::ManagerError;
use crate::validation::RawBody;
use crate::{ApiError, AxumUsers, User};

impl AxumUsers {
    /// `POST /register` (mount under `/auth`): creates an active, unverified user; privileged
    /// flags in the body are ignored.
    pub fn register_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.mount("/auth", self.register_endpoints())
    }

    pub(crate) fn register_endpoints(&self) -> Vec<Endpoint> {
        vec![Endpoint::at("/auth/register")
            .post(register, |doc| doc.register())
            .limited()]
    }
}

async fn register(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    users
        .limits()
        .check(crate::ratelimit::Scope::Register, &parts)
        .await?;
    let bytes = read_body(&users, body).await?;
    let raw = read_json_body(&parts.headers, &bytes)?;
    let input = parse_create(raw, users.manager().schema())?;
    #[cfg(feature = "webhooks")]
    users
        .before_register(serde_json::json!({
            "email": input.email,
            "fields": input.fields,
            "at": crate::routes::events::now_rfc3339(),
            "ip": users.limits().client_ip(&parts).map(|ip| ip.to_string()),
            "user_agent": parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        }))
        .await?;
    let user = users
        .manager()
        .create(input, true, Some(&parts))
        .await
        .map_err(register_error)?;
    users
        .record_user("user.registered", &user, &parts, serde_json::json!({}))
        .await;
    let response = json_response(StatusCode::CREATED, &user.to_read());
    if users.verify_on_register() {
        let job = users.clone();
        users.spawn_background(async move {
            job.send_verification(&user, Some(&parts)).await;
        });
    }
    Ok(response)
}

/// A refused registration, as FastAPI Users answers it.
pub(crate) fn register_error(err: ManagerError) -> ApiError {
    match err {
        ManagerError::InvalidPassword(reason) => ApiError::CodeWithReason {
            code: ErrorCode::RegisterInvalidPassword,
            reason,
        },
        ManagerError::UserAlreadyExists => ApiError::Code(ErrorCode::RegisterUserAlreadyExists),
        other => other.into(),
    }
}

impl AxumUsers {
    /// Creates a user from a registration body, through the validation and normalisation of
    /// `POST /auth/register` (e-mail rules, password policy and hook, custom fields), but with
    /// `is_active`, `is_superuser` and `is_verified` applied: for seeding, admin tools and
    /// tests. Refusals are the route's answers (`422` items, `400 REGISTER_*`).
    ///
    /// ```
    /// # async fn doc(users: axum_users::AxumUsers) -> Result<(), axum_users::ApiError> {
    /// let admin = users
    ///     .create_user(serde_json::json!({
    ///         "email": "merlin@camelot.bt",
    ///         "password": "a long passphrase",
    ///         "is_superuser": true,
    ///         "is_verified": true,
    ///     }))
    ///     .await?;
    /// let token = users.token_for("jwt", &admin).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_user(&self, body: serde_json::Value) -> Result<User, ApiError> {
        let input = parse_create(RawBody::Json(body), self.manager().schema())?;
        self.manager()
            .create(input, false, None)
            .await
            .map_err(register_error)
    }
}
