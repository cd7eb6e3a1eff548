//! The user manager: every business rule of FastAPI Users' `BaseUserManager` (create,
//! authenticate, update in safe and unsafe mode, delete) with the hooks called at their points.

use std::sync::Arc;

use http::request::Parts;

use crate::background::Background;
use crate::email_change::EmailChangeStore as _;
use crate::hooks::Hooks as _;
use crate::hooks::{log_after, DynHooks, HookContext, HookError};
use crate::mail::MailSettings;
use crate::mfa::MfaStore as _;
use crate::password::{PasswordError, PasswordHasher, Verified};
use crate::session::SessionStore as _;
use crate::store::UserStore as _;
use crate::store::{DynUserStore, StoreError, UserPatch};
use crate::strategy::Strategy as _;
use crate::strategy::{DynStrategy, StrategyError};
use crate::tokens::TokenSettings;
use crate::user::{UpdateField, UserCreate, UserSchema, UserUpdate};
use crate::User;

/// Length bounds on new passwords, counted in characters. `0` means no bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordPolicy {
    /// Fewest characters (default 8, NIST SP 800-63B).
    pub min_length: usize,
    /// Most characters (default 128).
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
        }
    }
}

impl PasswordPolicy {
    /// From `min_length` to `max_length` characters (`0`: no bound).
    pub const fn new(min_length: usize, max_length: usize) -> Self {
        Self {
            min_length,
            max_length,
        }
    }

    /// Any password, even empty: FastAPI Users' behaviour.
    pub const fn permissive() -> Self {
        Self {
            min_length: 0,
            max_length: 0,
        }
    }

    fn check(&self, password: &str) -> Result<(), String> {
        let count = password.chars().count();
        if self.min_length > 0 && count < self.min_length {
            return Err(format!(
                "Password should be at least {} characters",
                self.min_length
            ));
        }
        if self.max_length > 0 && count > self.max_length {
            return Err(format!(
                "Password should be at most {} characters",
                self.max_length
            ));
        }
        Ok(())
    }
}

/// Why a manager operation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// The password policy or `validate_password` refused the password.
    #[error("invalid password: {0}")]
    InvalidPassword(String),
    /// The e-mail belongs to another user.
    #[error("a user with this e-mail already exists")]
    UserAlreadyExists,
    /// The user is inactive (verify request, forgot password, reset password, an update of
    /// one's own account).
    #[error("the user is inactive")]
    UserInactive,
    /// The user's e-mail is already verified.
    #[error("the user is already verified")]
    UserAlreadyVerified,
    /// A verification or reset token that is not valid, for any reason.
    #[error("invalid token")]
    InvalidToken,
    /// The user does not exist (any more).
    #[error("no such user")]
    UserNotFound,
    /// A hook that runs before the write refused it or failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A token strategy failed.
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// Password hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// A verification or reset token could not be signed.
    #[error("cannot sign a token: {0}")]
    Token(String),
}

impl From<StoreError> for ManagerError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => Self::UserAlreadyExists,
            other => Self::Store(other),
        }
    }
}

/// Holds the store, the hasher, the hooks and the rules. Cheap to clone.
#[derive(Clone)]
pub struct UserManager {
    pub(crate) store: Arc<DynUserStore<'static>>,
    pub(crate) hooks: Arc<DynHooks<'static>>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) policy: PasswordPolicy,
    pub(crate) schema: UserSchema,
    pub(crate) verify_tokens: TokenSettings,
    pub(crate) reset_tokens: TokenSettings,
    /// The backends' strategies, told to revoke a user's tokens.
    pub(crate) strategies: Vec<Arc<DynStrategy<'static>>>,
    /// A password change also raises the token version, so JWTs die with the old password.
    pub(crate) password_change_revokes_jwts: bool,
    /// Where sessions live, when they are kept: revoking a user's tokens ends them.
    pub(crate) sessions: Option<Arc<crate::session::DynSessionStore<'static>>>,
    /// Where second factors live, when they are on: a deleted user's go with them.
    pub(crate) mfa: Option<Arc<crate::mfa::DynMfaStore<'static>>>,
    /// Where pending e-mail changes wait, when changes are confirmed by the new address.
    pub(crate) email_changes: Option<Arc<crate::email_change::DynEmailChangeStore<'static>>>,
    /// Where passkeys live, when they are on: a deleted user's go with them.
    #[cfg(feature = "passkeys")]
    pub(crate) passkeys: Option<Arc<crate::passkey::DynPasskeyStore<'static>>>,
    /// What hooks reach through their context.
    pub(crate) mail: Arc<MailSettings>,
    pub(crate) background: Background,
}

impl std::fmt::Debug for UserManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserManager")
            .field("hasher", &self.hasher)
            .field("policy", &self.policy)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl UserManager {
    /// The application's extra fields.
    pub fn schema(&self) -> &UserSchema {
        &self.schema
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The kind of ids the store holds.
    pub fn id_kind(&self) -> crate::IdKind {
        self.store.id_kind()
    }

    /// Parses an id as the store's kind of ids does (FastAPI Users' `parse_id`).
    pub fn parse_id(&self, value: &str) -> Option<crate::UserId> {
        self.store.id_kind().parse(value)
    }

    /// The user with this id.
    pub async fn get(&self, id: crate::UserId) -> Result<Option<User>, ManagerError> {
        Ok(self.store.get(id).await?)
    }

    /// The context hooks receive.
    pub(crate) fn context<'a>(&'a self, request: Option<&'a Parts>) -> HookContext<'a> {
        HookContext::new(request, &self.mail, &self.background)
    }

    /// A page of the users a query selects, and how many it selects in all.
    pub async fn list(&self, query: &crate::UserQuery) -> Result<crate::UserPage, ManagerError> {
        Ok(self.store.list(query).await?)
    }

    /// The user with this e-mail (case-insensitive).
    pub async fn get_by_email(&self, email: &str) -> Result<Option<User>, ManagerError> {
        Ok(self.store.get_by_email(email).await?)
    }

    /// The length policy, then the application's `validate_password`.
    pub async fn validate_password(&self, password: &str, email: &str) -> Result<(), ManagerError> {
        self.policy
            .check(password)
            .map_err(ManagerError::InvalidPassword)?;
        self.hooks
            .validate_password(password, email)
            .await
            .map_err(|e| ManagerError::InvalidPassword(e.reason))
    }

    /// Creates a user. In safe mode (registration) `is_active`, `is_superuser` and
    /// `is_verified` from the input are ignored; in unsafe mode they are applied.
    pub async fn create(
        &self,
        input: UserCreate,
        safe: bool,
        request: Option<&Parts>,
    ) -> Result<User, ManagerError> {
        self.validate_password(&input.password, &input.email)
            .await?;
        if self.store.get_by_email(&input.email).await?.is_some() {
            return Err(ManagerError::UserAlreadyExists);
        }
        let hashed = self.hasher.hash(&input.password).await?;
        let mut user = User::new(input.email, hashed);
        for field in self.schema.fields() {
            let value = input.fields.get(&field.name).cloned();
            user.fields
                .insert(field.name.clone(), value.unwrap_or(serde_json::Value::Null));
        }
        if !safe {
            let flag = |name: &str, default: bool| {
                input
                    .flags
                    .get(name)
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(default)
            };
            user.is_active = flag("is_active", true);
            user.is_superuser = flag("is_superuser", false);
            user.is_verified = flag("is_verified", false);
        }
        // The unique index settles a race between two registrations of one e-mail.
        user.id = self.store.create(&user).await?;
        self.registered(&user, request).await;
        Ok(user)
    }

    /// Creates a user who signs in elsewhere (an OAuth provider): a password nobody knows (one
    /// can be set with forgot-password) and the custom fields empty. The caller runs
    /// [`Self::registered`] once the user is complete (linked).
    #[cfg(feature = "oauth")]
    pub(crate) async fn create_external(
        &self,
        email: String,
        is_verified: bool,
    ) -> Result<User, ManagerError> {
        let password = crate::strategy::opaque_token();
        let mut user = User::new(email, self.hasher.hash(&password).await?);
        user.is_verified = is_verified;
        for field in self.schema.fields() {
            user.fields
                .insert(field.name.clone(), serde_json::Value::Null);
        }
        user.id = self.store.create(&user).await?;
        Ok(user)
    }

    /// `on_after_register`, whose failure is logged: the user exists.
    pub(crate) async fn registered(&self, user: &User, request: Option<&Parts>) {
        let result = self
            .hooks
            .on_after_register(user, &self.context(request))
            .await;
        log_after("on_after_register", user, result);
    }

    /// `on_after_login`, whose failure is logged: the session exists.
    pub(crate) async fn logged_in(
        &self,
        user: &User,
        request: Option<&Parts>,
        response: &mut axum::response::Response,
    ) {
        let result = self
            .hooks
            .on_after_login(user, &self.context(request), response)
            .await;
        log_after("on_after_login", user, result);
    }

    /// `on_after_update`, whose failure is logged: the update is written.
    pub(crate) async fn updated(
        &self,
        user: &User,
        update: &serde_json::Map<String, serde_json::Value>,
        request: Option<&Parts>,
    ) {
        let result = self
            .hooks
            .on_after_update(user, update, &self.context(request))
            .await;
        log_after("on_after_update", user, result);
    }

    /// Checks credentials. An unknown e-mail still costs a hash at the cost of a real stored
    /// one ([`PasswordHasher::verify_unknown`]), so that the answer takes as long as for a
    /// wrong password. A correct password under a weaker hash is re-hashed.
    /// Activity is not checked here.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<User>, ManagerError> {
        let Some(user) = self.store.get_by_email(email).await? else {
            self.hasher.verify_unknown(password, email).await?;
            return Ok(None);
        };
        match self.hasher.verify(password, &user.hashed_password).await? {
            Verified::No => Ok(None),
            Verified::Yes => Ok(Some(user)),
            Verified::YesWithUpgrade(hash) => {
                // Only over the hash that was verified: a password changed meanwhile stands.
                let mut upgrade = UserPatch::default().hashed_password(hash);
                upgrade.expect.hashed_password = Some(user.hashed_password.clone());
                Ok(self.store.update(user.id, &upgrade).await?)
            }
        }
    }

    /// Applies an update (already filtered for safe mode by the parser), fields in schema
    /// order: an e-mail change resets `is_verified` unless the same update sets it; nothing is
    /// written when any field is refused. Only the fields the update names are written, in one
    /// statement, so a concurrent change to other fields (an admin's ban) stands; a user's own
    /// update (safe mode) is written only while the user is still active, else `401`.
    pub async fn update(
        &self,
        user: User,
        update: UserUpdate,
        request: Option<&Parts>,
    ) -> Result<User, ManagerError> {
        let mut patch = UserPatch::default();
        for field in &update.fields {
            match field {
                UpdateField::Password(password) => {
                    self.validate_password(password, &user.email).await?;
                    patch.hashed_password = Some(self.hasher.hash(password).await?);
                }
                UpdateField::Email(email) => {
                    // As FastAPI Users: the change test is exact, the uniqueness test is not,
                    // so a user cannot change only the letter case of their own address.
                    if *email != user.email {
                        if self.store.get_by_email(email).await?.is_some() {
                            return Err(ManagerError::UserAlreadyExists);
                        }
                        patch.email = Some(email.clone());
                        patch.is_verified = Some(false);
                    }
                }
                UpdateField::Flag(name, value) => {
                    let value = Some(value.unwrap_or_default());
                    match *name {
                        "is_active" => patch.is_active = value,
                        "is_superuser" => patch.is_superuser = value,
                        _ => patch.is_verified = value,
                    }
                }
                UpdateField::Custom(name, value) => {
                    patch.fields.insert(name.clone(), value.clone());
                }
            }
        }
        let password_changed = patch.hashed_password.is_some();
        patch.bump_token_version = password_changed && self.password_change_revokes_jwts;
        if update.safe {
            patch.expect.is_active = Some(true);
        }
        let Some(user) = self.store.update(user.id, &patch).await? else {
            return Err(if update.safe {
                ManagerError::UserInactive
            } else {
                ManagerError::UserNotFound
            });
        };
        if password_changed || patch.is_active == Some(false) {
            self.revoke_tokens(user.id).await?;
        }
        self.updated(&user, &update.raw, request).await;
        Ok(user)
    }

    /// Whether a login that verified `user` may keep the session it just created: the stored
    /// row still has the password hash and token version that were checked, and is active. A
    /// password change, deactivation or "log out everywhere" that committed meanwhile revokes
    /// the tokens only after its write, so a login that sees no change here is revoked by it.
    pub async fn still_signed_in(&self, user: &User) -> Result<bool, ManagerError> {
        Ok(self.store.get(user.id).await?.is_some_and(|now| {
            now.is_active
                && now.hashed_password == user.hashed_password
                && now.token_version == user.token_version
        }))
    }

    /// Revokes every database and Redis token of a user (JWTs cannot be revoked) and ends their
    /// sessions (with their refresh tokens). Done on
    /// deactivation, deletion and any password change; beyond FastAPI Users, which leaves them
    /// valid.
    pub async fn revoke_tokens(&self, user_id: crate::UserId) -> Result<(), ManagerError> {
        // Sessions first: a refresh racing this finds its session gone (its rotation writes
        // nothing) or its new token revoked by the strategies below.
        if let Some(sessions) = &self.sessions {
            sessions.delete_user_sessions(user_id, None).await?;
        }
        for strategy in &self.strategies {
            strategy.revoke_user(user_id).await?;
        }
        Ok(())
    }

    /// Ends every session of a user: raises the token version (every JWT minted before is
    /// refused) and revokes the database and Redis tokens. The next login starts afresh.
    pub async fn logout_everywhere(&self, user: &User) -> Result<(), ManagerError> {
        let bump = UserPatch {
            bump_token_version: true,
            ..UserPatch::default()
        };
        self.store.update(user.id, &bump).await?;
        self.revoke_tokens(user.id).await
    }

    /// The verification and reset token settings.
    pub fn token_settings(&self) -> (&TokenSettings, &TokenSettings) {
        (&self.verify_tokens, &self.reset_tokens)
    }

    /// A verification token for `user` (`sub`, `email`, audience, expiry), as FastAPI Users
    /// mints it.
    pub fn verification_token(&self, user: &User) -> Result<String, ManagerError> {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), user.id.to_string().into());
        claims.insert("email".into(), user.email.clone().into());
        self.verify_tokens.mint(claims).map_err(ManagerError::Token)
    }

    /// A verification token for an address the user asked to switch to (a confirmed e-mail
    /// change): [`Self::verify`] with it switches the address.
    pub(crate) fn email_change_token(
        &self,
        user: &User,
        email: &str,
    ) -> Result<String, ManagerError> {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), user.id.to_string().into());
        claims.insert("email".into(), email.into());
        self.verify_tokens.mint(claims).map_err(ManagerError::Token)
    }

    /// The address `user` asked to switch to, while its link is valid.
    pub async fn pending_email(&self, user: &User) -> Result<Option<String>, ManagerError> {
        let Some(changes) = &self.email_changes else {
            return Ok(None);
        };
        let lifetime = i64::try_from(self.verify_tokens.lifetime.as_secs()).unwrap_or(i64::MAX);
        let since = crate::jwt::now_unix().saturating_sub(lifetime);
        Ok(changes.pending_email(user.id, since).await?)
    }

    /// A confirmed e-mail change: the token is for the address user `sub` asked to switch to.
    /// The pending change is taken (once), then the address switched if it is still free and
    /// the user still at the address of before; the user is then verified. `None`: not such a
    /// token.
    async fn confirm_email_change(
        &self,
        sub: &str,
        email: &str,
        request: Option<&Parts>,
    ) -> Result<Option<(User, String)>, ManagerError> {
        let Some(changes) = &self.email_changes else {
            return Ok(None);
        };
        let Some(user) = self.parse_id(sub) else {
            return Ok(None);
        };
        let Some(user) = self.store.get(user).await? else {
            return Ok(None);
        };
        if user.email == email || !changes.take_pending_email(user.id, email).await? {
            return Ok(None);
        }
        let mut patch = UserPatch {
            email: Some(email.to_owned()),
            is_verified: Some(true),
            ..UserPatch::default()
        };
        patch.expect.email = Some(user.email.clone());
        let updated = match self.store.update(user.id, &patch).await {
            Ok(Some(updated)) => updated,
            // Taken meanwhile, or the user's address changed: the link is spent for nothing.
            Ok(None) | Err(StoreError::Conflict) => return Err(ManagerError::InvalidToken),
            Err(other) => return Err(other.into()),
        };
        let mut change = serde_json::Map::new();
        change.insert("email".into(), email.into());
        self.updated(&updated, &change, request).await;
        let result = self
            .hooks
            .on_after_verify(&updated, &self.context(request))
            .await;
        log_after("on_after_verify", &updated, result);
        Ok(Some((updated, user.email)))
    }

    /// Issues a verification token and hands it to `on_after_request_verify`. Refused for
    /// inactive and already verified users.
    pub async fn request_verify(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> Result<String, ManagerError> {
        if !user.is_active {
            return Err(ManagerError::UserInactive);
        }
        if user.is_verified {
            return Err(ManagerError::UserAlreadyVerified);
        }
        let token = self.verification_token(user)?;
        let result = self
            .hooks
            .on_after_request_verify(user, &token, &self.context(request))
            .await;
        log_after("on_after_request_verify", user, result);
        Ok(token)
    }

    /// Verifies the user a token names. Checked in FastAPI Users' order: signature, audience
    /// and expiry; `sub` and `email` present; a user with that e-mail whose id is `sub` (so a
    /// token issued before an e-mail change is dead); not yet verified. Inactive users can be
    /// verified.
    pub async fn verify(&self, token: &str, request: Option<&Parts>) -> Result<User, ManagerError> {
        Ok(self.verify_or_switch(token, request).await?.0)
    }

    /// [`Self::verify`], and the address of before when the token confirmed an e-mail change.
    pub(crate) async fn verify_or_switch(
        &self,
        token: &str,
        request: Option<&Parts>,
    ) -> Result<(User, Option<String>), ManagerError> {
        let claims = self
            .verify_tokens
            .read(token)
            .ok_or(ManagerError::InvalidToken)?;
        let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
        let (Some(sub), Some(email)) = (text("sub"), text("email")) else {
            return Err(ManagerError::InvalidToken);
        };
        if let Some((user, before)) = self.confirm_email_change(sub, email, request).await? {
            return Ok((user, Some(before)));
        }
        let user = self
            .store
            .get_by_email(email)
            .await?
            .ok_or(ManagerError::InvalidToken)?;
        if self.parse_id(sub) != Some(user.id) {
            return Err(ManagerError::InvalidToken);
        }
        if user.is_verified {
            return Err(ManagerError::UserAlreadyVerified);
        }
        // Spent once: of requests racing with one token, the one whose write finds the user
        // unverified (and still at that address) wins; the others are told it is done.
        let mut patch = UserPatch {
            is_verified: Some(true),
            ..UserPatch::default()
        };
        patch.expect.is_verified = Some(false);
        patch.expect.email = Some(user.email.clone());
        let Some(user) = self.store.update(user.id, &patch).await? else {
            return match self.store.get(user.id).await? {
                Some(now) if now.is_verified && now.email == user.email => {
                    Err(ManagerError::UserAlreadyVerified)
                }
                _ => Err(ManagerError::InvalidToken),
            };
        };
        let result = self
            .hooks
            .on_after_verify(&user, &self.context(request))
            .await;
        log_after("on_after_verify", &user, result);
        Ok((user, None))
    }

    /// Issues a reset token and hands it to `on_after_forgot_password`. The token carries a
    /// fingerprint (a hash) of the current password hash, so any password change kills it.
    pub async fn forgot_password(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> Result<String, ManagerError> {
        if !user.is_active {
            return Err(ManagerError::UserInactive);
        }
        let fingerprint = self.hasher.fingerprint(&user.hashed_password).await?;
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), user.id.to_string().into());
        claims.insert("password_fgpt".into(), fingerprint.into());
        let token = self
            .reset_tokens
            .mint(claims)
            .map_err(ManagerError::Token)?;
        let result = self
            .hooks
            .on_after_forgot_password(user, &token, &self.context(request))
            .await;
        log_after("on_after_forgot_password", user, result);
        Ok(token)
    }

    /// Sets a new password with a reset token. Every token problem, an unknown or inactive
    /// user, and a password changed since the token was issued give
    /// [`ManagerError::InvalidToken`].
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
        request: Option<&Parts>,
    ) -> Result<User, ManagerError> {
        let claims = self
            .reset_tokens
            .read(token)
            .ok_or(ManagerError::InvalidToken)?;
        let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
        let (Some(sub), Some(fingerprint)) = (text("sub"), text("password_fgpt")) else {
            return Err(ManagerError::InvalidToken);
        };
        let id = self.parse_id(sub).ok_or(ManagerError::InvalidToken)?;
        let user = self
            .store
            .get(id)
            .await?
            .ok_or(ManagerError::InvalidToken)?;
        if !self
            .hasher
            .matches(&user.hashed_password, fingerprint)
            .await?
        {
            return Err(ManagerError::InvalidToken);
        }
        if !user.is_active {
            return Err(ManagerError::InvalidToken);
        }
        self.validate_password(password, &user.email).await?;
        // Spent once: the token is bound to the password hash it was issued for, and the new
        // hash is written only over that one, so of requests racing with one token exactly one
        // succeeds, and its password is the one in force.
        let mut patch = UserPatch::default().hashed_password(self.hasher.hash(password).await?);
        patch.expect.hashed_password = Some(user.hashed_password.clone());
        patch.expect.is_active = Some(true);
        patch.bump_token_version = self.password_change_revokes_jwts;
        let written = self.store.update(user.id, &patch).await?;
        let user = written.ok_or(ManagerError::InvalidToken)?;
        self.revoke_tokens(user.id).await?;
        let result = self
            .hooks
            .on_after_reset_password(&user, &self.context(request))
            .await;
        log_after("on_after_reset_password", &user, result);
        Ok(user)
    }

    /// Deletes a user with its tokens and OAuth accounts, between the two delete hooks.
    pub async fn delete(&self, user: &User, request: Option<&Parts>) -> Result<(), ManagerError> {
        let ctx = self.context(request);
        self.hooks.on_before_delete(user, &ctx).await?;
        self.store.delete(user.id).await?;
        self.revoke_tokens(user.id).await?;
        if let Some(mfa) = &self.mfa {
            mfa.delete_mfa(user.id).await?;
        }
        #[cfg(feature = "passkeys")]
        if let Some(passkeys) = &self.passkeys {
            use crate::passkey::PasskeyStore as _;
            passkeys.delete_user_passkeys(user.id).await?;
        }
        let result = self.hooks.on_after_delete(user, &ctx).await;
        log_after("on_after_delete", user, result);
        Ok(())
    }
}
