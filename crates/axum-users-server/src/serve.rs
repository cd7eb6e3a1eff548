//! Serving: the router with the server's fallbacks, CORS and tracing, and the accept loop
//! (connection cap, silent-connection timeout, graceful shutdown).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::Request;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use axum_users::AxumUsers;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::build::build_to_serve;
use crate::config::{redact_url, Config};
/// The routes of the server: the library's conventional layout, FastAPI's JSON 404/405 and
/// its redirect of a trailing slash.
pub fn router(users: &AxumUsers) -> Router {
    let known = users.clone();
    let router = users
        .router()
        .fallback(move |request: Request| {
            let known = known.clone();
            async move { fallback(&known, request) }
        })
        .method_not_allowed_fallback(axum_users::method_not_allowed);
    // AXUM_USERS_ALLOWED_ORIGINS feeds CORS as well as the CSRF check.
    let router = match users.cors_layer() {
        Some(cors) => router.layer(cors),
        None => router,
    };
    // Every request carries an `X-Request-Id` (the client's or proxy's, else a new UUID),
    // which the audit trail records and the answer echoes.
    router
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
}

/// A random (version 4) UUID per request, as tower-http's `MakeRequestUuid`, drawn from the
/// thread's seeded generator instead of one `getrandom` system call per request.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        rand::fill(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut text = uuid::Uuid::encode_buffer();
        let id = id.hyphenated().encode_lower(&mut text);
        axum::http::HeaderValue::from_str(id)
            .ok()
            .map(RequestId::new)
    }
}

/// `/users/me/` → 307 to `http://host/users/me`, as Starlette does when the other form is a
/// route: an absolute URL built from `Host` (and `X-Forwarded-Proto: https` behind a proxy).
fn fallback(users: &AxumUsers, request: Request) -> Response {
    let path = request.uri().path();
    if let Some(trimmed) = path.strip_suffix('/').filter(|p| !p.is_empty()) {
        if is_route(users, trimmed) {
            let mut location = match request.uri().query() {
                Some(q) => format!("{trimmed}?{q}"),
                None => trimmed.to_owned(),
            };
            let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
            if let Some(host) = header("host").filter(|h| !h.contains('/')) {
                let scheme = match header("x-forwarded-proto") {
                    Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
                    _ => "http",
                };
                location = format!("{scheme}://{host}{location}");
            }
            return Redirect::temporary(&location).into_response();
        }
    }
    axum_users::ApiError::NOT_FOUND.into_response()
}

fn is_route(users: &AxumUsers, path: &str) -> bool {
    users.routes().iter().any(|route| route.matches(path))
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let addr: SocketAddr = config.bind.parse().with_context(|| {
        format!(
            "invalid configuration: AXUM_USERS_BIND {:?} is not an address:port",
            config.bind
        )
    })?;
    let (users, store) = build_to_serve(&config).await?;
    // Webhooks queued by this or any instance (or a previous run) are sent from here.
    tokio::spawn({
        let users = users.clone();
        async move { users.deliver_webhooks().await }
    });
    let metrics = match &config.metrics_bind {
        Some(bind) => Some(crate::metrics::serve(bind, store).await?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr().context("no local address")?;
    tracing::info!(address = %local, database = %redact_url(&config.database_url), "axum-users listening on http://{local}");
    let limits = ConnectionLimits {
        timeout: config.request_timeout(),
        max: max_connections(&config),
    };
    tracing::info!(max_connections = limits.max, "accepting connections");
    let mut app = router(&users);
    if metrics.is_some() {
        app = app.route_layer(axum::middleware::from_fn(crate::metrics::track));
    }
    serve_connections(listener, app, limits).await;
    // E-mails already accepted (202) are still sent, retries included, within a bound.
    if tokio::time::timeout(Duration::from_secs(30), users.wait_background())
        .await
        .is_err()
    {
        tracing::warn!("stopped with e-mails still being delivered");
    }
    tracing::info!("axum-users stopped");
    Ok(())
}

/// How long a connection may stay silent, and how many may be open at once.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    timeout: Duration,
    max: usize,
}

/// Descriptors kept for everything but client connections: the database and Redis pools, the
/// SQLite files, the listener, logs.
const DESCRIPTOR_HEADROOM: u64 = 128;

/// `AXUM_USERS_MAX_CONNECTIONS`, or what the descriptor limit leaves after the headroom. The
/// soft limit is first raised to the hard one, as servers do.
fn max_connections(config: &Config) -> usize {
    if let Some(max) = config.max_connections.filter(|&max| max > 0) {
        return max;
    }
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
        .unwrap_or(1024);
    let free = limit.saturating_sub(DESCRIPTOR_HEADROOM).max(16);
    usize::try_from(free).unwrap_or(usize::MAX)
}

/// Accepts connections until SIGTERM/Ctrl-C, then lets open requests finish (30 s at most).
/// Unlike `axum::serve`:
/// - a connection that sends nothing is closed after `timeout`, one that sends a request head
///   too slowly too (slow-loris), and an idle keep-alive connection after it; the body has its
///   own timeout in the routes;
/// - at most `max` connections are open at once. At the cap, the connections that have not sent
///   a byte yet are closed to make room, so that clients that do send are served while an
///   attacker holds silent sockets open.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt as _;

    let timeout = limits.timeout;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(timeout)
        .keep_alive_timeout(timeout);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max));
    // Wakes the connections still waiting for their first byte, which then close.
    let make_room = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                make_room.notify_waiters();
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        );
        let builder = builder.clone();
        let make_room = make_room.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            // hyper's head timeout starts with the first byte: until then, ours.
            let mut first = [0u8; 1];
            let evicted = make_room.notified();
            let sent = tokio::select! {
                peeked = stream.peek(&mut first) => matches!(peeked, Ok(n) if n > 0),
                () = tokio::time::sleep(timeout) => false,
                () = evicted => false,
            };
            if !sent {
                return;
            }
            let connection = builder
                .serve_connection(
                    TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(service),
                )
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::trace!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("stopped with requests still open");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
