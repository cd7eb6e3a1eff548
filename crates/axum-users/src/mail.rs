//! E-mail: messages, templates and mailers (documented on [`Mailer`], from `docs/mail.md`).

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use minijinja::Environment;
use serde_json::Value;
use tokio::sync::Notify;

use crate::tokens::TokenKind;

/// What a message is for: the two the library sends, or one of the application's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailKind {
    /// E-mail verification.
    Verify,
    /// Password reset.
    Reset,
    /// A notice of a change to how the user signs in (a second factor turned on or off, ...).
    Security,
    /// The application's own (a welcome message, a notice), by name.
    Custom(String),
}

impl MailKind {
    /// `verify`, `reset` or the custom name: what names the message's outbox file.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::Security => "security",
            Self::Custom(name) => name,
        }
    }
}

impl From<TokenKind> for MailKind {
    fn from(kind: TokenKind) -> Self {
        match kind {
            TokenKind::Verify => Self::Verify,
            TokenKind::Reset => Self::Reset,
        }
    }
}

/// One message, rendered and ready to send.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Email {
    /// What the message is for.
    pub kind: MailKind,
    /// The recipient's address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

impl Email {
    /// A plain-text message of the application's own kind `kind` (e.g. `welcome`).
    pub fn new(
        kind: impl Into<String>,
        to: impl Into<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            kind: MailKind::Custom(kind.into()),
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
            html: String::new(),
        }
    }

    /// With an HTML alternative to the text.
    #[must_use]
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = html.into();
        self
    }
}

impl std::fmt::Debug for Email {
    // The bodies carry a token: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("kind", &self.kind)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A mail setting that cannot be used: a template that does not compile, a sender or SMTP URL
/// that does not parse, a template directory that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MailConfigError(String);

/// A delivery that failed; it is retried, then logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// Delivers messages.
///
#[doc = include_str!("docs/mail.md")]
#[dynosaur::dynosaur(pub(crate) DynMailer = dyn(box) Mailer)]
pub trait Mailer: Send + Sync {
    /// Sends one message. An `Err` is retried with backoff.
    fn send(&self, email: &Email) -> impl Future<Output = Result<(), MailError>> + Send;
}

/// How often and how patiently a failed delivery is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Tries in all (default 5).
    pub attempts: u32,
    /// Wait before the second try (default 1 s); each later wait doubles, up to `max_delay`.
    pub first_delay: Duration,
    /// Longest wait between two tries (default 60 s).
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// `attempts` tries in all, waiting `first_delay` before the second and doubling up to
    /// `max_delay`.
    pub const fn new(attempts: u32, first_delay: Duration, max_delay: Duration) -> Self {
        Self {
            attempts,
            first_delay,
            max_delay,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// The names of the templates, each overridable.
pub const TEMPLATE_NAMES: [&str; 9] = [
    "verify_subject.txt",
    "verify.txt",
    "verify.html",
    "reset_subject.txt",
    "reset.txt",
    "reset.html",
    "security_subject.txt",
    "security.txt",
    "security.html",
];

const DEFAULTS: [(&str, &str); 9] = [
    (
        "verify_subject.txt",
        include_str!("../templates/verify_subject.txt"),
    ),
    ("verify.txt", include_str!("../templates/verify.txt")),
    ("verify.html", include_str!("../templates/verify.html")),
    (
        "reset_subject.txt",
        include_str!("../templates/reset_subject.txt"),
    ),
    ("reset.txt", include_str!("../templates/reset.txt")),
    ("reset.html", include_str!("../templates/reset.html")),
    (
        "security_subject.txt",
        include_str!("../templates/security_subject.txt"),
    ),
    ("security.txt", include_str!("../templates/security.txt")),
    ("security.html", include_str!("../templates/security.html")),
];

/// The message templates (minijinja syntax; `.html` templates escape what they print).
///
/// Each template sees `user` (the user as the API shows it: `email`, `id`, your own fields),
/// `token`, `link` (the configured front-end URL with the token in it, or none),
/// `lifetime_minutes` and `app_name`.
#[derive(Clone)]
pub struct MailTemplates {
    env: Environment<'static>,
}

impl std::fmt::Debug for MailTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailTemplates").finish_non_exhaustive()
    }
}

impl Default for MailTemplates {
    fn default() -> Self {
        let mut env = Environment::new();
        for (name, source) in DEFAULTS {
            // The built-in templates are compiled by this crate's tests.
            if let Err(err) = env.add_template(name, source) {
                tracing::error!(template = name, error = %err, "built-in template is broken");
            }
        }
        Self { env }
    }
}

impl MailTemplates {
    /// Replaces one template; the name must be one of [`TEMPLATE_NAMES`].
    pub fn set(mut self, name: &str, source: impl Into<String>) -> Result<Self, MailConfigError> {
        let name = TEMPLATE_NAMES.iter().find(|n| **n == name).ok_or_else(|| {
            MailConfigError(format!(
                "unknown e-mail template {name:?}; the templates are {}",
                TEMPLATE_NAMES.join(", ")
            ))
        })?;
        self.env
            .add_template_owned(*name, source.into())
            .map_err(|e| MailConfigError(format!("e-mail template {name}: {e}")))?;
        Ok(self)
    }

    /// Adds a template of the application's own (for [`MailTemplates::render_custom`]); the
    /// names of [`TEMPLATE_NAMES`] are the library's: use [`MailTemplates::set`] for those.
    pub fn add(mut self, name: &str, source: impl Into<String>) -> Result<Self, MailConfigError> {
        if TEMPLATE_NAMES.contains(&name) {
            return Err(MailConfigError(format!(
                "{name:?} is a built-in template: replace it with MailTemplates::set"
            )));
        }
        self.env
            .add_template_owned(name.to_owned(), source.into())
            .map_err(|e| MailConfigError(format!("e-mail template {name}: {e}")))?;
        Ok(self)
    }

    /// Renders a message of the application's own kind `kind` from the templates
    /// `{kind}_subject.txt`, `{kind}.txt` and (when added) `{kind}.html`.
    pub fn render_custom(
        &self,
        kind: &str,
        to: &str,
        context: &Value,
    ) -> Result<Email, MailConfigError> {
        let html = format!("{kind}.html");
        let mut email = self.render_parts(MailKind::Custom(kind.to_owned()), kind, to, context)?;
        if self.env.get_template(&html).is_err() {
            email.html.clear();
        }
        Ok(email)
    }

    /// The defaults, with every file of `dir` named like a template replacing that template.
    pub fn from_dir(dir: &Path) -> Result<Self, MailConfigError> {
        if !dir.is_dir() {
            return Err(MailConfigError(format!(
                "the e-mail template directory {} does not exist",
                dir.display()
            )));
        }
        let mut templates = Self::default();
        for name in TEMPLATE_NAMES {
            let path = dir.join(name);
            if path.exists() {
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| MailConfigError(format!("cannot read {}: {e}", path.display())))?;
                templates = templates.set(name, source)?;
            }
        }
        Ok(templates)
    }

    /// Renders the message of `kind` for `to`.
    pub fn render(
        &self,
        kind: TokenKind,
        to: &str,
        context: &Value,
    ) -> Result<Email, MailConfigError> {
        let kind = MailKind::from(kind);
        let prefix = kind.as_str().to_owned();
        self.render_parts(kind, &prefix, to, context)
    }

    fn render_parts(
        &self,
        kind: MailKind,
        prefix: &str,
        to: &str,
        context: &Value,
    ) -> Result<Email, MailConfigError> {
        let custom = matches!(kind, MailKind::Custom(_));
        let render = |suffix: &str| {
            let name = format!("{prefix}{suffix}");
            match self.env.get_template(&name) {
                Err(_) if suffix == ".html" && custom => Ok(String::new()),
                template => template
                    .and_then(|t| t.render(minijinja::value::Serde(context)))
                    .map_err(|e| MailConfigError(format!("e-mail template {name}: {e}"))),
            }
        };
        let subject = render("_subject.txt")?;
        Ok(Email {
            kind,
            to: to.to_owned(),
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: render(".txt")?,
            html: render(".html")?,
        })
    }
}

/// Where the e-mail settings live in [`crate::AxumUsers`].
#[derive(Clone)]
pub(crate) struct MailSettings {
    pub(crate) mailer: Option<Arc<DynMailer<'static>>>,
    pub(crate) templates: MailTemplates,
    pub(crate) verify_url: Option<String>,
    pub(crate) reset_url: Option<String>,
    pub(crate) app_name: String,
    pub(crate) retry: RetryPolicy,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            mailer: None,
            templates: MailTemplates::default(),
            verify_url: None,
            reset_url: None,
            app_name: "axum-users".into(),
            retry: RetryPolicy::default(),
        }
    }
}

impl MailSettings {
    /// Renders and sends the security notice `change` (e.g. "two-factor sign-in was turned
    /// on") to `user`, retrying with backoff; failures are logged. Nothing without a mailer.
    pub(crate) async fn notify(&self, user: &crate::User, change: &str) {
        if self.mailer.is_none() {
            return;
        }
        let context = serde_json::json!({
            "user": user.to_read(),
            "change": change,
            "app_name": self.app_name,
        });
        match self
            .templates
            .render_parts(MailKind::Security, "security", &user.email, &context)
        {
            Ok(email) => self.send(&email).await,
            Err(error) => tracing::error!(%error, "cannot render the security notice"),
        }
    }

    /// Renders and sends, retrying with backoff. Never returns an error: failures are logged.
    pub(crate) async fn deliver(
        &self,
        kind: TokenKind,
        user: &crate::User,
        token: &str,
        lifetime: Duration,
    ) {
        if self.mailer.is_none() {
            return;
        }
        let url = match kind {
            TokenKind::Verify => &self.verify_url,
            TokenKind::Reset => &self.reset_url,
        };
        let link = url.as_ref().map(|u| u.replace("{token}", token));
        let context = serde_json::json!({
            "user": user.to_read(),
            "token": token,
            "link": link,
            "lifetime_minutes": lifetime.as_secs().div_ceil(60),
            "app_name": self.app_name,
        });
        match self.templates.render(kind, &user.email, &context) {
            Ok(email) => self.send(&email).await,
            Err(error) => {
                tracing::error!(%error, user_id = %user.id, "cannot render the e-mail; not sent");
            }
        }
    }

    /// Sends with the retry policy. Never returns an error: failures are logged.
    pub(crate) async fn send(&self, email: &Email) {
        let Some(mailer) = &self.mailer else {
            tracing::debug!(
                kind = email.kind.as_str(),
                "no mailer configured; message dropped"
            );
            return;
        };
        let kind = email.kind.as_str();
        let mut delay = self.retry.first_delay;
        for attempt in 1..=self.retry.attempts.max(1) {
            match mailer.send(email).await {
                Ok(()) => {
                    tracing::info!(kind, attempt, "e-mail sent");
                    return;
                }
                Err(error) if attempt < self.retry.attempts => {
                    crate::telemetry::count("axum_users_email_failures_total");
                    tracing::warn!(%error, kind, attempt, retry_in = ?delay, "e-mail delivery failed; will retry");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.retry.max_delay);
                }
                Err(error) => {
                    crate::telemetry::count("axum_users_email_failures_total");
                    tracing::error!(%error, kind, attempt, "e-mail delivery failed; giving up");
                }
            }
        }
    }
}

/// Keeps messages in memory: for tests, and for applications that deliver them themselves.
#[derive(Debug, Clone, Default)]
pub struct MemoryMailer {
    inner: Arc<(Mutex<Vec<Email>>, Notify)>,
}

impl MemoryMailer {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far.
    pub fn messages(&self) -> Vec<Email> {
        self.inner
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Removes and returns the messages sent so far.
    pub fn take(&self) -> Vec<Email> {
        std::mem::take(
            &mut *self
                .inner
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Waits for the next message (taking it), up to `timeout`.
    pub async fn next(&self, timeout: Duration) -> Option<Email> {
        tokio::time::timeout(timeout, async {
            loop {
                let notified = self.inner.1.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                {
                    let mut messages = self
                        .inner
                        .0
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if !messages.is_empty() {
                        return messages.remove(0);
                    }
                }
                notified.await;
            }
        })
        .await
        .ok()
    }
}

impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        self.inner
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(email.clone());
        self.inner.1.notify_waiters();
        Ok(())
    }
}

#[cfg(feature = "smtp")]
pub use delivery::{OutboxMailer, SmtpMailer};

#[cfg(feature = "smtp")]
mod delivery {
    use std::path::PathBuf;
    use std::time::Duration;

    use lettre::message::header::{ContentTransferEncoding, ContentType};
    use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    use super::{Email, MailConfigError, MailError, Mailer};

    fn message(from: &Mailbox, email: &Email) -> Result<Message, MailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| MailError(format!("invalid recipient address: {e}")))?;
        let builder = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(None);
        let message = if email.html.is_empty() {
            builder.singlepart(part(ContentType::TEXT_PLAIN, &email.text))
        } else {
            builder.multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, &email.text))
                    .singlepart(part(ContentType::TEXT_HTML, &email.html)),
            )
        };
        message.map_err(|e| MailError(format!("cannot build the message: {e}")))
    }

    /// ASCII bodies go as they are (7bit, lines up to RFC 5322's 998 characters), so that the
    /// long token line stays whole and can be copied from the raw message; others are encoded
    /// by lettre (quoted-printable or base64).
    fn part(content_type: ContentType, text: &str) -> SinglePart {
        let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
        let plain = crlf.is_ascii()
            && !crlf.contains('\0')
            && !crlf
                .split("\r\n")
                .any(|line| line.len() > 998 || line.contains('\r'));
        let body = if plain {
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
        } else {
            Body::new(text.to_owned())
        };
        SinglePart::builder().header(content_type).body(body)
    }

    fn mailbox(from: &str) -> Result<Mailbox, MailConfigError> {
        from.parse()
            .map_err(|e| MailConfigError(format!("invalid sender address {from:?}: {e}")))
    }

    /// Delivers through an SMTP server.
    #[derive(Clone)]
    pub struct SmtpMailer {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    }

    impl std::fmt::Debug for SmtpMailer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SmtpMailer")
                .field("from", &self.from.to_string())
                .finish_non_exhaustive()
        }
    }

    impl SmtpMailer {
        /// From a URL: `smtp://host:port` (plain, or STARTTLS with `?tls=required`),
        /// `smtps://host:port` (TLS from the first byte), with `user:password@` for AUTH.
        /// `from` is the sender, e.g. `Camelot <noreply@camelot.bt>`.
        pub fn from_url(url: &str, from: &str) -> Result<Self, MailConfigError> {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| MailConfigError(format!("invalid SMTP URL: {e}")))?
                .timeout(Some(Duration::from_secs(20)))
                .build();
            Ok(Self {
                transport,
                from: mailbox(from)?,
            })
        }
    }

    impl Mailer for SmtpMailer {
        async fn send(&self, email: &Email) -> Result<(), MailError> {
            let message = message(&self.from, email)?;
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError(format!("SMTP: {e}")))
        }
    }

    /// Writes each message as an RFC 5322 `.eml` file into a directory: development without an
    /// SMTP server. Open the file with any mail client, or read the token from it.
    #[derive(Debug, Clone)]
    pub struct OutboxMailer {
        dir: PathBuf,
        from: Mailbox,
    }

    impl OutboxMailer {
        /// Writes into `dir` (created when missing).
        pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Self, MailConfigError> {
            Ok(Self {
                dir: dir.into(),
                from: mailbox(from)?,
            })
        }

        /// The directory.
        pub fn dir(&self) -> &std::path::Path {
            &self.dir
        }
    }

    impl Mailer for OutboxMailer {
        async fn send(&self, email: &Email) -> Result<(), MailError> {
            let bytes = message(&self.from, email)?.formatted();
            let io = |e: std::io::Error| MailError(format!("outbox {}: {e}", self.dir.display()));
            tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
            let millis = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            // A custom kind names the file too: keep only what is safe in a file name.
            let kind: String = email
                .kind
                .as_str()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            let name = format!("{millis}-{kind}-{}.eml", uuid::Uuid::new_v4().simple());
            // Written under a dot-name, then renamed: a reader never sees half a message.
            let partial = self.dir.join(format!(".{name}.partial"));
            tokio::fs::write(&partial, bytes).await.map_err(io)?;
            let path = self.dir.join(&name);
            tokio::fs::rename(&partial, &path).await.map_err(io)?;
            tracing::info!(path = %path.display(), "e-mail written to the outbox");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_templates_render_link_token_and_escape_html() {
        let templates = MailTemplates::default();
        let context = serde_json::json!({
            "user": {"email": "king.arthur@camelot.bt"},
            "token": "aaa.bbb.ccc",
            "link": "https://camelot.bt/verify?token=aaa.bbb.ccc&x=<y>",
            "lifetime_minutes": 60,
            "app_name": "Camelot",
        });
        for kind in [TokenKind::Verify, TokenKind::Reset] {
            let email = templates
                .render(kind, "king.arthur@camelot.bt", &context)
                .unwrap();
            assert!(!email.subject.contains('\n'));
            assert!(email.text.contains("token=aaa.bbb.ccc"));
            assert!(email.text.contains("x=<y>"), "{}", email.text);
            assert!(email.html.contains("x=&lt;y&gt;"), "{}", email.html);
            assert!(email.text.contains("60 minutes"), "{}", email.text);
        }
    }

    #[test]
    fn a_directory_overrides_the_templates_it_holds() {
        let dir = std::env::temp_dir().join(format!("axum-users-templates-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("reset_subject.txt"),
            "New password for {{ user.email }}",
        )
        .unwrap();
        std::fs::write(dir.join("unrelated.md"), "ignored").unwrap();
        let templates = MailTemplates::from_dir(&dir).unwrap();
        let context =
            serde_json::json!({"user": {"email": "a@b.c"}, "token": "t", "lifetime_minutes": 60});
        let reset = templates
            .render(TokenKind::Reset, "a@b.c", &context)
            .unwrap();
        assert_eq!(reset.subject, "New password for a@b.c");
        let verify = templates
            .render(TokenKind::Verify, "a@b.c", &context)
            .unwrap();
        assert_eq!(verify.subject, "Confirm your e-mail address for");
        std::fs::write(dir.join("verify.html"), "{{ broken").unwrap();
        let err = MailTemplates::from_dir(&dir).unwrap_err();
        assert!(
            err.to_string().starts_with("e-mail template verify.html:"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(MailTemplates::from_dir(&dir).is_err());
    }

    #[test]
    fn overrides_are_checked() {
        let err = MailTemplates::default().set("nope.txt", "x").unwrap_err();
        assert!(
            err.to_string().starts_with("unknown e-mail template"),
            "{err}"
        );
        let err = MailTemplates::default()
            .set("verify.txt", "{% if %}")
            .unwrap_err();
        assert!(
            err.to_string().starts_with("e-mail template verify.txt:"),
            "{err}"
        );
        let templates = MailTemplates::default()
            .set("verify_subject.txt", "Hi {{ user.email }}")
            .unwrap();
        let email = templates
            .render(
                TokenKind::Verify,
                "a@b.c",
                &serde_json::json!({"user": {"email": "a@b.c"}, "token": "t"}),
            )
            .unwrap();
        assert_eq!(email.subject, "Hi a@b.c");
    }
}
