//! The audit trail: every security event (a registration, a login and why one failed, a
//! logout, a password or e-mail change, a verification, a second-factor or passkey change, a
//! session ended, a lockout, what a superuser did) as a row with its time, user, acting user,
//! client address, user agent and request id, and as a structured log line (target
//! `axum_users::audit`). Never a password, token, code or hash.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use crate::store::StoreError;
use crate::UserId;

/// The event types recorded, as `type` names them.
pub const EVENT_TYPES: &[&str] = &[
    "user.registered",
    "user.created",
    "user.updated",
    "user.deleted",
    "login.succeeded",
    "login.failed",
    "login.locked",
    "login.mfa_required",
    "logout",
    "logout.everywhere",
    "password.changed",
    "password.reset",
    "password.reset_requested",
    "email.changed",
    "email.change_requested",
    "email.verified",
    "email.verification_requested",
    "oauth.linked",
    "session.revoked",
    "mfa.enabled",
    "mfa.disabled",
    "mfa.recovery_codes_regenerated",
    "mfa.recovery_code_used",
    "mfa.reset",
    "passkey.added",
    "passkey.removed",
];

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuditEvent {
    /// 26 hexadecimal digits; a process's ids sort in the order it recorded them.
    pub id: String,
    /// When (Unix milliseconds).
    pub at: i64,
    /// One of [`EVENT_TYPES`].
    pub kind: String,
    /// Whose account it concerns (none for a failed login of an unknown address).
    pub user_id: Option<UserId>,
    /// Who did it, when not the user: a superuser.
    pub actor_id: Option<UserId>,
    /// The client's address (behind trusted proxies, the one they name).
    pub ip: Option<String>,
    /// The client's `User-Agent`, cut at 256 characters.
    pub user_agent: Option<String>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
    /// What else there is to say (`{"reason": ...}`, `{"method": ...}`), never a secret.
    pub detail: Value,
}

/// Which events [`AuditStore::events`] answers: newest first, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventQuery {
    /// Only this user's.
    pub user_id: Option<UserId>,
    /// Only these types (any, when empty).
    pub kinds: Vec<String>,
    /// At or after (Unix milliseconds).
    pub since: Option<i64>,
    /// Before (Unix milliseconds).
    pub until: Option<i64>,
    /// Older than this event (its time and id): the next page.
    pub before: Option<(i64, String)>,
    /// How many at most.
    pub limit: usize,
}

/// Where the audit trail lives: the SQL stores keep it in `auth_event` (created by `migrate`).
#[dynosaur::dynosaur(pub(crate) DynAuditStore = dyn(box) AuditStore)]
pub trait AuditStore: Send + Sync {
    /// Records an event.
    fn record_event(
        &self,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The events a query selects, newest first.
    fn events(
        &self,
        query: &EventQuery,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, StoreError>> + Send;
    /// Deletes the events older than `at` (Unix milliseconds); how many.
    fn delete_events_before(&self, at: i64)
        -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// How long events are kept.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuditSettings {
    /// Events older than this are deleted by [`AxumUsers::purge_events`](crate::AxumUsers::purge_events)
    /// (default 90 days).
    pub retention: Duration,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

impl AuditSettings {
    /// Events are kept for `retention`.
    pub fn new(retention: Duration) -> Self {
        Self { retention }
    }
}

/// The trail of an [`AxumUsers`](crate::AxumUsers).
#[derive(Clone)]
pub(crate) struct Audit {
    pub(crate) store: std::sync::Arc<DynAuditStore<'static>>,
    pub(crate) settings: AuditSettings,
}

/// A new event id that sorts after the ids this process made before it: microseconds since
/// the epoch and a counter (events of one request fall in one millisecond), then randomness
/// (other instances).
pub(crate) fn event_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let count = NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff;
    let mut random = [0u8; 4];
    rand::fill(&mut random);
    format!("{micros:014x}{count:04x}{}", crate::tokens::hex(&random))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
