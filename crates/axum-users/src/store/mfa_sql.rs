//! [`MfaStore`](crate::MfaStore) for the SQL stores: the `auth_mfa`, `auth_recovery_code` and
//! `auth_mfa_challenge` tables. As for sessions, the statements are the same text on SQLite and
//! PostgreSQL, so one macro writes both implementations.

macro_rules! mfa_store {
    ($store:ty, $map_err:path) => {
        impl crate::MfaStore for $store {
            async fn get_mfa(
                &self,
                user_id: crate::UserId,
            ) -> Result<Option<crate::MfaRecord>, crate::StoreError> {
                let row: Option<(String, bool, i64, i64)> = sqlx::query_as(
                    "SELECT secret, enabled, last_step, created_at FROM auth_mfa \
                     WHERE user_id = $1",
                )
                .bind(user_id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(row.map(
                    |(secret, enabled, last_step, created_at)| crate::MfaRecord {
                        user_id,
                        secret,
                        enabled,
                        last_step,
                        created_at,
                    },
                ))
            }

            async fn set_up_mfa(
                &self,
                record: &crate::MfaRecord,
            ) -> Result<bool, crate::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO auth_mfa (user_id, secret, enabled, last_step, created_at) \
                     VALUES ($1, $2, FALSE, 0, $3) ON CONFLICT (user_id) DO UPDATE \
                     SET secret = excluded.secret, last_step = 0, \
                     created_at = excluded.created_at WHERE auth_mfa.enabled = FALSE",
                )
                .bind(record.user_id.to_string())
                .bind(&record.secret)
                .bind(record.created_at)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn enable_mfa(
                &self,
                user_id: crate::UserId,
                secret: &str,
                step: i64,
            ) -> Result<bool, crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE auth_mfa SET enabled = TRUE, last_step = $3 \
                     WHERE user_id = $1 AND secret = $2 AND enabled = FALSE",
                )
                .bind(user_id.to_string())
                .bind(secret)
                .bind(step)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn spend_step(
                &self,
                user_id: crate::UserId,
                step: i64,
            ) -> Result<bool, crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE auth_mfa SET last_step = $2 \
                     WHERE user_id = $1 AND enabled = TRUE AND last_step < $2",
                )
                .bind(user_id.to_string())
                .bind(step)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_mfa(&self, user_id: crate::UserId) -> Result<bool, crate::StoreError> {
                let mut tx = self.pool.begin().await.map_err($map_err)?;
                let done = sqlx::query("DELETE FROM auth_mfa WHERE user_id = $1")
                    .bind(user_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                sqlx::query("DELETE FROM auth_recovery_code WHERE user_id = $1")
                    .bind(user_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                tx.commit().await.map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_recovery_codes(
                &self,
                user_id: crate::UserId,
                digests: &[String],
            ) -> Result<(), crate::StoreError> {
                let mut tx = self.pool.begin().await.map_err($map_err)?;
                sqlx::query("DELETE FROM auth_recovery_code WHERE user_id = $1")
                    .bind(user_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                for digest in digests {
                    sqlx::query(
                        "INSERT INTO auth_recovery_code (user_id, code_hash) VALUES ($1, $2)",
                    )
                    .bind(user_id.to_string())
                    .bind(digest)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                }
                tx.commit().await.map_err($map_err)
            }

            async fn spend_recovery_code(
                &self,
                user_id: crate::UserId,
                digest: &str,
            ) -> Result<bool, crate::StoreError> {
                let done = sqlx::query(
                    "DELETE FROM auth_recovery_code WHERE user_id = $1 AND code_hash = $2",
                )
                .bind(user_id.to_string())
                .bind(digest)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn recovery_codes_left(
                &self,
                user_id: crate::UserId,
            ) -> Result<u64, crate::StoreError> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM auth_recovery_code WHERE user_id = $1",
                )
                .bind(user_id.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn create_challenge(
                &self,
                challenge: &crate::MfaChallenge,
                keep: usize,
            ) -> Result<(), crate::StoreError> {
                let user_id = challenge.user_id.to_string();
                sqlx::query(
                    "INSERT INTO auth_mfa_challenge (id, user_id, backend, method, expires_at, \
                     attempts) VALUES ($1, $2, $3, $4, $5, 0)",
                )
                .bind(&challenge.id)
                .bind(&user_id)
                .bind(&challenge.backend)
                .bind(&challenge.method)
                .bind(challenge.expires_at)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                sqlx::query(
                    "DELETE FROM auth_mfa_challenge WHERE user_id = $1 AND id NOT IN \
                     (SELECT id FROM auth_mfa_challenge WHERE user_id = $1 \
                     ORDER BY expires_at DESC, id LIMIT $2)",
                )
                .bind(&user_id)
                .bind(i64::try_from(keep).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn get_challenge(
                &self,
                id: &str,
            ) -> Result<Option<crate::MfaChallenge>, crate::StoreError> {
                let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(
                    "SELECT user_id, backend, method, expires_at, attempts \
                     FROM auth_mfa_challenge WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($map_err)?;
                row.map(|(user_id, backend, method, expires_at, attempts)| {
                    Ok(crate::MfaChallenge {
                        id: id.to_owned(),
                        user_id: super::read_id(self.ids, &user_id)?,
                        backend,
                        method,
                        expires_at,
                        attempts,
                    })
                })
                .transpose()
            }

            async fn fail_challenge(&self, id: &str) -> Result<i64, crate::StoreError> {
                let attempts: Option<i64> = sqlx::query_scalar(
                    "UPDATE auth_mfa_challenge SET attempts = attempts + 1 WHERE id = $1 \
                     RETURNING attempts",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(attempts.unwrap_or(i64::MAX))
            }

            async fn delete_expired_challenges(&self, now: i64) -> Result<u64, crate::StoreError> {
                let done = sqlx::query("DELETE FROM auth_mfa_challenge WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)?;
                Ok(done.rows_affected())
            }

            async fn take_challenge(&self, id: &str) -> Result<bool, crate::StoreError> {
                let done = sqlx::query("DELETE FROM auth_mfa_challenge WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use mfa_store;
