//! Brute-force and abuse limits (documented on [`RateLimits`], from `docs/rate-limits.md`).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use http::request::Parts;

/// Why a limited request does not go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// Over a limit: answered `429 {"detail":"TOO_MANY_REQUESTS"}`, `Retry-After` this long.
    #[error("too many requests; retry in {0:?}")]
    TooMany(Duration),
    /// A limit is on and the request carries no client address (see the module docs).
    #[error("the request carries no client address")]
    NoClientAddress,
    /// The shared counters (Redis) cannot be reached: 503.
    #[error("rate-limit counters unavailable: {0}")]
    Unavailable(String),
}

/// At most `requests` per `window` from one client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limit {
    /// Requests allowed in a window.
    pub requests: u64,
    /// The window.
    pub window: Duration,
}

impl Limit {
    /// `requests` per `seconds`.
    pub const fn per(requests: u64, seconds: u64) -> Self {
        Self {
            requests,
            window: Duration::from_secs(seconds),
        }
    }
}

/// The per-account backoff after failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// Failures allowed before the first lock (default 5).
    pub free_failures: u64,
    /// The first lock (default 1 s); each further failure doubles it.
    pub first_delay: Duration,
    /// The longest lock (default 15 minutes); failures are forgotten after it too.
    pub max_delay: Duration,
}

impl Backoff {
    /// `free_failures` failures free, then locks from `first_delay` doubling up to `max_delay`.
    pub const fn new(free_failures: u64, first_delay: Duration, max_delay: Duration) -> Self {
        Self {
            free_failures,
            first_delay,
            max_delay,
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
        }
    }
}

/// Which routes a limit covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Login,
    Register,
    Mail,
    Token,
    /// Per user: requests that hash a new password (`PATCH /users/me`, `PATCH /users/{id}`).
    PasswordChange,
}

/// Every limit; `None` turns one off. [`RateLimits::default`] is on,
/// [`RateLimits::off`] turns everything off (tests, or a proxy that limits).
///
#[doc = include_str!("docs/rate-limits.md")]
#[derive(Clone)]
pub struct RateLimits {
    /// `POST /auth/{backend}/login` per IP (default 20 per minute).
    pub login: Option<Limit>,
    /// `POST /auth/register` per IP (default 10 per hour).
    pub register: Option<Limit>,
    /// `forgot-password` and `request-verify-token` per IP (default 10 per 15 minutes).
    pub mail: Option<Limit>,
    /// `reset-password` and `verify` per IP (default 20 per 15 minutes).
    pub token: Option<Limit>,
    /// Password changes per user, so that one account cannot keep the hashing pool busy
    /// (default 5 per 15 minutes).
    pub password_change: Option<Limit>,
    /// Failed logins per account.
    pub account: Option<Backoff>,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers name the client; the socket's
    /// address is the client otherwise.
    pub trusted_proxies: Vec<IpAddr>,
    counters: Counters,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("login", &self.login)
            .field("register", &self.register)
            .field("mail", &self.mail)
            .field("token", &self.token)
            .field("password_change", &self.password_change)
            .field("account", &self.account)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login: Some(Limit::per(20, 60)),
            register: Some(Limit::per(10, 3600)),
            mail: Some(Limit::per(10, 15 * 60)),
            token: Some(Limit::per(20, 15 * 60)),
            password_change: Some(Limit::per(5, 15 * 60)),
            account: Some(Backoff::default()),
            trusted_proxies: Vec::new(),
            counters: Counters::memory(DEFAULT_CAPACITY),
        }
    }
}

impl RateLimits {
    /// No limit at all.
    pub fn off() -> Self {
        Self {
            login: None,
            register: None,
            mail: None,
            token: None,
            password_change: None,
            account: None,
            trusted_proxies: Vec::new(),
            counters: Counters::memory(DEFAULT_CAPACITY),
        }
    }

    /// Keeps at most `entries` counters in memory (default 100,000; about 15 MiB resident when
    /// full). Not used with [`RateLimits::redis`], whose keys expire in Redis.
    #[must_use]
    pub fn memory_capacity(mut self, entries: usize) -> Self {
        self.counters = Counters::memory(entries);
        self
    }

    /// Counters in Redis, shared by every instance that uses the same Redis.
    #[cfg(feature = "redis")]
    pub async fn redis(mut self, url: &str) -> Result<Self, LimitError> {
        let connection = crate::redis_conn::connect(url).await.map_err(unavailable)?;
        self.counters = Counters::Redis(connection);
        Ok(self)
    }

    fn limit(&self, scope: Scope) -> Option<Limit> {
        match scope {
            Scope::Login => self.login,
            Scope::Register => self.register,
            Scope::Mail => self.mail,
            Scope::Token => self.token,
            Scope::PasswordChange => self.password_change,
        }
    }

    /// The client's address: the socket's, or, behind a trusted proxy, the nearest address in
    /// `X-Forwarded-For` (or `Forwarded: for=`) that is not a trusted proxy. IPv6 addresses
    /// stand for their /64 network. `None` when the request carries no socket address.
    pub(crate) fn client(&self, parts: &Parts) -> Option<String> {
        self.client_ip(parts).map(network)
    }

    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub(crate) fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
        let mut client = peer.ip();
        if self.trusted_proxies.contains(&client) {
            let forwarded: Vec<IpAddr> = forwarded_for(&parts.headers);
            for hop in forwarded.iter().rev() {
                client = *hop;
                if !self.trusted_proxies.contains(hop) {
                    break;
                }
            }
        }
        Some(client)
    }

    /// Counts a request against its scope's per-client limit.
    pub(crate) async fn check(&self, scope: Scope, parts: &Parts) -> Result<(), LimitError> {
        let Some(limit) = self.limit(scope) else {
            return Ok(());
        };
        let Some(client) = self.client(parts) else {
            return Err(no_client_address());
        };
        self.count(scope, &client, limit).await
    }

    /// Whether the shared counters answer (Redis), for readiness probes.
    pub(crate) async fn ping(&self) -> Result<(), LimitError> {
        self.counters.ping().await
    }

    /// Counts a request against its scope's limit for one user.
    pub(crate) async fn check_user(
        &self,
        scope: Scope,
        user: crate::UserId,
    ) -> Result<(), LimitError> {
        match self.limit(scope) {
            Some(limit) => self.count(scope, &user.to_string(), limit).await,
            None => Ok(()),
        }
    }

    async fn count(&self, scope: Scope, key: &str, limit: Limit) -> Result<(), LimitError> {
        let key = format!("axum_users_rl:{scope:?}:{key}");
        let (count, ttl) = self.counters.hit(&key, limit.window).await?;
        if count > limit.requests {
            return Err(LimitError::TooMany(ttl));
        }
        Ok(())
    }

    /// The keys of an account: a digest of its normalised address, so that neither the memory
    /// nor Redis keeps what was typed, and every key has the same small size.
    fn account_keys(email: &str) -> (String, String) {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(crate::email::email_key(email).as_bytes());
        let hex = crate::tokens::hex(&digest[..16]);
        (
            format!("axum_users_rl:fail:{hex}"),
            format!("axum_users_rl:lock:{hex}"),
        )
    }

    /// Refuses a login attempt while the account is locked.
    pub(crate) async fn check_account(&self, email: &str) -> Result<(), LimitError> {
        if self.account.is_none() {
            return Ok(());
        }
        let (_, lock) = Self::account_keys(email);
        match self.counters.ttl(&lock).await? {
            Some(ttl) => Err(LimitError::TooMany(ttl)),
            None => Ok(()),
        }
    }

    /// After a failed login: past the free failures, lock the account for a doubling delay.
    pub(crate) async fn login_failed(&self, email: &str) -> Result<(), LimitError> {
        let Some(backoff) = self.account else {
            return Ok(());
        };
        let (fail, lock) = Self::account_keys(email);
        let (failures, _) = self.counters.hit(&fail, backoff.max_delay).await?;
        if failures > backoff.free_failures {
            let doublings = u32::try_from(failures - backoff.free_failures - 1).unwrap_or(u32::MAX);
            let delay = backoff
                .first_delay
                .checked_mul(2u32.saturating_pow(doublings.min(31)))
                .unwrap_or(backoff.max_delay)
                .min(backoff.max_delay);
            self.counters.set(&lock, delay).await?;
        }
        Ok(())
    }

    /// After a successful login: forget the failures.
    pub(crate) async fn login_succeeded(&self, email: &str) -> Result<(), LimitError> {
        if self.account.is_none() {
            return Ok(());
        }
        let (fail, lock) = Self::account_keys(email);
        self.counters.delete(&[fail, lock]).await
    }
}

/// The default of [`RateLimits::memory_capacity`].
const DEFAULT_CAPACITY: usize = 100_000;

/// An IPv4 address, or the /64 network of an IPv6 one (an IPv4-mapped one counts as IPv4).
fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The answer while a limit is on and the request has no client address: the application is
/// served without connect info, and counting every caller in one bucket would let one client
/// lock everyone out. Logged once, loudly.
fn no_client_address() -> LimitError {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if !LOGGED.swap(true, Ordering::Relaxed) {
        tracing::error!(
            "rate limits are on but requests carry no client address: serve the app with \
             `app.into_make_service_with_connect_info::<std::net::SocketAddr>()`, or turn \
             the limits off with `RateLimits::off()` (e.g. behind a proxy that limits)"
        );
    }
    LimitError::NoClientAddress
}

fn forwarded_for(headers: &http::HeaderMap) -> Vec<IpAddr> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        if let Ok(value) = value.to_str() {
            hops.extend(
                value
                    .split(',')
                    .filter_map(|h| h.trim().parse::<IpAddr>().ok()),
            );
        }
    }
    if hops.is_empty() {
        for value in headers.get_all(http::header::FORWARDED) {
            let Ok(value) = value.to_str() else { continue };
            for element in value.split(',') {
                for pair in element.split(';') {
                    if let Some((name, node)) = pair.trim().split_once('=') {
                        if name.eq_ignore_ascii_case("for") {
                            let node = node.trim_matches('"');
                            let node = node
                                .strip_prefix('[')
                                .map_or(node, |n| n.split(']').next().unwrap_or(n));
                            let node = if node.matches(':').count() == 1 {
                                node.split(':').next().unwrap_or(node)
                            } else {
                                node
                            };
                            if let Ok(ip) = node.parse() {
                                hops.push(ip);
                            }
                        }
                    }
                }
            }
        }
    }
    hops
}

/// One fixed window of a counter.
#[derive(Debug)]
struct Window {
    count: u64,
    expires: Instant,
}

/// Counters by a 128-bit digest of their key: bounded in number, in key size, and O(1) per hit.
type MemoryCounters = quick_cache::sync::Cache<u128, Arc<Mutex<Window>>>;

fn digest(key: &str) -> u128 {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(key.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(first)
}

fn lock(window: &Mutex<Window>) -> std::sync::MutexGuard<'_, Window> {
    window
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Clone)]
enum Counters {
    Memory(Arc<MemoryCounters>),
    #[cfg(feature = "redis")]
    Redis(redis::aio::ConnectionManager),
}

#[cfg(feature = "redis")]
fn unavailable(err: redis::RedisError) -> LimitError {
    LimitError::Unavailable(format!("redis: {err}"))
}

impl Counters {
    /// Whether the counters' store answers (Redis: `PING`).
    async fn ping(&self) -> Result<(), LimitError> {
        match self {
            Self::Memory(_) => Ok(()),
            #[cfg(feature = "redis")]
            Self::Redis(connection) => redis::cmd("PING")
                .query_async::<()>(&mut connection.clone())
                .await
                .map_err(unavailable),
        }
    }

    fn memory(capacity: usize) -> Self {
        Self::Memory(Arc::new(quick_cache::sync::Cache::new(capacity.max(1))))
    }

    /// Adds one to a counter that lives `window` from its first hit; answers the count and the
    /// time left.
    async fn hit(&self, key: &str, window: Duration) -> Result<(u64, Duration), LimitError> {
        match self {
            Self::Memory(map) => {
                let now = Instant::now();
                let fresh = || {
                    Ok::<_, std::convert::Infallible>(Arc::new(Mutex::new(Window {
                        count: 0,
                        expires: now + window,
                    })))
                };
                let Ok(entry) = map.get_or_insert_with(&digest(key), fresh);
                let mut entry = lock(&entry);
                if entry.expires <= now {
                    *entry = Window {
                        count: 0,
                        expires: now + window,
                    };
                }
                entry.count += 1;
                Ok((entry.count, entry.expires - now))
            }
            #[cfg(feature = "redis")]
            Self::Redis(connection) => {
                let mut connection = connection.clone();
                let seconds = window.as_secs().max(1);
                let (count, ttl): (u64, i64) = redis::pipe()
                    .atomic()
                    .incr(key, 1)
                    .cmd("EXPIRE")
                    .arg(key)
                    .arg(seconds)
                    .arg("NX")
                    .ignore()
                    .ttl(key)
                    .query_async(&mut connection)
                    .await
                    .map_err(unavailable)?;
                Ok((
                    count,
                    Duration::from_secs(u64::try_from(ttl).unwrap_or(seconds)),
                ))
            }
        }
    }

    /// The time left on a key, if it is set.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, LimitError> {
        match self {
            Self::Memory(map) => {
                let now = Instant::now();
                Ok(map.get(&digest(key)).and_then(|entry| {
                    let expires = lock(&entry).expires;
                    (expires > now).then(|| expires - now)
                }))
            }
            #[cfg(feature = "redis")]
            Self::Redis(connection) => {
                let mut connection = connection.clone();
                let millis: i64 = redis::cmd("PTTL")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
                    .map_err(unavailable)?;
                Ok(u64::try_from(millis).ok().map(Duration::from_millis))
            }
        }
    }

    async fn set(&self, key: &str, ttl: Duration) -> Result<(), LimitError> {
        match self {
            Self::Memory(map) => {
                let window = Window {
                    count: 1,
                    expires: Instant::now() + ttl,
                };
                map.insert(digest(key), Arc::new(Mutex::new(window)));
                Ok(())
            }
            #[cfg(feature = "redis")]
            Self::Redis(connection) => {
                let mut connection = connection.clone();
                let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(millis)
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(unavailable)
            }
        }
    }

    async fn delete(&self, keys: &[String]) -> Result<(), LimitError> {
        match self {
            Self::Memory(map) => {
                for key in keys {
                    map.remove(&digest(key));
                }
                Ok(())
            }
            #[cfg(feature = "redis")]
            Self::Redis(connection) => {
                let mut connection = connection.clone();
                redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Driven far past its bound, the memory store keeps at most its capacity of keys, each a
    /// fixed 16 bytes whatever the client or address, and a key still counts while it is used.
    #[tokio::test]
    async fn memory_counters_stay_within_their_bound() {
        let capacity = 10_000;
        let limits = RateLimits::default().memory_capacity(capacity);
        let Counters::Memory(map) = &limits.counters else {
            unreachable!("memory_capacity makes memory counters")
        };
        let window = Duration::from_secs(3600);
        for i in 0..(10 * capacity) {
            let key = format!(
                "axum_users_rl:Login:10.{}.{}.{}",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            );
            limits.counters.hit(&key, window).await.unwrap();
            limits.counters.hit("hot", window).await.unwrap();
        }
        assert!(map.len() <= capacity, "{} keys", map.len());
        let (count, _) = limits.counters.hit("hot", window).await.unwrap();
        assert_eq!(count, 10 * capacity as u64 + 1, "a busy key is kept");
        let (short, _) = RateLimits::account_keys("a@b.co");
        let (long, _) = RateLimits::account_keys(&format!("{}@b.co", "a".repeat(65_000)));
        assert_eq!(short.len(), long.len());
    }

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        request.into_parts().0
    }

    #[test]
    fn the_client_is_the_socket_unless_a_trusted_proxy_says_otherwise() {
        let mut limits = RateLimits::off();
        let spoof = [("x-forwarded-for", "1.2.3.4")];
        let client = |limits: &RateLimits, peer, headers| limits.client(&parts(peer, headers));
        assert_eq!(
            client(&limits, "10.0.0.9:5000", &spoof).unwrap(),
            "10.0.0.9"
        );
        limits.trusted_proxies = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        assert_eq!(
            client(&limits, "10.0.0.9:5000", &spoof).unwrap(),
            "10.0.0.9"
        );
        let chain = [("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")];
        assert_eq!(client(&limits, "10.0.0.1:5000", &chain).unwrap(), "1.2.3.4");
        let forwarded = [("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#)];
        assert_eq!(
            client(&limits, "10.0.0.1:5000", &forwarded).unwrap(),
            "2001:db8:0:0::/64"
        );
        let forwarded = [("forwarded", "for=192.0.2.60:8080")];
        assert_eq!(
            client(&limits, "10.0.0.1:5000", &forwarded).unwrap(),
            "192.0.2.60"
        );
        assert_eq!(client(&limits, "10.0.0.1:5000", &[]).unwrap(), "10.0.0.1");
        // One IPv6 host holds a /64: every address in it is one client; IPv4-mapped is IPv4.
        assert_eq!(
            client(&limits, "[2001:db8:1:2:aaaa::1]:5000", &[]),
            client(&limits, "[2001:db8:1:2:ffff:1:2:3]:5000", &[])
        );
        assert_eq!(
            client(&limits, "[::ffff:192.0.2.1]:5000", &[]).unwrap(),
            "192.0.2.1"
        );
        let bare = http::Request::new(()).into_parts().0;
        assert_eq!(limits.client(&bare), None);
    }
}
