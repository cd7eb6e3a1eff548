//! [`WebhookStore`](crate::WebhookStore) for the SQL stores: the `auth_webhook_delivery` table,
//! the same statements on SQLite and PostgreSQL.

macro_rules! webhook_store {
    ($store:ty, $map_err:path) => {
        impl crate::WebhookStore for $store {
            async fn enqueue(
                &self,
                deliveries: &[crate::Delivery],
                now_ms: i64,
            ) -> Result<(), crate::StoreError> {
                let mut tx = self.pool.begin().await.map_err($map_err)?;
                for delivery in deliveries {
                    sqlx::query(
                        "INSERT INTO auth_webhook_delivery (id, endpoint, user_id, payload, \
                         attempts, next_attempt_at, locked_until, created_at, delivered_at, \
                         gave_up, last_error) VALUES ($1, $2, $3, $4, 0, $5, 0, $5, NULL, FALSE, \
                         NULL) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(&delivery.id)
                    .bind(delivery.endpoint)
                    .bind(&delivery.user_id)
                    .bind(&delivery.payload)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                }
                tx.commit().await.map_err($map_err)?;
                Ok(())
            }

            async fn claim_due(
                &self,
                now_ms: i64,
                lease_until: i64,
                limit: usize,
            ) -> Result<Vec<crate::Delivery>, crate::StoreError> {
                // The oldest pending delivery of each user and endpoint, if it is due and free;
                // events without a user have no order to keep.
                let rows: Vec<(String, i64, Option<String>, String, i64)> = sqlx::query_as(
                    "SELECT id, endpoint, user_id, payload, attempts FROM auth_webhook_delivery d \
                     WHERE delivered_at IS NULL AND gave_up = FALSE AND next_attempt_at <= $1 \
                     AND locked_until <= $1 AND NOT EXISTS (SELECT 1 FROM auth_webhook_delivery e \
                     WHERE e.endpoint = d.endpoint AND e.user_id = d.user_id \
                     AND e.delivered_at IS NULL AND e.gave_up = FALSE AND e.id < d.id) \
                     ORDER BY id LIMIT $2",
                )
                .bind(now_ms)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err($map_err)?;
                let mut claimed = Vec::with_capacity(rows.len());
                for (id, endpoint, user_id, payload, attempts) in rows {
                    // Another instance may have claimed it since the read: one of us wins.
                    let done = sqlx::query(
                        "UPDATE auth_webhook_delivery SET locked_until = $2 \
                         WHERE id = $1 AND locked_until <= $3 AND delivered_at IS NULL",
                    )
                    .bind(&id)
                    .bind(lease_until)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)?;
                    if done.rows_affected() == 1 {
                        claimed.push(crate::Delivery {
                            id,
                            endpoint,
                            user_id,
                            payload,
                            attempts,
                        });
                    }
                }
                Ok(claimed)
            }

            async fn delivered(&self, id: &str, now_ms: i64) -> Result<(), crate::StoreError> {
                sqlx::query(
                    "UPDATE auth_webhook_delivery SET delivered_at = $2, locked_until = 0, \
                     attempts = attempts + 1 WHERE id = $1",
                )
                .bind(id)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn failed(
                &self,
                id: &str,
                retry_at: Option<i64>,
                error: &str,
            ) -> Result<(), crate::StoreError> {
                let error: String = error.chars().take(500).collect();
                sqlx::query(
                    "UPDATE auth_webhook_delivery SET attempts = attempts + 1, locked_until = 0, \
                     next_attempt_at = $2, gave_up = $3, last_error = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(retry_at.unwrap_or(i64::MAX))
                .bind(retry_at.is_none())
                .bind(error)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn pending_deliveries(&self) -> Result<u64, crate::StoreError> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM auth_webhook_delivery \
                     WHERE delivered_at IS NULL AND gave_up = FALSE",
                )
                .fetch_one(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn delete_finished_deliveries(
                &self,
                before: i64,
            ) -> Result<u64, crate::StoreError> {
                let done = sqlx::query(
                    "DELETE FROM auth_webhook_delivery WHERE created_at < $1 \
                     AND (delivered_at IS NOT NULL OR gave_up = TRUE)",
                )
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use webhook_store;
