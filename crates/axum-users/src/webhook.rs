//! Webhooks: every audit event an endpoint asked for is POSTed to it as JSON, signed as the
//! Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).
//!
//! Delivery goes through a queue in the store: the event's request writes a row per endpoint
//! (so nothing is lost when the process dies, and the request waits for no receiver), and
//! [`AxumUsers::deliver_webhooks`] sends them, at least once, retrying with backoff, one user's
//! events in order (a later event of a user waits while an earlier one is being retried).
//! Several instances share the queue: each delivery is claimed before it is sent.

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::store::StoreError;
use crate::{AuditEvent, AxumUsers};

/// Where events go.
#[derive(Clone)]
#[non_exhaustive]
pub struct WebhookEndpoint {
    /// The receiver (`https://hooks.example.com/auth`).
    pub url: String,
    /// The event types it wants (every type when empty).
    pub events: Vec<String>,
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Why an endpoint was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookConfigError {
    /// Not an `http(s)://` URL.
    #[error("invalid webhook URL {0:?}: expected http:// or https://")]
    Url(String),
    /// Not one of [`EVENT_TYPES`](crate::EVENT_TYPES).
    #[error("unknown webhook event type {0:?}")]
    EventType(String),
    /// A `whsec_` secret whose rest is not base64, or an empty secret.
    #[error("invalid webhook secret: expected whsec_<base64> or a non-empty string")]
    Secret,
}

impl WebhookEndpoint {
    /// An endpoint at `url` for `events` (all when empty), signed with `secret`: Standard
    /// Webhooks' `whsec_<base64 key>`, or any other non-empty string used as the key itself.
    pub fn new<I, S>(url: &str, secret: &str, events: I) -> Result<Self, WebhookConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let parsed = url
            .parse::<http::Uri>()
            .ok()
            .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
        if parsed.is_none() {
            return Err(WebhookConfigError::Url(url.to_owned()));
        }
        let key = match secret.strip_prefix("whsec_") {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| WebhookConfigError::Secret)?,
            None => secret.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err(WebhookConfigError::Secret);
        }
        let mut wanted = Vec::new();
        for event in events {
            let event = event.into();
            if !crate::audit::EVENT_TYPES.contains(&event.as_str()) {
                return Err(WebhookConfigError::EventType(event));
            }
            wanted.push(event);
        }
        Ok(Self {
            url: url.to_owned(),
            events: wanted,
            key,
        })
    }

    fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }

    /// The `webhook-signature` value of a message.
    pub fn signature(&self, id: &str, timestamp: i64, body: &str) -> String {
        use hmac::{KeyInit as _, Mac as _};
        // HMAC takes a key of any length.
        let mut mac = hmac::SimpleHmac::<sha2::Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        let digest = mac.finalize().into_bytes();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    }
}

/// `400 {"detail":{"code":"REGISTER_REJECTED","reason":...}}`: the before-registration
/// webhook refused the registration.
pub const REGISTER_REJECTED: &str = "REGISTER_REJECTED";

/// A receiver asked before each registration, which may refuse it: the one synchronous
/// webhook. It gets `{"type":"user.registering","timestamp":...,"data":{"email","fields","ip",
/// "user_agent"}}` (never the password), signed as the others, and answers 2xx with
/// `{"allow": true}` or `{"allow": false, "reason": "..."}`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BeforeRegister {
    /// The receiver.
    pub endpoint: WebhookEndpoint,
    /// How long a registration waits for it (default 3 s).
    pub timeout: Duration,
    /// What a receiver that fails (no answer in time, not 2xx, not that JSON) means: `false`
    /// (the default) refuses the registration with `503 SERVICE_UNAVAILABLE`; `true` lets it
    /// through, with a warning logged.
    pub fail_open: bool,
}

impl BeforeRegister {
    /// Asks `endpoint`, failing closed after 3 seconds.
    pub fn new(endpoint: WebhookEndpoint) -> Self {
        Self {
            endpoint,
            timeout: Duration::from_secs(3),
            fail_open: false,
        }
    }
}

/// The endpoints and how deliveries are retried.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookSettings {
    /// Where events go.
    pub endpoints: Vec<WebhookEndpoint>,
    /// The receiver that may veto registrations, if any.
    pub before_register: Option<BeforeRegister>,
    /// How long a receiver gets to answer (default 10 s).
    pub timeout: Duration,
    /// Attempts before a delivery is given up (default 12: about 17 hours of backoff).
    pub max_attempts: i64,
    /// The first retry's wait, doubled at each failure up to an hour (default 2 s).
    pub first_retry: Duration,
}

impl WebhookSettings {
    /// Events go to `endpoints`.
    pub fn new(endpoints: Vec<WebhookEndpoint>) -> Self {
        Self {
            endpoints,
            before_register: None,
            timeout: Duration::from_secs(10),
            max_attempts: 12,
            first_retry: Duration::from_secs(2),
        }
    }
}

/// A message waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// `<event id>.<endpoint index>`: also the `webhook-id`, the receiver's idempotency key.
    pub id: String,
    /// Which endpoint (its index in [`WebhookSettings::endpoints`]).
    pub endpoint: i64,
    /// Whose event (deliveries of one user go in order).
    pub user_id: Option<String>,
    /// The JSON body.
    pub payload: String,
    /// Attempts so far.
    pub attempts: i64,
}

impl Delivery {
    /// A delivery not attempted yet (for stores of your own and their tests).
    pub fn new(id: String, endpoint: i64, user_id: Option<String>, payload: String) -> Self {
        Self {
            id,
            endpoint,
            user_id,
            payload,
            attempts: 0,
        }
    }
}

/// The delivery queue: the SQL stores keep it in `auth_webhook_delivery`.
#[dynosaur::dynosaur(pub(crate) DynWebhookStore = dyn(box) WebhookStore)]
pub trait WebhookStore: Send + Sync {
    /// Queues deliveries (one event's, to each endpoint that wants it).
    fn enqueue(
        &self,
        deliveries: &[Delivery],
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Claims up to `limit` due deliveries until `lease_until` (Unix ms): the oldest
    /// undelivered one of each user and endpoint, unless another instance holds it.
    fn claim_due(
        &self,
        now_ms: i64,
        lease_until: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;
    /// Marks a delivery done.
    fn delivered(
        &self,
        id: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Counts a failed attempt: tried again at `retry_at`, or given up (`None`).
    fn failed(
        &self,
        id: &str,
        retry_at: Option<i64>,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// How many deliveries wait (not delivered, not given up).
    fn pending_deliveries(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Deletes delivered and given-up deliveries older than `before` (Unix ms); how many.
    fn delete_finished_deliveries(
        &self,
        before: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// The webhooks of an [`AxumUsers`].
#[derive(Clone)]
pub(crate) struct Webhooks {
    pub(crate) store: std::sync::Arc<DynWebhookStore<'static>>,
    pub(crate) settings: WebhookSettings,
    pub(crate) wake: std::sync::Arc<tokio::sync::Notify>,
    pub(crate) http: reqwest::Client,
}

impl Webhooks {
    pub(crate) fn new(store: impl WebhookStore + 'static, settings: WebhookSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("axum-users/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            store: std::sync::Arc::from(DynWebhookStore::new_box(store)),
            settings,
            wake: std::sync::Arc::default(),
            http,
        }
    }

    /// The deliveries an event makes: one per endpoint that wants it.
    pub(crate) fn deliveries(&self, event: &AuditEvent, data: &Value) -> Vec<Delivery> {
        let payload =
            json!({"type": event.kind, "timestamp": data["at"], "data": data}).to_string();
        self.settings
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, endpoint)| endpoint.wants(&event.kind))
            .map(|(index, _)| {
                Delivery::new(
                    format!("{}.{index}", event.id),
                    i64::try_from(index).unwrap_or(i64::MAX),
                    event.user_id.map(|id| id.to_string()),
                    payload.clone(),
                )
            })
            .collect()
    }

    /// The wait before attempt `attempts + 1`: doubling from the first, at most an hour.
    fn backoff(&self, attempts: i64) -> i64 {
        let first = i64::try_from(self.settings.first_retry.as_millis()).unwrap_or(2000);
        let doubled = first.saturating_mul(1_i64 << attempts.clamp(0, 20));
        doubled.min(3_600_000)
    }

    /// Sends one delivery; whether the receiver took it (any 2xx).
    async fn send(&self, delivery: &Delivery) -> Result<(), String> {
        let endpoint = usize::try_from(delivery.endpoint)
            .ok()
            .and_then(|i| self.settings.endpoints.get(i))
            .ok_or_else(|| "no such endpoint any more".to_owned())?;
        let timestamp = crate::jwt::now_unix();
        let id = format!("msg_{}", delivery.id);
        let signature = endpoint.signature(&id, timestamp, &delivery.payload);
        let answer = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| format!("{}", e.without_url()))?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", answer.status().as_u16()))
        }
    }
}

/// Deliveries claimed at once.
const BATCH: usize = 32;
/// How long a claim holds (then another instance may take the delivery over).
const LEASE_MS: i64 = 60_000;
/// How often the queue is looked at without a wake-up (another instance's events, retries).
const POLL: Duration = Duration::from_secs(1);

impl AxumUsers {
    /// Sends the queued webhooks, for ever: spawn it once per process (the server does). Each
    /// round claims the due deliveries, sends them (one user's in order), and marks them
    /// delivered or due again after a backoff; it wakes when this process queues an event,
    /// and every second for the rest. Returns at once without webhooks configured.
    pub async fn deliver_webhooks(&self) {
        let Some(hooks) = self.webhooks() else {
            return;
        };
        loop {
            match self.deliver_round(hooks).await {
                // A full batch: there may be more.
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "webhook queue unreadable"),
            }
            let _ = tokio::time::timeout(POLL, hooks.wake.notified()).await;
        }
    }

    async fn deliver_round(&self, hooks: &Webhooks) -> Result<usize, StoreError> {
        let now = crate::audit::now_ms();
        if let Ok(depth) = hooks.store.pending_deliveries().await {
            // A count of rows: far below 2^52, exact as a float.
            crate::telemetry::set_gauge("axum_users_webhook_queue_depth", depth as f64);
        }
        let due = hooks
            .store
            .claim_due(now, now.saturating_add(LEASE_MS), BATCH)
            .await?;
        let count = due.len();
        let sends = due.into_iter().map(|delivery| async move {
            let outcome = hooks.send(&delivery).await;
            let now = crate::audit::now_ms();
            let stored = match outcome {
                Ok(()) => {
                    crate::telemetry::count("axum_users_webhook_deliveries_total");
                    hooks.store.delivered(&delivery.id, now).await
                }
                Err(error) => {
                    crate::telemetry::count("axum_users_webhook_failures_total");
                    let attempts = delivery.attempts + 1;
                    let retry = (attempts < hooks.settings.max_attempts)
                        .then(|| now.saturating_add(hooks.backoff(delivery.attempts)));
                    if retry.is_none() {
                        crate::telemetry::count("axum_users_webhook_given_up_total");
                    }
                    tracing::warn!(
                        delivery = %delivery.id,
                        attempts,
                        gave_up = retry.is_none(),
                        %error,
                        "webhook delivery failed"
                    );
                    hooks.store.failed(&delivery.id, retry, &error).await
                }
            };
            if let Err(error) = stored {
                tracing::warn!(%error, delivery = %delivery.id, "cannot record a webhook outcome");
            }
        });
        futures_util::future::join_all(sends).await;
        Ok(count)
    }

    /// Asks the before-registration receiver about a registration (`data`: the e-mail, the
    /// custom fields, the client): `Ok` to go on, the refusal otherwise.
    pub(crate) async fn before_register(&self, data: Value) -> Result<(), crate::ApiError> {
        let Some(hooks) = self.webhooks() else {
            return Ok(());
        };
        let Some(before) = &hooks.settings.before_register else {
            return Ok(());
        };
        let timestamp = crate::jwt::now_unix();
        let body = json!({
            "type": "user.registering",
            "timestamp": data["at"].clone(),
            "data": data,
        })
        .to_string();
        let id = format!("msg_{}", crate::audit::event_id());
        let answer = hooks
            .http
            .post(&before.endpoint.url)
            .timeout(before.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                before.endpoint.signature(&id, timestamp, &body),
            )
            .body(body)
            .send()
            .await;
        let verdict = match answer {
            Ok(answer) if answer.status().is_success() => answer
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| match v.get("allow").and_then(Value::as_bool) {
                    Some(true) => Some(Ok(())),
                    Some(false) => {
                        let reason = v
                            .get("reason")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .chars()
                            .filter(|c| !c.is_control())
                            .take(200)
                            .collect::<String>();
                        Some(Err(reason))
                    }
                    None => None,
                })
                .ok_or_else(|| "an answer without a boolean \"allow\"".to_owned()),
            Ok(answer) => Err(format!("answered {}", answer.status().as_u16())),
            Err(error) => Err(format!("{}", error.without_url())),
        };
        match verdict {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(crate::ApiError::Custom {
                status: http::StatusCode::BAD_REQUEST,
                detail: json!({"code": REGISTER_REJECTED, "reason": reason}),
            }),
            Err(error) if before.fail_open => {
                tracing::warn!(%error, "the before-registration webhook failed: registration let through");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "the before-registration webhook failed: registration refused");
                Err(crate::ApiError::Unavailable(
                    "the before-registration webhook failed".into(),
                ))
            }
        }
    }

    /// Queues an event's deliveries (in the request that recorded it) and wakes the sender.
    pub(crate) async fn queue_webhooks(&self, event: &AuditEvent, data: &Value) {
        let Some(hooks) = self.webhooks() else {
            return;
        };
        let deliveries = hooks.deliveries(event, data);
        if deliveries.is_empty() {
            return;
        }
        match hooks.store.enqueue(&deliveries, event.at).await {
            Ok(()) => hooks.wake.notify_one(),
            Err(error) => tracing::warn!(%error, event = %event.id, "cannot queue webhooks"),
        }
    }
}
