//! [`SessionStore`](crate::SessionStore) for the SQL stores: the `auth_session` table, one
//! statement per method. The statements are the same text on SQLite and PostgreSQL (`$n`
//! parameters, which SQLite numbers in order too), so one macro writes both implementations.

macro_rules! session_store {
    ($store:ty, $row:ty, $map_err:path) => {
        impl $store {
            fn read_session(&self, row: &$row) -> Result<crate::Session, crate::StoreError> {
                use sqlx::Row as _;
                let bad = |e: sqlx::Error| {
                    crate::StoreError::Other(format!("unreadable auth_session row: {e}"))
                };
                let user_id: String = row.try_get(1).map_err(bad)?;
                Ok(crate::Session {
                    id: row.try_get(0).map_err(bad)?,
                    user_id: super::read_id(self.ids, &user_id)?,
                    backend: row.try_get(2).map_err(bad)?,
                    method: row.try_get(3).map_err(bad)?,
                    created_at: row.try_get(4).map_err(bad)?,
                    last_used_at: row.try_get(5).map_err(bad)?,
                    expires_at: row.try_get(6).map_err(bad)?,
                    ip: row.try_get(7).map_err(bad)?,
                    user_agent: row.try_get(8).map_err(bad)?,
                    refresh: row.try_get(9).map_err(bad)?,
                    generation: row.try_get(10).map_err(bad)?,
                    rotated_at: row.try_get(11).map_err(bad)?,
                    access_token: row.try_get(12).map_err(bad)?,
                    access_key: row.try_get(13).map_err(bad)?,
                    secret: row.try_get(14).map_err(bad)?,
                })
            }

            async fn sessions_where(
                &self,
                sql: &'static str,
                binds: &[&str],
            ) -> Result<Vec<crate::Session>, crate::StoreError> {
                let mut query = sqlx::query(sql);
                for value in binds {
                    query = query.bind(*value);
                }
                let rows = query.fetch_all(&self.pool).await.map_err($map_err)?;
                rows.iter().map(|row| self.read_session(row)).collect()
            }
        }

        impl crate::SessionStore for $store {
            async fn create_session(
                &self,
                session: &crate::Session,
            ) -> Result<(), crate::StoreError> {
                sqlx::query(
                    "INSERT INTO auth_session (id, user_id, backend, method, created_at, \
                     last_used_at, expires_at, ip, user_agent, refresh, generation, rotated_at, \
                     access_token, access_key, secret) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                )
                .bind(&session.id)
                .bind(session.user_id.to_string())
                .bind(&session.backend)
                .bind(&session.method)
                .bind(session.created_at)
                .bind(session.last_used_at)
                .bind(session.expires_at)
                .bind(&session.ip)
                .bind(&session.user_agent)
                .bind(session.refresh)
                .bind(session.generation)
                .bind(session.rotated_at)
                .bind(&session.access_token)
                .bind(&session.access_key)
                .bind(&session.secret)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn get_session(
                &self,
                id: &str,
            ) -> Result<Option<crate::Session>, crate::StoreError> {
                let found = self
                    .sessions_where(
                        "SELECT id, user_id, backend, method, created_at, last_used_at, \
                         expires_at, ip, user_agent, refresh, generation, rotated_at, \
                         access_token, access_key, secret FROM auth_session WHERE id = $1",
                        &[id],
                    )
                    .await?;
                Ok(found.into_iter().next())
            }

            async fn session_by_access_key(
                &self,
                access_key: &str,
            ) -> Result<Option<crate::Session>, crate::StoreError> {
                let found = self
                    .sessions_where(
                        "SELECT id, user_id, backend, method, created_at, last_used_at, \
                         expires_at, ip, user_agent, refresh, generation, rotated_at, \
                         access_token, access_key, secret FROM auth_session \
                         WHERE access_key = $1 LIMIT 1",
                        &[access_key],
                    )
                    .await?;
                Ok(found.into_iter().next())
            }

            async fn user_sessions(
                &self,
                user_id: crate::UserId,
            ) -> Result<Vec<crate::Session>, crate::StoreError> {
                let rows = sqlx::query(
                    "SELECT id, user_id, backend, method, created_at, last_used_at, \
                     expires_at, ip, user_agent, refresh, generation, rotated_at, \
                     access_token, access_key, secret FROM auth_session WHERE user_id = $1 \
                     ORDER BY last_used_at DESC, created_at DESC, id LIMIT $2",
                )
                .bind(user_id.to_string())
                .bind(crate::session::MAX_LISTED)
                .fetch_all(&self.pool)
                .await
                .map_err($map_err)?;
                rows.iter().map(|row| self.read_session(row)).collect()
            }

            async fn rotate_session(
                &self,
                rotated: &crate::Session,
                expected: i64,
            ) -> Result<bool, crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE auth_session SET generation = $1, rotated_at = $2, \
                     last_used_at = $3, expires_at = $4, access_token = $5, access_key = $6, \
                     ip = $7, user_agent = $8 WHERE id = $9 AND generation = $10",
                )
                .bind(rotated.generation)
                .bind(rotated.rotated_at)
                .bind(rotated.last_used_at)
                .bind(rotated.expires_at)
                .bind(&rotated.access_token)
                .bind(&rotated.access_key)
                .bind(&rotated.ip)
                .bind(&rotated.user_agent)
                .bind(&rotated.id)
                .bind(expected)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_session(
                &self,
                id: &str,
            ) -> Result<Option<crate::Session>, crate::StoreError> {
                let found = self
                    .sessions_where(
                        "DELETE FROM auth_session WHERE id = $1 RETURNING id, user_id, \
                         backend, method, created_at, last_used_at, expires_at, ip, user_agent, \
                         refresh, generation, rotated_at, access_token, access_key, secret",
                        &[id],
                    )
                    .await?;
                Ok(found.into_iter().next())
            }

            async fn delete_user_sessions(
                &self,
                user_id: crate::UserId,
                keep: Option<&str>,
            ) -> Result<Vec<crate::Session>, crate::StoreError> {
                let user_id = user_id.to_string();
                self.sessions_where(
                    "DELETE FROM auth_session WHERE user_id = $1 AND id <> $2 RETURNING id, \
                     user_id, backend, method, created_at, last_used_at, expires_at, ip, \
                     user_agent, refresh, generation, rotated_at, access_token, access_key, \
                     secret",
                    // No session has an empty id.
                    &[&user_id, keep.unwrap_or("")],
                )
                .await
            }

            async fn delete_expired_sessions(&self, now: i64) -> Result<u64, crate::StoreError> {
                let done = sqlx::query("DELETE FROM auth_session WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use session_store;
