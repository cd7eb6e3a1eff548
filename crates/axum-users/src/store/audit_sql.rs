//! [`AuditStore`](crate::AuditStore) for the SQL stores: the `auth_event` table. The statements
//! are the same text on SQLite and PostgreSQL, so one macro writes both implementations.

/// A value bound to the event query.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// The `WHERE ... ORDER BY ... LIMIT` of an event query, `$n` placeholders numbered in order
/// (as SQLite numbers them too), and what they bind.
pub(crate) fn event_filter(query: &crate::EventQuery) -> (String, Vec<Bind>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut binds = Vec::new();
    let next = |bind: Bind, binds: &mut Vec<Bind>| {
        binds.push(bind);
        format!("${}", binds.len())
    };
    if let Some(user) = query.user_id {
        let p = next(Bind::Text(user.to_string()), &mut binds);
        clauses.push(format!("user_id = {p}"));
    }
    if !query.kinds.is_empty() {
        let list: Vec<String> = query
            .kinds
            .iter()
            .map(|kind| next(Bind::Text(kind.clone()), &mut binds))
            .collect();
        clauses.push(format!("event_type IN ({})", list.join(", ")));
    }
    if let Some(since) = query.since {
        let p = next(Bind::Int(since), &mut binds);
        clauses.push(format!("at >= {p}"));
    }
    if let Some(until) = query.until {
        let p = next(Bind::Int(until), &mut binds);
        clauses.push(format!("at < {p}"));
    }
    if let Some((at, id)) = &query.before {
        let a = next(Bind::Int(*at), &mut binds);
        let b = next(Bind::Int(*at), &mut binds);
        let i = next(Bind::Text(id.clone()), &mut binds);
        clauses.push(format!("(at < {a} OR (at = {b} AND id < {i}))"));
    }
    let limit = next(
        Bind::Int(i64::try_from(query.limit).unwrap_or(i64::MAX)),
        &mut binds,
    );
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (
        format!("{filter} ORDER BY at DESC, id DESC LIMIT {limit}"),
        binds,
    )
}

macro_rules! audit_store {
    ($store:ty, $map_err:path) => {
        impl crate::AuditStore for $store {
            async fn record_event(&self, event: &crate::AuditEvent) -> Result<(), crate::StoreError> {
                sqlx::query(
                    "INSERT INTO auth_event (id, at, event_type, user_id, actor_id, ip, \
                     user_agent, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&event.id)
                .bind(event.at)
                .bind(&event.kind)
                .bind(event.user_id.map(|id| id.to_string()))
                .bind(event.actor_id.map(|id| id.to_string()))
                .bind(&event.ip)
                .bind(&event.user_agent)
                .bind(&event.request_id)
                .bind(event.detail.to_string())
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn events(
                &self,
                query: &crate::EventQuery,
            ) -> Result<Vec<crate::AuditEvent>, crate::StoreError> {
                use super::audit_sql::Bind;
                use sqlx::Row as _;
                let (filter, binds) = super::audit_sql::event_filter(query);
                let sql = format!(
                    "SELECT id, at, event_type, user_id, actor_id, ip, user_agent, request_id, \
                     detail FROM auth_event {filter}"
                );
                // Built from fixed fragments: every value is a bound parameter.
                let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
                for bind in binds {
                    statement = match bind {
                        Bind::Text(text) => statement.bind(text),
                        Bind::Int(number) => statement.bind(number),
                    };
                }
                let rows = statement.fetch_all(&self.pool).await.map_err($map_err)?;
                let bad = |e: sqlx::Error| {
                    crate::StoreError::Other(format!("unreadable auth_event row: {e}"))
                };
                let id = |text: Option<String>| {
                    text.map(|t| super::read_id(self.ids, &t)).transpose()
                };
                rows.iter()
                    .map(|row| {
                        let detail: String = row.try_get(8).map_err(bad)?;
                        Ok(crate::AuditEvent {
                            id: row.try_get(0).map_err(bad)?,
                            at: row.try_get(1).map_err(bad)?,
                            kind: row.try_get(2).map_err(bad)?,
                            user_id: id(row.try_get(3).map_err(bad)?)?,
                            actor_id: id(row.try_get(4).map_err(bad)?)?,
                            ip: row.try_get(5).map_err(bad)?,
                            user_agent: row.try_get(6).map_err(bad)?,
                            request_id: row.try_get(7).map_err(bad)?,
                            detail: serde_json::from_str(&detail)
                                .unwrap_or(serde_json::Value::Null),
                        })
                    })
                    .collect()
            }

            async fn delete_events_before(&self, at: i64) -> Result<u64, crate::StoreError> {
                let done = sqlx::query("DELETE FROM auth_event WHERE at < $1")
                    .bind(at)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use audit_store;
