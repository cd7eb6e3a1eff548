//! The admin commands that work while the server runs.

use crate::build::build;
use crate::config::Config;
pub async fn create_superuser(
    config: Config,
    email: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let email = axum_users::normalize_email(email)
        .map_err(|reason| anyhow::anyhow!("invalid e-mail address: {reason}"))?;
    let users = build(&config).await?;
    let manager = users.manager();
    if let Some(user) = manager
        .get_by_email(&email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        let stored = user.email.clone();
        let update = axum_users::UserUpdate {
            fields: vec![axum_users::UpdateField::Flag("is_superuser", Some(true))],
            raw: serde_json::json!({"is_superuser": true})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            safe: false,
        };
        manager
            .update(user, update, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("{stored} is now a superuser");
        return Ok(());
    }
    let password = crate::read_password(password)?;
    let flags = serde_json::json!({"is_active": true, "is_superuser": true, "is_verified": true});
    let input = axum_users::UserCreate {
        email: email.clone(),
        password,
        flags: flags.as_object().cloned().unwrap_or_default(),
        fields: serde_json::Map::new(),
    };
    let user = manager
        .create(input, false, None)
        .await
        .map_err(|e| match e {
            axum_users::ManagerError::InvalidPassword(reason) => {
                anyhow::anyhow!("password refused: {reason}")
            }
            other => anyhow::anyhow!("{other}"),
        })?;
    println!("created superuser {} ({})", user.email, user.id);
    Ok(())
}
