//! [`EmailChangeStore`](crate::EmailChangeStore) for the SQL stores: the `auth_email_change`
//! table, the same statements on SQLite and PostgreSQL.

macro_rules! email_change_store {
    ($store:ty, $map_err:path) => {
        impl crate::EmailChangeStore for $store {
            async fn set_pending_email(
                &self,
                user_id: crate::UserId,
                email: &str,
                at: i64,
            ) -> Result<(), crate::StoreError> {
                sqlx::query(
                    "INSERT INTO auth_email_change (user_id, email, requested_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE \
                     SET email = excluded.email, requested_at = excluded.requested_at",
                )
                .bind(user_id.to_string())
                .bind(email)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn pending_email(
                &self,
                user_id: crate::UserId,
                since: i64,
            ) -> Result<Option<String>, crate::StoreError> {
                let row: Option<(String,)> = sqlx::query_as(
                    "SELECT email FROM auth_email_change WHERE user_id = $1 AND requested_at >= $2",
                )
                .bind(user_id.to_string())
                .bind(since)
                .fetch_optional(&self.pool)
                .await
                .map_err($map_err)?;
                Ok(row.map(|(email,)| email))
            }

            async fn take_pending_email(
                &self,
                user_id: crate::UserId,
                email: &str,
            ) -> Result<bool, crate::StoreError> {
                let done =
                    sqlx::query("DELETE FROM auth_email_change WHERE user_id = $1 AND email = $2")
                        .bind(user_id.to_string())
                        .bind(email)
                        .execute(&self.pool)
                        .await
                        .map_err($map_err)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use email_change_store;
