//! The second factor over HTTP: enrolment (`GET /auth/mfa`, `POST /auth/mfa/totp/setup`,
//! `/enable`, `/disable`, `POST /auth/mfa/recovery-codes`), the challenge a login answers for a
//! user with it on, `POST /auth/mfa/verify` that completes that login, and a superuser's
//! `DELETE /users/{id}/mfa`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse as _, Response};
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use super::body::string_fields;
use super::table::Endpoint;
use crate::auth::Backend;
use crate::hooks::{log_after, Hooks as _};
use crate::json::json_response;
use crate::jwt::now_unix;
use crate::mfa::{
    check_code, new_recovery_codes, new_secret, qr_svg, totp, Mfa, MfaChallenge, MfaChange,
    MfaRecord, MfaStore as _, MAX_CHALLENGES, MFA_ALREADY_ENABLED, MFA_INVALID_CODE,
    MFA_NOT_ENABLED, MFA_NOT_SET_UP, MFA_TOKEN_INVALID,
};
use crate::ratelimit::Scope;
use crate::session::random_id;
use crate::{ApiError, AxumUsers, User};

/// `400 {"detail": code}`: a rule of the second factor or of passkeys refused the request.
pub(super) fn refused(code: &'static str) -> ApiError {
    ApiError::Custom {
        status: StatusCode::BAD_REQUEST,
        detail: Value::from(code),
    }
}

pub(super) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl AxumUsers {
    /// The second factor's routes (mount under `/auth`), when
    /// [`AxumUsersBuilder::mfa`](crate::AxumUsersBuilder::mfa) configured it.
    pub fn mfa_router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.mount("/auth", self.mfa_endpoints())
    }

    pub(crate) fn mfa_endpoints(&self) -> Vec<Endpoint> {
        if self.mfa().is_none() {
            return Vec::new();
        }
        vec![
            Endpoint::at("/auth/mfa").get(status, |doc| doc.mfa_status()),
            Endpoint::at("/auth/mfa/totp/setup").post(setup, |doc| doc.totp_setup()),
            Endpoint::at("/auth/mfa/totp/enable")
                .post(enable, |doc| doc.totp_enable())
                .limited(),
            Endpoint::at("/auth/mfa/totp/disable")
                .post(disable, |doc| doc.totp_disable())
                .limited(),
            Endpoint::at("/auth/mfa/recovery-codes")
                .post(regenerate, |doc| doc.recovery_codes())
                .limited(),
            Endpoint::at("/auth/mfa/verify")
                .post(verify, |doc| doc.mfa_verify())
                .limited(),
        ]
    }

    /// A superuser's `DELETE /users/{id}/mfa`.
    pub(crate) fn user_mfa_endpoints(&self) -> Vec<Endpoint> {
        if self.mfa().is_none() {
            return Vec::new();
        }
        vec![Endpoint::at("/users/{id}/mfa").delete(reset_user_mfa, |doc| doc.reset_user_mfa())]
    }

    /// For a user with a second factor on: the challenge (`401 LOGIN_MFA_REQUIRED` with its
    /// token) instead of a session. `Ok` for everyone else.
    pub(crate) async fn require_second_factor(
        &self,
        backend: &Backend,
        user: &User,
        method: &str,
    ) -> Result<(), ApiError> {
        let Some(mfa) = self.mfa() else {
            return Ok(());
        };
        if !mfa
            .store
            .get_mfa(user.id)
            .await?
            .is_some_and(|record| record.enabled)
        {
            return Ok(());
        }
        let lifetime = i64::try_from(mfa.settings.challenge_lifetime.as_secs()).unwrap_or(300);
        let challenge = MfaChallenge {
            id: random_id(),
            user_id: user.id,
            backend: backend.name.clone(),
            method: method.to_owned(),
            expires_at: now_unix().saturating_add(lifetime),
            attempts: 0,
        };
        mfa.store
            .create_challenge(&challenge, MAX_CHALLENGES)
            .await?;
        Err(ApiError::MfaRequired(challenge.id))
    }

    pub(super) async fn mfa_changed(&self, user: &User, change: MfaChange, parts: &Parts) {
        let manager = self.manager();
        let result = manager
            .hooks
            .on_after_mfa_change(user, change, &manager.context(Some(parts)))
            .await;
        log_after("on_after_mfa_change", user, result);
        let kind = match change {
            MfaChange::Enabled => "mfa.enabled",
            MfaChange::Disabled => "mfa.disabled",
            MfaChange::RecoveryCodesRegenerated => "mfa.recovery_codes_regenerated",
            MfaChange::RecoveryCodeUsed => "mfa.recovery_code_used",
            MfaChange::PasskeyAdded => "passkey.added",
            MfaChange::PasskeyRemoved => "passkey.removed",
            // Recorded where the acting superuser is known.
            MfaChange::ResetByAdmin => "",
        };
        if !kind.is_empty() {
            self.record_user(kind, user, parts, json!({})).await;
        }
        // Where there is a mailer the user hears of it too, after the answer.
        let change = match change {
            MfaChange::Enabled => "two-factor sign-in was turned on",
            MfaChange::Disabled => "two-factor sign-in was turned off",
            MfaChange::RecoveryCodesRegenerated => "new recovery codes replaced the old ones",
            MfaChange::RecoveryCodeUsed => "a recovery code was used to sign in",
            MfaChange::ResetByAdmin => "an administrator removed your two-factor sign-in",
            MfaChange::PasskeyAdded => "a passkey was added to your account",
            MfaChange::PasskeyRemoved => "a passkey was removed from your account",
        };
        let (mail, user) = (self.mail().clone(), user.clone());
        self.spawn_background(async move { mail.notify(&user, change).await });
    }
}

fn mfa(users: &AxumUsers) -> Result<&Mfa, ApiError> {
    users
        .mfa()
        .ok_or_else(|| ApiError::Internal("the second factor vanished".into()))
}

/// The signed-in user (active; cookie requests from allowed origins only).
pub(super) async fn caller(users: &AxumUsers, parts: &Parts) -> Result<User, ApiError> {
    Ok(users
        .signed_in(&parts.method, &parts.headers, false)
        .await?
        .user)
}

/// `GET /auth/mfa`: whether TOTP is on, and how many recovery codes are left.
async fn status(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = caller(&users, &parts).await?;
    let mfa = mfa(&users)?;
    let enabled = mfa.store.get_mfa(user.id).await?.is_some_and(|r| r.enabled);
    let left = if enabled {
        mfa.store.recovery_codes_left(user.id).await?
    } else {
        0
    };
    Ok(no_store(json_response(
        StatusCode::OK,
        &json!({"totp_enabled": enabled, "recovery_codes_left": left}),
    )))
}

/// `POST /auth/mfa/totp/setup`: a new secret (not in force until `enable`), its `otpauth://`
/// URL and QR code.
async fn setup(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = caller(&users, &parts).await?;
    let mfa = mfa(&users)?;
    let secret = new_secret();
    let record = MfaRecord {
        user_id: user.id,
        secret: secret.clone(),
        enabled: false,
        last_step: 0,
        created_at: now_unix(),
    };
    if !mfa.store.set_up_mfa(&record).await? {
        return Err(refused(MFA_ALREADY_ENABLED));
    }
    let url = totp(&secret, &mfa.settings.issuer, &user.email)
        .and_then(|totp| totp.to_url().ok())
        .ok_or_else(|| ApiError::Internal("cannot write the otpauth URL".into()))?;
    let qr = qr_svg(&url).unwrap_or_default();
    Ok(no_store(json_response(
        StatusCode::OK,
        &json!({"secret": secret, "otpauth_url": url, "qr_svg": qr}),
    )))
}

fn unix_now() -> u64 {
    u64::try_from(now_unix()).unwrap_or(0)
}

/// New recovery codes for `user`, kept as digests; answered once.
async fn fresh_codes(mfa: &Mfa, user: &User) -> Result<Vec<String>, ApiError> {
    let codes = new_recovery_codes();
    let digests: Vec<String> = codes.iter().map(|c| mfa.settings.digest(c)).collect();
    mfa.store.set_recovery_codes(user.id, &digests).await?;
    Ok(codes)
}

/// `POST /auth/mfa/totp/enable` with `{"code"}`: TOTP on, and 10 recovery codes.
async fn enable(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let user = caller(&users, &parts).await?;
    users
        .limits()
        .check_user(Scope::PasswordChange, user.id)
        .await?;
    let values = string_fields(&users, &parts, body, &["code"], &["code"]).await?;
    let code = values[0].clone().unwrap_or_default();
    let mfa = mfa(&users)?;
    let record = match mfa.store.get_mfa(user.id).await? {
        None => return Err(refused(MFA_NOT_SET_UP)),
        Some(record) if record.enabled => return Err(refused(MFA_ALREADY_ENABLED)),
        Some(record) => record,
    };
    let step = totp(&record.secret, &mfa.settings.issuer, &user.email)
        .and_then(|totp| check_code(&totp, &code, unix_now()))
        .ok_or_else(|| refused(MFA_INVALID_CODE))?;
    if !mfa.store.enable_mfa(user.id, &record.secret, step).await? {
        return Err(refused(MFA_ALREADY_ENABLED));
    }
    let codes = fresh_codes(mfa, &user).await?;
    users.mfa_changed(&user, MfaChange::Enabled, &parts).await;
    Ok(no_store(json_response(
        StatusCode::OK,
        &json!({ "recovery_codes": codes }),
    )))
}

/// Whether `code` (a current TOTP code, spent by this call, or an unused recovery code, spent
/// too) proves `user`'s second factor; which kind it was.
async fn spend_code(mfa: &Mfa, user: &User, code: &str) -> Result<Option<&'static str>, ApiError> {
    let Some(record) = mfa.store.get_mfa(user.id).await?.filter(|r| r.enabled) else {
        return Ok(None);
    };
    let trimmed = code.trim();
    if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let step = totp(&record.secret, &mfa.settings.issuer, &user.email)
            .and_then(|totp| check_code(&totp, trimmed, unix_now()));
        return Ok(match step {
            Some(step) if mfa.store.spend_step(user.id, step).await? => Some("totp"),
            _ => None,
        });
    }
    if trimmed.len() > 64 {
        return Ok(None);
    }
    let digest = mfa.settings.digest(trimmed);
    Ok(mfa
        .store
        .spend_recovery_code(user.id, &digest)
        .await?
        .then_some("recovery"))
}

/// The proof that `disable` and `recovery-codes` take: a current code, or the password.
async fn prove(
    users: &AxumUsers,
    mfa: &Mfa,
    user: &User,
    code: Option<&str>,
    password: Option<&str>,
    parts: &Parts,
) -> Result<(), ApiError> {
    if let Some(code) = code {
        return match spend_code(mfa, user, code).await? {
            Some(kind) => {
                if kind == "recovery" {
                    users
                        .mfa_changed(user, MfaChange::RecoveryCodeUsed, parts)
                        .await;
                }
                Ok(())
            }
            None => Err(refused(MFA_INVALID_CODE)),
        };
    }
    // No proof at all proves nothing (the body is well-formed: both fields are optional).
    let Some(password) = password else {
        return Err(refused(MFA_INVALID_CODE));
    };
    match users.manager().authenticate(&user.email, password).await? {
        Some(found) if found.id == user.id => Ok(()),
        _ => Err(refused(MFA_INVALID_CODE)),
    }
}

/// The enabled enrolment's proof from a `{"code"}` or `{"password"}` body.
async fn proven_caller(users: &AxumUsers, request: Request) -> Result<(User, Parts), ApiError> {
    let (parts, body) = request.into_parts();
    let user = caller(users, &parts).await?;
    users
        .limits()
        .check_user(Scope::PasswordChange, user.id)
        .await?;
    let values = string_fields(users, &parts, body, &["code", "password"], &[]).await?;
    let mfa = mfa(users)?;
    if !mfa.store.get_mfa(user.id).await?.is_some_and(|r| r.enabled) {
        return Err(refused(MFA_NOT_ENABLED));
    }
    prove(
        users,
        mfa,
        &user,
        values[0].as_deref(),
        values[1].as_deref(),
        &parts,
    )
    .await?;
    Ok((user, parts))
}

/// `POST /auth/mfa/totp/disable` with `{"code"}` or `{"password"}`.
async fn disable(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (user, parts) = proven_caller(&users, request).await?;
    mfa(&users)?.store.delete_mfa(user.id).await?;
    users.mfa_changed(&user, MfaChange::Disabled, &parts).await;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

/// `POST /auth/mfa/recovery-codes` with `{"code"}` or `{"password"}`: 10 new codes, the old
/// ones void.
async fn regenerate(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (user, parts) = proven_caller(&users, request).await?;
    let codes = fresh_codes(mfa(&users)?, &user).await?;
    users
        .mfa_changed(&user, MfaChange::RecoveryCodesRegenerated, &parts)
        .await;
    Ok(no_store(json_response(
        StatusCode::OK,
        &json!({ "recovery_codes": codes }),
    )))
}

/// `POST /auth/mfa/verify` with `{"mfa_token", "code"}`: completes the login the token stands
/// for, through its backend. Wrong codes count toward the account's login backoff, and end the
/// challenge after [`MfaSettings::max_attempts`](crate::MfaSettings::max_attempts).
async fn verify(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let limits = users.limits();
    limits.check(Scope::Login, &parts).await?;
    let values = string_fields(
        &users,
        &parts,
        body,
        &["mfa_token", "code"],
        &["mfa_token", "code"],
    )
    .await?;
    let (token, code) = (
        values[0].clone().unwrap_or_default(),
        values[1].clone().unwrap_or_default(),
    );
    let mfa = mfa(&users)?;
    if token.len() > 64 {
        return Err(refused(MFA_TOKEN_INVALID));
    }
    let challenge = mfa
        .store
        .get_challenge(&token)
        .await?
        .filter(|c| c.expires_at > now_unix())
        .ok_or_else(|| refused(MFA_TOKEN_INVALID))?;
    let user = users
        .manager()
        .get(challenge.user_id)
        .await?
        .filter(|u| u.is_active);
    let (Some(user), Some(backend)) = (user, users.backend(&challenge.backend)) else {
        mfa.store.take_challenge(&challenge.id).await?;
        return Err(refused(MFA_TOKEN_INVALID));
    };
    // A completion that sets the auth cookie is a cookie login: a page of another site must not
    // sign the browser in to an account of its choosing ("login CSRF").
    users.check_cookie_login(backend, &parts.headers)?;
    // Per user too: many clients guessing one user's codes are counted together.
    limits.check_user(Scope::Login, user.id).await?;
    limits.check_account(&user.email).await?;
    let Some(kind) = spend_code(mfa, &user, &code).await? else {
        let attempts = mfa.store.fail_challenge(&challenge.id).await?;
        limits.login_failed(&user.email).await?;
        let detail = json!({"email": user.email, "reason": "mfa_invalid_code"});
        users
            .record_user("login.failed", &user, &parts, detail)
            .await;
        if attempts >= mfa.settings.max_attempts {
            mfa.store.take_challenge(&challenge.id).await?;
        }
        return Err(refused(MFA_INVALID_CODE));
    };
    if !mfa.store.take_challenge(&challenge.id).await? {
        return Err(refused(MFA_TOKEN_INVALID));
    }
    limits.login_succeeded(&user.email).await?;
    if kind == "recovery" {
        users
            .mfa_changed(&user, MfaChange::RecoveryCodeUsed, &parts)
            .await;
    }
    let method = format!("{}+{kind}", challenge.method);
    let mut response = users
        .complete_sign_in(backend, &user, &method, &parts)
        .await?;
    users
        .manager()
        .logged_in(&user, Some(&parts), &mut response)
        .await;
    Ok(response)
}

/// `DELETE /users/{id}/mfa`: a superuser removes a user's second factor (a lost phone).
async fn reset_user_mfa(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let (admin, user) = users.named_user_and_caller(&parts, path).await?;
    mfa(&users)?.store.delete_mfa(user.id).await?;
    users
        .record(
            "mfa.reset",
            Some(user.id),
            Some(admin.id),
            &parts,
            json!({}),
        )
        .await;
    users
        .mfa_changed(&user, MfaChange::ResetByAdmin, &parts)
        .await;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}
