//! The audit trail over HTTP: recording an event from a request (its client address, agent and
//! request id), and reading it: `GET /users/me/events` (the caller's own),
//! `GET /users/{id}/events` and `GET /events` (superusers), newest first, a page at a time.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use http::request::Parts;
use http::{header, StatusCode};
use serde_json::{json, Value};

use super::table::Endpoint;
use crate::audit::{event_id, now_ms, AuditEvent, AuditStore as _, EventQuery, EVENT_TYPES};
use crate::json::json_response;
use crate::validation::{ValidationErrors, ValidationItem};
use crate::{ApiError, AxumUsers, User, UserId};

/// Events a page holds at most.
const MAX_LIMIT: usize = 100;
/// Event types one query may name at most.
const MAX_TYPES: usize = 32;
/// The longest user agent and request id kept.
const MAX_AGENT_CHARS: usize = 256;
const MAX_REQUEST_ID_CHARS: usize = 128;

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl AxumUsers {
    /// Records a security event of `user` (done by `actor` when that is someone else), with
    /// the request's client address, agent and id; also a log line. A failure to record is
    /// logged and does not fail the request whose outcome it records.
    pub(crate) async fn record(
        &self,
        kind: &'static str,
        user: Option<UserId>,
        actor: Option<UserId>,
        parts: &Parts,
        detail: Value,
    ) {
        let header = |name: &str, max: usize| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| clip(v, max))
        };
        let event = AuditEvent {
            id: event_id(),
            at: now_ms(),
            kind: kind.to_owned(),
            user_id: user,
            actor_id: actor.filter(|a| Some(*a) != user),
            ip: self.limits().client_ip(parts).map(|ip| ip.to_string()),
            user_agent: header(header::USER_AGENT.as_str(), MAX_AGENT_CHARS),
            request_id: header("x-request-id", MAX_REQUEST_ID_CHARS),
            detail,
        };
        tracing::info!(
            target: "axum_users::audit",
            event_type = kind,
            user_id = event.user_id.map(|id| id.to_string()),
            actor_id = event.actor_id.map(|id| id.to_string()),
            ip = event.ip.as_deref(),
            request_id = event.request_id.as_deref(),
            detail = %event.detail,
            "audit event"
        );
        let Some(audit) = self.audit() else {
            return;
        };
        if let Err(error) = audit.store.record_event(&event).await {
            tracing::warn!(%error, event_type = kind, "cannot record an audit event");
        }
        #[cfg(feature = "webhooks")]
        self.queue_webhooks(&event, &event_json(&event)).await;
    }

    /// [`Self::record`] of the user's own doing.
    pub(crate) async fn record_user(
        &self,
        kind: &'static str,
        user: &User,
        parts: &Parts,
        detail: Value,
    ) {
        self.record(kind, Some(user.id), None, parts, detail).await;
    }

    /// Deletes the events older than the retention
    /// ([`AuditSettings::retention`](crate::AuditSettings::retention)); how many. Call it now
    /// and then (the server does, hourly).
    pub async fn purge_events(&self) -> Result<u64, ApiError> {
        let Some(audit) = self.audit() else {
            return Ok(0);
        };
        let keep = i64::try_from(audit.settings.retention.as_millis()).unwrap_or(i64::MAX);
        Ok(audit
            .store
            .delete_events_before(now_ms().saturating_sub(keep))
            .await?)
    }

    /// A superuser's `GET /events` (mount at the root), when
    /// [`AxumUsersBuilder::audit`](crate::AxumUsersBuilder::audit) configured the trail; the
    /// users' own are in [`Self::users_router`].
    pub fn events_router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.mount("", self.events_endpoints())
    }

    /// `GET /users/me/events`, and for superusers `GET /users/{id}/events`.
    pub(crate) fn user_events_endpoints(&self) -> Vec<Endpoint> {
        if self.audit().is_none() {
            return Vec::new();
        }
        vec![
            Endpoint::at("/users/me/events").get(own_events, |doc| doc.my_events()),
            Endpoint::at("/users/{id}/events").get(user_events, |doc| doc.user_events()),
        ]
    }

    /// A superuser's `GET /events`.
    pub(crate) fn events_endpoints(&self) -> Vec<Endpoint> {
        if self.audit().is_none() {
            return Vec::new();
        }
        vec![Endpoint::at("/events").get(all_events, |doc| doc.all_events())]
    }
}

/// Now, as events show times.
#[cfg(feature = "webhooks")]
pub(crate) fn now_rfc3339() -> Value {
    timestamp(now_ms())
}

/// Unix milliseconds as RFC 3339 with milliseconds (`2026-12-02T05:00:00.123Z`).
fn timestamp(ms: i64) -> Value {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return Value::Null;
    };
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.format(&format).map_or(Value::Null, Value::from)
}

fn event_json(event: &AuditEvent) -> Value {
    json!({
        "id": event.id,
        "type": event.kind,
        "at": timestamp(event.at),
        "user_id": event.user_id,
        "actor_id": event.actor_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "detail": event.detail,
    })
}

/// A cursor names the last event of a page: its time and id.
fn cursor(event: &AuditEvent) -> String {
    format!("{}.{}", event.at, event.id)
}

/// The query string: `type` (repeated or comma-separated), `since` and `until` (RFC 3339),
/// `limit` (1 to 100, default 50), `cursor` (the previous page's `next_cursor`).
fn read_query(raw: &str) -> Result<EventQuery, ApiError> {
    let mut errors = ValidationErrors::default();
    let mut query = EventQuery {
        limit: 50,
        ..EventQuery::default()
    };
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        let item = |kind: &'static str, msg: String| ValidationItem {
            kind,
            loc: vec![Value::from("query"), Value::from(name.as_ref())],
            msg,
            input: Value::from(value.as_ref()),
            ctx: None,
        };
        match name.as_ref() {
            "type" => {
                for kind in value.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                    if !EVENT_TYPES.contains(&kind) {
                        errors.push(item(
                            "enum",
                            format!("Input should be one of the event types, not {kind:?}"),
                        ));
                    } else if query.kinds.len() < MAX_TYPES
                        && !query.kinds.iter().any(|k| k == kind)
                    {
                        query.kinds.push(kind.to_owned());
                    }
                }
            }
            "since" | "until" => {
                match time::OffsetDateTime::parse(
                    value.trim(),
                    &time::format_description::well_known::Rfc3339,
                ) {
                    Ok(at) => {
                        let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
                            .unwrap_or(i64::MAX);
                        if name == "since" {
                            query.since = Some(ms);
                        } else {
                            query.until = Some(ms);
                        }
                    }
                    Err(_) => errors.push(item(
                        "datetime_from_date_parsing",
                        "Input should be a valid datetime (RFC 3339)".into(),
                    )),
                }
            }
            "limit" => match value.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => query.limit = n,
                _ => errors.push(
                    item(
                        "less_than_equal",
                        format!("Input should be an integer from 1 to {MAX_LIMIT}"),
                    )
                    .with_ctx(json!({"ge": 1, "le": MAX_LIMIT})),
                ),
            },
            // Empty: the first page.
            "cursor" if value.is_empty() => {}
            "cursor" => {
                let parsed = value.split_once('.').and_then(|(at, id)| {
                    let at = at.parse::<i64>().ok()?;
                    (!id.is_empty() && id.len() <= 64).then(|| (at, id.to_owned()))
                });
                match parsed {
                    Some(before) => query.before = Some(before),
                    None => errors.push(item(
                        "value_error",
                        "Value error, not a cursor this API gave".into(),
                    )),
                }
            }
            _ => {}
        }
    }
    errors.into_result()?;
    Ok(query)
}

async fn page(users: &AxumUsers, query: EventQuery) -> Result<Response, ApiError> {
    let audit = users
        .audit()
        .ok_or_else(|| ApiError::Internal("the audit trail vanished".into()))?;
    let limit = query.limit;
    let events = audit.store.events(&query).await?;
    let next = (events.len() == limit)
        .then(|| events.last().map(cursor))
        .flatten();
    let items: Vec<Value> = events.iter().map(event_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"items": items, "next_cursor": next}),
    ))
}

async fn own_events(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = users.caller(&parts, false).await?;
    let mut query = read_query(parts.uri.query().unwrap_or(""))?;
    query.user_id = Some(user.id);
    page(&users, query).await
}

async fn user_events(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    users.caller(&parts, true).await?;
    let mut query = read_query(parts.uri.query().unwrap_or(""))?;
    // A deleted user's events stay: the id is read, not looked up.
    let id = path
        .ok()
        .and_then(|Path(id)| users.manager().parse_id(&id))
        .ok_or(ApiError::NOT_FOUND)?;
    query.user_id = Some(id);
    page(&users, query).await
}

async fn all_events(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    users.caller(&parts, true).await?;
    let query = read_query(parts.uri.query().unwrap_or(""))?;
    page(&users, query).await
}
