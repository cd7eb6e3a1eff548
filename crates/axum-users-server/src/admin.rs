//! The admin commands that work while the server runs: a running server sees their writes at
//! once (SQLite: the file changes; PostgreSQL: the table's write notifications).

use anyhow::Context as _;
use axum_users::{AxumUsers, UpdateField, User, UserQuery, UserUpdate};
use serde_json::{json, Value};

use crate::build::build;
use crate::config::Config;

/// `axum-users users ...`.
#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// A page of users by e-mail, as `GET /users` answers it.
    List {
        /// Only e-mails containing this (any letter case).
        #[arg(long)]
        email: Option<String>,
        /// The page, from 1.
        #[arg(long, default_value_t = 1)]
        page: u64,
        /// Users per page.
        #[arg(long, default_value_t = 50)]
        size: u64,
    },
    /// One user (by e-mail or id).
    Show { user: String },
    /// Refuse the user's logins and end their database and Redis sessions.
    Deactivate { user: String },
    /// Let the user log in again.
    Activate { user: String },
    /// Delete the user, their tokens and OAuth links.
    Delete { user: String },
    /// Set the user's password (from --password, else AXUM_USERS_PASSWORD, else the terminal);
    /// their database and Redis sessions end.
    SetPassword {
        user: String,
        #[arg(long)]
        password: Option<String>,
    },
}

pub async fn users(config: Config, command: UsersCommand) -> anyhow::Result<()> {
    let users = build(&config).await?;
    match command {
        UsersCommand::List { email, page, size } => {
            let mut query = UserQuery::default().page(page.max(1), size.clamp(1, 1000));
            query.email_contains = email;
            let found = users
                .manager()
                .list(&query)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let items: Vec<Value> = found.users.iter().map(User::to_read).collect();
            print_json(
                &json!({"items": items, "total": found.total, "page": page.max(1),
                                "size": query.limit, "pages": found.total.div_ceil(query.limit)}),
            );
        }
        UsersCommand::Show { user } => print_json(&find(&users, &user).await?.to_read()),
        UsersCommand::Deactivate { user } => set_flag(&users, &user, false).await?,
        UsersCommand::Activate { user } => set_flag(&users, &user, true).await?,
        UsersCommand::Delete { user } => {
            let found = find(&users, &user).await?;
            users
                .manager()
                .delete(&found, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("deleted {}", found.email);
        }
        UsersCommand::SetPassword { user, password } => {
            let found = find(&users, &user).await?;
            let password = crate::read_password(password)?;
            let email = found.email.clone();
            let update = update(
                UpdateField::Password(password.clone()),
                json!({"password": password}),
            );
            users
                .manager()
                .update(found, update, None)
                .await
                .map_err(refusal)?;
            println!("password changed for {email}");
        }
    }
    users.wait_background().await;
    Ok(())
}

/// The user an argument names: an e-mail (it has an `@`) or an id.
async fn find(users: &AxumUsers, who: &str) -> anyhow::Result<User> {
    let manager = users.manager();
    let found = if who.contains('@') {
        manager.get_by_email(who).await
    } else {
        match manager.parse_id(who) {
            Some(id) => manager.get(id).await,
            None => Ok(None),
        }
    };
    found
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_context(|| format!("no user {who}"))
}

async fn set_flag(users: &AxumUsers, who: &str, active: bool) -> anyhow::Result<()> {
    let found = find(users, who).await?;
    let update = update(
        UpdateField::Flag("is_active", Some(active)),
        json!({"is_active": active}),
    );
    let user = users
        .manager()
        .update(found, update, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    print_json(&user.to_read());
    Ok(())
}

/// An admin's update of one field.
fn update(field: UpdateField, raw: Value) -> UserUpdate {
    UserUpdate {
        fields: vec![field],
        raw: raw.as_object().cloned().unwrap_or_default(),
        safe: false,
    }
}

/// A manager's refusal as one line: the password rule's reason, or the error.
fn refusal(error: axum_users::ManagerError) -> anyhow::Error {
    match error {
        axum_users::ManagerError::InvalidPassword(reason) => {
            anyhow::anyhow!("password refused: {reason}")
        }
        other => anyhow::anyhow!("{other}"),
    }
}

fn print_json(value: &Value) {
    println!("{value}");
}
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
        let update = update(
            UpdateField::Flag("is_superuser", Some(true)),
            json!({"is_superuser": true}),
        );
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
    let user = manager.create(input, false, None).await.map_err(refusal)?;
    println!("created superuser {} ({})", user.email, user.id);
    Ok(())
}
