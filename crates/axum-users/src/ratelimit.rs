//! Brute-force and abuse limits: per client IP on every route that takes credentials or sends
//! e-mail, and per account after failed logins. Over a limit the answer is
//! `429 {"detail":"TOO_MANY_REQUESTS"}` with `Retry-After`.
//!
//! Counters are fixed windows, in memory for one instance or in Redis (shared by every instance)
//! with [`RateLimits::redis`].
//!
//! The per-account limit is a bounded backoff: after `free_failures` failed logins for one
//! e-mail, each further failure locks that e-mail for `first_delay`, doubling up to `max_delay`
//! (default 15 minutes); a successful login clears it. An attacker can slow a real user down by
//! at most `max_delay` at a time, never lock them out for good.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use http::request::Parts;

use crate::ApiError;

/// At most `requests` per `window` from one client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
pub struct Backoff {
    /// Failures allowed before the first lock (default 5).
    pub free_failures: u64,
    /// The first lock (default 1 s); each further failure doubles it.
    pub first_delay: Duration,
    /// The longest lock (default 15 minutes); failures are forgotten after it too.
    pub max_delay: Duration,
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
}

/// Every limit; `None` turns one off. [`RateLimits::default`] is on,
/// [`RateLimits::off`] turns everything off (tests, or a proxy that limits).
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
            account: Some(Backoff::default()),
            trusted_proxies: Vec::new(),
            counters: Counters::memory(),
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
            account: None,
            trusted_proxies: Vec::new(),
            counters: Counters::memory(),
        }
    }

    /// Counters in Redis, shared by every instance that uses the same Redis.
    #[cfg(feature = "redis")]
    pub async fn redis(mut self, url: &str) -> Result<Self, String> {
        self.counters = Counters::Redis(crate::auth::redis::connect_manager(url).await?);
        Ok(self)
    }

    fn limit(&self, scope: Scope) -> Option<Limit> {
        match scope {
            Scope::Login => self.login,
            Scope::Register => self.register,
            Scope::Mail => self.mail,
            Scope::Token => self.token,
        }
    }

    /// The client's address: the socket's, or, behind a trusted proxy, the nearest address in
    /// `X-Forwarded-For` (or `Forwarded: for=`) that is not a trusted proxy.
    pub(crate) fn client(&self, parts: &Parts) -> String {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return "unknown".into();
        };
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
        client.to_string()
    }

    /// Counts a request against its scope's limit.
    pub(crate) async fn check(&self, scope: Scope, parts: &Parts) -> Result<(), ApiError> {
        let Some(limit) = self.limit(scope) else {
            return Ok(());
        };
        let key = format!("axum_users_rl:{scope:?}:{}", self.client(parts));
        let (count, ttl) = self.counters.hit(&key, limit.window).await?;
        if count > limit.requests {
            return Err(ApiError::TooManyRequests(ttl));
        }
        Ok(())
    }

    fn account_keys(email: &str) -> (String, String) {
        let email = email.to_lowercase();
        (
            format!("axum_users_rl:fail:{email}"),
            format!("axum_users_rl:lock:{email}"),
        )
    }

    /// Refuses a login attempt while the account is locked.
    pub(crate) async fn check_account(&self, email: &str) -> Result<(), ApiError> {
        if self.account.is_none() {
            return Ok(());
        }
        let (_, lock) = Self::account_keys(email);
        match self.counters.ttl(&lock).await? {
            Some(ttl) => Err(ApiError::TooManyRequests(ttl)),
            None => Ok(()),
        }
    }

    /// After a failed login: past the free failures, lock the account for a doubling delay.
    pub(crate) async fn login_failed(&self, email: &str) -> Result<(), ApiError> {
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
    pub(crate) async fn login_succeeded(&self, email: &str) -> Result<(), ApiError> {
        if self.account.is_none() {
            return Ok(());
        }
        let (fail, lock) = Self::account_keys(email);
        self.counters.delete(&[fail, lock]).await
    }
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

#[derive(Clone)]
enum Counters {
    Memory(Arc<Mutex<HashMap<String, (u64, Instant)>>>),
    #[cfg(feature = "redis")]
    Redis(redis::aio::ConnectionManager),
}

#[cfg(feature = "redis")]
use crate::auth::redis::unavailable;

impl Counters {
    fn memory() -> Self {
        Self::Memory(Arc::default())
    }

    /// Adds one to a counter that lives `window` from its first hit; answers the count and the
    /// time left.
    async fn hit(&self, key: &str, window: Duration) -> Result<(u64, Duration), ApiError> {
        match self {
            Self::Memory(map) => {
                let mut map = map
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                if map.len() > 100_000 {
                    map.retain(|_, (_, expires)| *expires > now);
                }
                let entry = map.entry(key.to_owned()).or_insert((0, now + window));
                if entry.1 <= now {
                    *entry = (0, now + window);
                }
                entry.0 += 1;
                Ok((entry.0, entry.1 - now))
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
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, ApiError> {
        match self {
            Self::Memory(map) => {
                let map = map
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                Ok(map
                    .get(key)
                    .filter(|(_, expires)| *expires > now)
                    .map(|(_, expires)| *expires - now))
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

    async fn set(&self, key: &str, ttl: Duration) -> Result<(), ApiError> {
        match self {
            Self::Memory(map) => {
                let mut map = map
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                map.insert(key.to_owned(), (1, Instant::now() + ttl));
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

    async fn delete(&self, keys: &[String]) -> Result<(), ApiError> {
        match self {
            Self::Memory(map) => {
                let mut map = map
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for key in keys {
                    map.remove(key);
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
        assert_eq!(limits.client(&parts("10.0.0.9:5000", &spoof)), "10.0.0.9");
        limits.trusted_proxies = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        assert_eq!(limits.client(&parts("10.0.0.9:5000", &spoof)), "10.0.0.9");
        let chain = [("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")];
        assert_eq!(limits.client(&parts("10.0.0.1:5000", &chain)), "1.2.3.4");
        let forwarded = [("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#)];
        assert_eq!(
            limits.client(&parts("10.0.0.1:5000", &forwarded)),
            "2001:db8::7"
        );
        let forwarded = [("forwarded", "for=192.0.2.60:8080")];
        assert_eq!(
            limits.client(&parts("10.0.0.1:5000", &forwarded)),
            "192.0.2.60"
        );
        assert_eq!(limits.client(&parts("10.0.0.1:5000", &[])), "10.0.0.1");
    }
}
