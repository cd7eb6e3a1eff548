//! JSON responses as FastAPI writes them: compact, UTF-8, `application/json`.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// A response with a compact JSON body, as FastAPI sends it.
pub fn json_response<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec());
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
