//! `GET /health` and `GET /ready`, for load balancers and orchestrators: beyond FastAPI Users,
//! outside the OpenAPI document (whose routes stay FastAPI Users'), never rate limited.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::{Method, StatusCode};
use serde_json::json;

use super::table::Endpoint;
use crate::json::json_response;
use crate::store::UserStore as _;
use crate::strategy::Strategy as _;
use crate::{ApiError, AxumUsers};

impl AxumUsers {
    pub(crate) fn health_endpoints(&self) -> Vec<Endpoint> {
        vec![
            Endpoint::undocumented("/health", &[Method::GET], get(health)),
            Endpoint::undocumented("/ready", &[Method::GET], get(ready)),
        ]
    }

    /// Whether everything a request may need answers now: the user store, each backend's
    /// token store (Redis), the shared rate-limit counters (Redis). The first failure, as the
    /// error a request would get (`503`).
    pub async fn ready(&self) -> Result<(), ApiError> {
        self.manager().store.ping().await?;
        for backend in self.backends() {
            backend.strategy.ping().await?;
        }
        self.limits().ping().await?;
        Ok(())
    }
}

/// `200 {"status":"ok"}` while the process serves.
async fn health() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// `200 {"status":"ready"}`, or `503 {"detail":"SERVICE_UNAVAILABLE"}` (with `Retry-After`,
/// and the cause in the log) while the database or Redis does not answer.
async fn ready(State(users): State<AxumUsers>) -> Result<Response, ApiError> {
    users.ready().await?;
    Ok(json_response(StatusCode::OK, &json!({"status": "ready"})))
}
