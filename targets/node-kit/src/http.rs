//! HTTP helpers: JSON responses, the error body, serving until shut down.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kv_api::{ApiError, ErrorCode};
use serde::Serialize;
use std::future::Future;

/// A JSON response.
pub fn json(status: u16, body: &impl Serialize) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// An error response with the JSON error body.
pub fn error(error: &ApiError) -> Response {
    json(error.code.status(), &error.body())
}

/// For routes that do not exist.
pub async fn not_found() -> Response {
    error(&ApiError::new(ErrorCode::NotFound, "no such route"))
}

/// Serves `router` on `listener` until `shutdown` completes.
///
/// # Errors
/// Whatever the server returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.fallback(not_found))
        .with_graceful_shutdown(shutdown)
        .await
}
