//! Server configuration: defaults, then an optional TOML file, then `AXUM_USERS_*` variables.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Every setting; each is also `AXUM_USERS_<NAME>` in the environment.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The `AXUM_USERS_OAUTH_*` variables, by name: each provider's settings are a family of
    /// names (`AXUM_USERS_OAUTH_<NAME>_CLIENT_ID`, ...) that the configuration's fields cannot
    /// list in advance. Read with the rest of the environment by [`Config::load`].
    #[serde(skip)]
    pub oauth: std::collections::BTreeMap<String, String>,
    pub bind: String,
    pub database_url: String,
    /// `uuid` or `integer` (FastAPI Users' `IntegerIDMixin`): the ids of a new database's
    /// tables. Unset: the existing tables' kind, UUIDs for a new database.
    pub id_type: Option<String>,
    pub secret: Option<String>,
    pub previous_secrets: String,
    /// Access-token lifetime in seconds; unset: 3600, or 900 with refresh tokens on.
    pub token_lifetime: Option<u64>,
    /// `on` or `off`: logins answer refresh tokens too, `POST /auth/{backend}/refresh`.
    pub refresh_tokens: String,
    /// Refresh-token lifetime in seconds (renewed at each refresh).
    pub refresh_token_lifetime: u64,
    /// Seconds after a rotation in which the previous refresh token gets the same answer.
    pub refresh_grace: u64,
    /// Sessions one user keeps at most (a new login ends the least recently used).
    pub sessions_per_user: usize,
    pub require_verification: bool,
    pub verify_on_register: bool,
    pub verify_token_secret: Option<String>,
    pub verify_token_lifetime: u64,
    pub reset_token_secret: Option<String>,
    pub reset_token_lifetime: u64,
    pub smtp_url: Option<String>,
    pub outbox: PathBuf,
    pub mail_from: String,
    pub mail_templates: Option<PathBuf>,
    pub verify_url: Option<String>,
    /// Where `GET /auth/verify?token=...` sends the browser (else a page of the server's own).
    pub verified_redirect_url: Option<String>,
    pub reset_url: Option<String>,
    pub app_name: String,
    /// The OpenAPI document's title (FastAPI's default: generated clients are named after it).
    pub openapi_title: String,
    pub backends: String,
    pub redis_url: Option<String>,
    pub user_cache: bool,
    pub user_cache_ttl: u64,
    /// Jobs (e-mails with their retries, hooks) running after their answers at most.
    pub background_limit: usize,
    /// Where Prometheus scrapes `/metrics` (an address of its own, never the public one);
    /// unset: no metrics.
    pub metrics_bind: Option<String>,
    pub allowed_origins: String,
    /// Webhook receivers, `;`-separated, each a URL optionally followed by the event types it
    /// wants (comma-separated): `https://a.example/hook user.registered,login.failed`.
    pub webhook_url: String,
    /// A receiver asked before each registration, which may refuse it.
    pub webhook_before_register: Option<String>,
    /// `true`: a before-registration receiver that fails lets registrations through (else
    /// they are refused with 503).
    pub webhook_before_register_fail_open: bool,
    /// The key webhooks are signed with: `whsec_<base64>` (Standard Webhooks) or any string.
    pub webhook_secret: Option<String>,
    /// A user's own e-mail change waits for a link sent to the new address.
    pub confirm_email_changes: bool,
    /// Days the audit trail keeps events (`0`: forever).
    pub audit_retention_days: u64,
    /// The passkeys' (WebAuthn) relying party id: the site's domain, which every origin below
    /// is on. Unset: `localhost`.
    pub webauthn_rp_id: Option<String>,
    /// The origins pages use passkeys from, comma-separated (`https://example.com`). Unset:
    /// `http://localhost:<port>` of the bind address.
    pub webauthn_origins: String,
    /// Request headers the allowed origins may send, besides the default list.
    pub cors_headers: String,
    pub require_current_password: bool,
    pub password_change_revokes_jwts: bool,
    pub request_timeout: u64,
    /// Open connections at most; `None`: the descriptor limit less a headroom.
    pub max_connections: Option<usize>,
    pub oauth_associate_by_email: bool,
    pub oauth_verified_by_default: bool,
    pub oauth_redirect_url: Option<String>,
    pub oauth_backend: Option<String>,
    pub oauth_cookie_secure: Option<bool>,
    pub oauth_after_login_redirects: String,
    pub oauth_microsoft_tenant: String,
    pub rate_limits: String,
    pub rate_limit_login: String,
    pub rate_limit_register: String,
    pub rate_limit_email: String,
    pub rate_limit_token: String,
    pub rate_limit_password_change: String,
    pub login_backoff: String,
    pub trusted_proxies: String,
    pub jwt_algorithm: String,
    pub jwt_private_key_file: Option<PathBuf>,
    pub jwt_public_key_file: Option<PathBuf>,
    pub cookie_name: String,
    pub cookie_max_age: Option<u64>,
    pub cookie_path: String,
    pub cookie_domain: Option<String>,
    pub cookie_secure: bool,
    pub cookie_httponly: bool,
    pub cookie_samesite: String,
    pub password_min_length: usize,
    pub password_max_length: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub log_format: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database_url", &redact_url(&self.database_url))
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("token_lifetime", &self.token_lifetime)
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("outbox", &self.outbox)
            .field("backends", &self.backends)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            oauth: std::collections::BTreeMap::new(),
            bind: "127.0.0.1:8000".into(),
            database_url: "sqlite://axum-users.db".into(),
            id_type: None,
            secret: None,
            previous_secrets: String::new(),
            token_lifetime: None,
            refresh_tokens: "off".into(),
            refresh_token_lifetime: 30 * 24 * 3600,
            refresh_grace: 10,
            sessions_per_user: 100,
            require_verification: false,
            verify_on_register: true,
            verify_token_secret: None,
            verify_token_lifetime: 3600,
            reset_token_secret: None,
            reset_token_lifetime: 3600,
            smtp_url: None,
            outbox: PathBuf::from("outbox"),
            mail_from: "axum-users <noreply@localhost>".into(),
            mail_templates: None,
            verify_url: None,
            verified_redirect_url: None,
            reset_url: None,
            app_name: "axum-users".into(),
            openapi_title: "FastAPI".into(),
            backends: "jwt,cookie".into(),
            redis_url: None,
            user_cache: true,
            user_cache_ttl: 60,
            background_limit: 1024,
            metrics_bind: None,
            allowed_origins: String::new(),
            webhook_url: String::new(),
            webhook_secret: None,
            webhook_before_register: None,
            webhook_before_register_fail_open: false,
            confirm_email_changes: false,
            audit_retention_days: 90,
            webauthn_rp_id: None,
            webauthn_origins: String::new(),
            cors_headers: String::new(),
            require_current_password: false,
            password_change_revokes_jwts: false,
            request_timeout: 15,
            max_connections: None,
            oauth_associate_by_email: false,
            oauth_verified_by_default: false,
            oauth_redirect_url: None,
            oauth_backend: None,
            oauth_cookie_secure: None,
            oauth_after_login_redirects: String::new(),
            oauth_microsoft_tenant: "common".into(),
            rate_limits: "on".into(),
            rate_limit_login: "20/60".into(),
            rate_limit_register: "10/3600".into(),
            rate_limit_email: "10/900".into(),
            rate_limit_token: "20/900".into(),
            rate_limit_password_change: "5/900".into(),
            login_backoff: "5/1/900".into(),
            trusted_proxies: String::new(),
            jwt_algorithm: "HS256".into(),
            jwt_private_key_file: None,
            jwt_public_key_file: None,
            cookie_name: "fastapiusersauth".into(),
            cookie_max_age: None,
            cookie_path: "/".into(),
            cookie_domain: None,
            cookie_secure: true,
            cookie_httponly: true,
            cookie_samesite: "lax".into(),
            password_min_length: 8,
            password_max_length: 128,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            log_format: "text".into(),
        }
    }
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Loads the configuration from the file (if any) and the environment.
    /// `AXUM_USERS_REQUEST_TIMEOUT`: for the request head and, separately, for the body.
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout.max(1))
    }

    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        let env = Env::prefixed("AXUM_USERS_").ignore(&["CONFIG", "PASSWORD"]);
        let mut config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.oauth = std::env::vars()
            .filter(|(name, _)| name.starts_with("AXUM_USERS_OAUTH_"))
            .collect();
        config.check()?;
        Ok(config)
    }

    /// The kind of ids asked for, if any.
    pub fn id_kind(&self) -> anyhow::Result<Option<axum_users::IdKind>> {
        match self
            .id_type
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(None),
            Some("uuid") => Ok(Some(axum_users::IdKind::Uuid)),
            Some("integer" | "int") => Ok(Some(axum_users::IdKind::Integer)),
            Some(other) => bail!(
                "invalid configuration: AXUM_USERS_ID_TYPE must be uuid or integer (got {other:?})"
            ),
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        let url = &self.database_url;
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            bail!(
                "invalid configuration: AXUM_USERS_DATABASE_URL must be a sqlite: or postgres:// URL (got {})",
                redact_url(url)
            );
        }
        self.id_kind()?;
        if self.refresh_on()? && self.refresh_token_lifetime == 0 {
            bail!("invalid configuration: AXUM_USERS_REFRESH_TOKEN_LIFETIME must be above 0");
        }
        let names = self.backend_names();
        if names.is_empty() {
            bail!("invalid configuration: AXUM_USERS_BACKENDS names no backend");
        }
        for (index, name) in names.iter().enumerate() {
            if !["jwt", "cookie", "db", "redis"].contains(name) {
                bail!("invalid configuration: AXUM_USERS_BACKENDS: unknown backend {name:?} (jwt, cookie, db, redis)");
            }
            if names[..index].contains(name) {
                bail!("invalid configuration: AXUM_USERS_BACKENDS names {name:?} twice");
            }
        }
        self.cookie_samesite
            .parse::<axum_users::SameSite>()
            .map_err(|e| {
                anyhow::anyhow!("invalid configuration: AXUM_USERS_COOKIE_SAMESITE: {e}")
            })?;
        for (name, url) in [
            ("VERIFY_URL", &self.verify_url),
            ("RESET_URL", &self.reset_url),
        ] {
            if let Some(url) = url {
                if !url.contains("{token}") {
                    bail!("invalid configuration: AXUM_USERS_{name} must contain {{token}} where the token goes (got {url:?})");
                }
            }
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            bail!("invalid configuration: AXUM_USERS_LOG_FORMAT must be text or json");
        }
        Ok(())
    }

    /// Whether logins issue refresh tokens (`AXUM_USERS_REFRESH_TOKENS`).
    pub fn refresh_on(&self) -> anyhow::Result<bool> {
        match self.refresh_tokens.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" => Ok(true),
            "off" | "false" | "0" | "" => Ok(false),
            other => bail!(
                "invalid configuration: AXUM_USERS_REFRESH_TOKENS must be on or off, got {other:?}"
            ),
        }
    }

    /// The access tokens' lifetime: as set, else an hour, or 15 minutes with refresh tokens.
    pub fn access_lifetime(&self) -> u64 {
        match (self.token_lifetime, self.refresh_on()) {
            (Some(seconds), _) => seconds,
            (None, Ok(true)) => 900,
            (None, _) => 3600,
        }
    }

    /// The backends to mount, in order.
    pub fn backend_names(&self) -> Vec<&str> {
        self.backends
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// The SQLite file behind the database URL, if it is a file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path.contains(":memory:") || self.database_url.contains("mode=memory")
        {
            return None;
        }
        Some(PathBuf::from(path))
    }

    /// The signing secret: configured, or generated once and kept beside the database with
    /// owner-only permissions.
    pub fn resolve_secret(&self) -> anyhow::Result<String> {
        if let Some(secret) = self.secret.as_ref().filter(|s| !s.is_empty()) {
            return Ok(secret.clone());
        }
        if !self.database_url.starts_with("sqlite:") {
            bail!("invalid configuration: AXUM_USERS_SECRET must be set with a PostgreSQL database (and be the same on every instance)");
        }
        let Some(db) = self.sqlite_path() else {
            tracing::warn!("AXUM_USERS_SECRET is not set and the database is in memory: using a random secret for this run only");
            return Ok(random_secret());
        };
        let file = db.with_extension("secret");
        if file.exists() {
            let secret = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read the secret file {}", file.display()))?;
            let secret = secret.trim().to_owned();
            if !secret.is_empty() {
                return Ok(secret);
            }
        }
        let secret = random_secret();
        write_private(&file, &secret)
            .with_context(|| format!("cannot write the secret file {}", file.display()))?;
        tracing::warn!(
            file = %file.display(),
            "AXUM_USERS_SECRET is not set: generated a random secret and stored it beside the database; \
             set AXUM_USERS_SECRET in production (and the same value on every instance)"
        );
        Ok(secret)
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}
