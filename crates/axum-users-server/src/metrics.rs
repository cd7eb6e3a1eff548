//! Prometheus metrics on an address of their own (`AXUM_USERS_METRICS_BIND`), through the
//! `metrics` facade and its Prometheus exporter: requests by route template, method and
//! status (logins by outcome, rate-limit refusals and outages are the statuses of their
//! routes), and their latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::build::Store;

/// Installs the recorder and serves `/metrics` on `bind`; answers the address it listens on.
/// The database pool of `store` is reported too.
pub async fn serve(bind: &str, store: Store) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = bind.parse().with_context(|| {
        format!("invalid configuration: AXUM_USERS_METRICS_BIND {bind:?} is not an address:port")
    })?;
    let handle = PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ])
        .context("metrics buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for metrics"))?;
    let local = listener.local_addr().context("no local address")?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        // Histograms are folded in periodically (the exporter's own listener would do it), and
        // the pool's gauges read.
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
            let (size, idle) = match &store {
                Store::Sqlite(store) => (store.pool().size(), store.pool().num_idle()),
                Store::Postgres(store) => (store.pool().size(), store.pool().num_idle()),
            };
            metrics::gauge!("axum_users_db_pool_connections").set(f64::from(size));
            // `num_idle` is a usize no larger than the pool's `size` (a u32).
            metrics::gauge!("axum_users_db_pool_idle").set(idle as f64);
        }
    });
    let app = Router::new().route("/metrics", get(move || render(handle.clone())));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    tracing::info!(address = %local, "metrics on http://{local}/metrics");
    Ok(local)
}

async fn render(handle: PrometheusHandle) -> String {
    handle.render()
}

/// Counts each routed request and times it. Labels are bounded: the route template (never the
/// raw path), a known method or `other`, the status code.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "axum_users_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "axum_users_http_request_duration_seconds",
        "method" => method, "route" => route
    )
    .record(started.elapsed().as_secs_f64());
    response
}
