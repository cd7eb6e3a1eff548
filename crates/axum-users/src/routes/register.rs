//! `POST /register`.

use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use http::StatusCode;

use super::body::read_body;
use super::body::read_json_body;
use crate::error::ErrorCode;
use crate::json::json_response;
use crate::manager::ManagerError;
use crate::user::parse_create;
use crate::{ApiError, AxumUsers};

impl AxumUsers {
    /// `POST /register` (mount under `/auth`): creates an active, unverified user; privileged
    /// flags in the body are ignored.
    pub fn register_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/register", post(register))
            .with_state(self.clone())
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
    let created = users.manager().create(input, true, Some(&parts)).await;
    match created {
        Ok(user) => {
            let response = json_response(StatusCode::CREATED, &user.to_read());
            if users.verify_on_register() {
                let job = users.clone();
                users.spawn_background(async move {
                    job.send_verification(&user, Some(&parts)).await;
                });
            }
            Ok(response)
        }
        Err(ManagerError::InvalidPassword(reason)) => Err(ApiError::CodeWithReason {
            code: ErrorCode::RegisterInvalidPassword,
            reason,
        }),
        Err(ManagerError::UserAlreadyExists) => {
            Err(ApiError::Code(ErrorCode::RegisterUserAlreadyExists))
        }
        Err(other) => Err(other.into()),
    }
}
