//! [`PasskeyStore`](crate::PasskeyStore) for the SQL stores: the `auth_passkey` and
//! `auth_passkey_ceremony` tables. As for sessions and second factors, the statements are the
//! same text on SQLite and PostgreSQL, so one macro writes both implementations.

/// Microseconds since the Unix epoch: orders rows written within one second.
pub(crate) fn micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

macro_rules! passkey_store {
    ($store:ty, $row:ty, $map_err:path) => {
        impl $store {
            fn read_passkey(&self, row: &$row) -> Result<crate::PasskeyRecord, crate::StoreError> {
                use sqlx::Row as _;
                let bad = |e: sqlx::Error| {
                    crate::StoreError::Other(format!("unreadable auth_passkey row: {e}"))
                };
                let user_id: String = row.try_get(1).map_err(bad)?;
                Ok(crate::PasskeyRecord {
                    id: row.try_get(0).map_err(bad)?,
                    user_id: super::read_id(self.ids, &user_id)?,
                    credential_id: row.try_get(2).map_err(bad)?,
                    name: row.try_get(3).map_err(bad)?,
                    passkey: row.try_get(4).map_err(bad)?,
                    created_at: row.try_get(5).map_err(bad)?,
                    last_used_at: row.try_get(6).map_err(bad)?,
                })
            }
        }

        impl crate::PasskeyStore for $store {
            async fn add_passkey(
                &self,
                record: &crate::PasskeyRecord,
                max_per_user: usize,
            ) -> Result<crate::AddPasskey, crate::StoreError> {
                let max = i64::try_from(max_per_user).unwrap_or(i64::MAX);
                // One statement: the bound is read where the row is written, and the unique
                // credential id turns a second registration of one key into no row.
                let done = sqlx::query(
                    "INSERT INTO auth_passkey (id, user_id, credential_id, name, passkey, \
                     created_at, created_us) SELECT $1, $2, $3, $4, $5, $6, $7 \
                     WHERE (SELECT COUNT(*) FROM auth_passkey WHERE user_id = $2) < $8 \
                     ON CONFLICT (credential_id) DO NOTHING",
                )
                .bind(&record.id)
                .bind(record.user_id.to_string())
                .bind(&record.credential_id)
                .bind(&record.name)
                .bind(&record.passkey)
                .bind(record.created_at)
                .bind(super::passkeys_sql::micros())
                .bind(max)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                if done.rows_affected() == 1 {
                    return Ok(crate::AddPasskey::Added);
                }
                let taken: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM auth_passkey WHERE credential_id = $1")
                        .bind(&record.credential_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($map_err)?;
                Ok(if taken.is_some() {
                    crate::AddPasskey::Duplicate
                } else {
                    crate::AddPasskey::TooMany
                })
            }

            async fn list_passkeys(
                &self,
                user_id: crate::UserId,
            ) -> Result<Vec<crate::PasskeyRecord>, crate::StoreError> {
                let rows = sqlx::query(
                    "SELECT id, user_id, credential_id, name, passkey, created_at, last_used_at \
                     FROM auth_passkey WHERE user_id = $1 ORDER BY created_us",
                )
                .bind(user_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($map_err)?;
                rows.iter().map(|row| self.read_passkey(row)).collect()
            }

            async fn passkey_by_credential(
                &self,
                credential_id: &str,
            ) -> Result<Option<crate::PasskeyRecord>, crate::StoreError> {
                let row = sqlx::query(
                    "SELECT id, user_id, credential_id, name, passkey, created_at, last_used_at \
                     FROM auth_passkey WHERE credential_id = $1",
                )
                .bind(credential_id)
                .fetch_optional(&self.pool)
                .await
                .map_err($map_err)?;
                row.map(|row| self.read_passkey(&row)).transpose()
            }

            async fn rename_passkey(
                &self,
                user_id: crate::UserId,
                id: &str,
                name: &str,
            ) -> Result<bool, crate::StoreError> {
                let done =
                    sqlx::query("UPDATE auth_passkey SET name = $3 WHERE user_id = $1 AND id = $2")
                        .bind(user_id.to_string())
                        .bind(id)
                        .bind(name)
                        .execute(&self.pool)
                        .await
                        .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_passkey(
                &self,
                user_id: crate::UserId,
                id: &str,
            ) -> Result<bool, crate::StoreError> {
                let done = sqlx::query("DELETE FROM auth_passkey WHERE user_id = $1 AND id = $2")
                    .bind(user_id.to_string())
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_user_passkeys(
                &self,
                user_id: crate::UserId,
            ) -> Result<(), crate::StoreError> {
                let mut tx = self.pool.begin().await.map_err($map_err)?;
                for sql in [
                    "DELETE FROM auth_passkey WHERE user_id = $1",
                    "DELETE FROM auth_passkey_ceremony WHERE user_id = $1",
                ] {
                    sqlx::query(sql)
                        .bind(user_id.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                }
                tx.commit().await.map_err($map_err)?;
                Ok(())
            }

            async fn passkey_used(
                &self,
                id: &str,
                passkey: &str,
                at: i64,
            ) -> Result<(), crate::StoreError> {
                sqlx::query(
                    "UPDATE auth_passkey SET passkey = $2, last_used_at = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(passkey)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn create_ceremony(
                &self,
                ceremony: &crate::PasskeyCeremony,
                per_user: usize,
                max_pending: usize,
                now: i64,
            ) -> Result<bool, crate::StoreError> {
                let kind = ceremony.kind.as_str();
                // Orders one user's registrations, several of which may begin in one second.
                let created_us = super::passkeys_sql::micros();
                sqlx::query(
                    "DELETE FROM auth_passkey_ceremony WHERE kind = $1 AND expires_at <= $2",
                )
                .bind(kind)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                let Some(user_id) = ceremony.user_id else {
                    // A sign-in: stored only while fewer than the bound wait.
                    let max = i64::try_from(max_pending).unwrap_or(i64::MAX);
                    let done = sqlx::query(
                        "INSERT INTO auth_passkey_ceremony (id, kind, state, expires_at, \
                         created_us) SELECT $1, $2, $3, $4, $5 WHERE (SELECT COUNT(*) FROM \
                         auth_passkey_ceremony WHERE kind = $2) < $6",
                    )
                    .bind(&ceremony.id)
                    .bind(kind)
                    .bind(&ceremony.state)
                    .bind(ceremony.expires_at)
                    .bind(created_us)
                    .bind(max)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)?;
                    return Ok(done.rows_affected() == 1);
                };
                let mut tx = self.pool.begin().await.map_err($map_err)?;
                sqlx::query(
                    "INSERT INTO auth_passkey_ceremony (id, kind, user_id, state, expires_at, \
                     created_us) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&ceremony.id)
                .bind(kind)
                .bind(user_id.to_string())
                .bind(&ceremony.state)
                .bind(ceremony.expires_at)
                .bind(created_us)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
                // The user's newest `per_user` stay.
                sqlx::query(
                    "DELETE FROM auth_passkey_ceremony WHERE user_id = $1 AND id NOT IN \
                     (SELECT id FROM auth_passkey_ceremony WHERE user_id = $1 \
                     ORDER BY created_us DESC LIMIT $2)",
                )
                .bind(user_id.to_string())
                .bind(i64::try_from(per_user).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
                tx.commit().await.map_err($map_err)?;
                Ok(true)
            }

            async fn take_ceremony(
                &self,
                id: &str,
            ) -> Result<Option<crate::PasskeyCeremony>, crate::StoreError> {
                let row: Option<(String, Option<String>, String, i64)> = sqlx::query_as(
                    "DELETE FROM auth_passkey_ceremony WHERE id = $1 \
                     RETURNING kind, user_id, state, expires_at",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($map_err)?;
                let Some((kind, user_id, state, expires_at)) = row else {
                    return Ok(None);
                };
                let kind = crate::passkey::CeremonyKind::parse(&kind).ok_or_else(|| {
                    crate::StoreError::Other(format!("unknown ceremony kind {kind:?}"))
                })?;
                Ok(Some(crate::PasskeyCeremony {
                    id: id.to_owned(),
                    kind,
                    user_id: user_id
                        .map(|text| super::read_id(self.ids, &text))
                        .transpose()?,
                    state,
                    expires_at,
                }))
            }

            async fn delete_expired_ceremonies(&self, now: i64) -> Result<u64, crate::StoreError> {
                let done = sqlx::query("DELETE FROM auth_passkey_ceremony WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use passkey_store;
