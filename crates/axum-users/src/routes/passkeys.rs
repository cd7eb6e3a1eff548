//! Passkeys over HTTP: a signed-in user's registration (`POST /auth/passkeys/register/begin`,
//! `/finish`), list, rename and delete (`/auth/passkeys[/{id}]`), and anyone's discoverable
//! sign-in (`POST /auth/passkeys/login/begin`, `/finish`) through any backend.
//!
//! Each begin answers `{"ceremony_id", "publicKey"}`: the options in WebAuthn's JSON form
//! (binary as base64url), which a browser reads with
//! `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`; each
//! finish takes `{"ceremony_id", "credential"}` with the credential's `toJSON()`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse as _, Response};
use http::StatusCode;
use serde_json::{json, Map, Value};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use super::body::{object_body, string_values};
use super::mfa::{caller, no_store, refused};
use super::table::Endpoint;
use crate::auth::Backend;
use crate::error::ErrorCode;
use crate::jwt::now_unix;
use crate::mfa::MfaChange;
use crate::passkey::{
    credential_key, user_handle, AddPasskey, CeremonyKind, PasskeyCeremony, PasskeyRecord,
    PasskeyStore as _, Passkeys, MAX_REGISTRATIONS, PASSKEY_ALREADY_REGISTERED,
    PASSKEY_CEREMONY_INVALID, PASSKEY_INVALID, PASSKEY_LIMIT_REACHED,
};
use crate::ratelimit::Scope;
use crate::session::random_id;
use crate::validation::{ValidationErrors, ValidationItem};
use crate::{ApiError, AxumUsers, User};

/// The longest passkey name.
const MAX_NAME_CHARS: usize = 64;
/// The name of a passkey registered without one.
const DEFAULT_NAME: &str = "Passkey";

impl AxumUsers {
    /// The passkey routes (mount under `/auth`), when
    /// [`AxumUsersBuilder::passkeys`](crate::AxumUsersBuilder::passkeys) configured them.
    pub fn passkeys_router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.mount("/auth", self.passkeys_endpoints())
    }

    pub(crate) fn passkeys_endpoints(&self) -> Vec<Endpoint> {
        if self.passkeys().is_none() {
            return Vec::new();
        }
        let backends: Vec<String> = self.backends().iter().map(|b| b.name.clone()).collect();
        vec![
            Endpoint::at("/auth/passkeys").get(list, |doc| doc.passkeys_list()),
            Endpoint::at("/auth/passkeys/{id}")
                .patch(rename, |doc| doc.passkey_rename())
                .delete(remove, |doc| doc.passkey_delete()),
            Endpoint::at("/auth/passkeys/register/begin")
                .post(register_begin, |doc| doc.passkey_register_begin())
                .limited(),
            Endpoint::at("/auth/passkeys/register/finish")
                .post(register_finish, |doc| doc.passkey_register_finish())
                .limited(),
            Endpoint::at("/auth/passkeys/login/begin")
                .post(login_begin, |doc| doc.passkey_login_begin())
                .limited(),
            Endpoint::at("/auth/passkeys/login/finish")
                .post(login_finish, move |doc| doc.passkey_login_finish(&backends))
                .limited(),
        ]
    }
}

fn passkeys(users: &AxumUsers) -> Result<&Passkeys, ApiError> {
    users
        .passkeys()
        .ok_or_else(|| ApiError::Internal("passkeys vanished".into()))
}

/// A passkey as the API shows it: never its key material.
fn passkey_json(record: &PasskeyRecord) -> Value {
    json!({
        "id": record.id,
        "name": record.name,
        "created_at": super::sessions::timestamp(record.created_at),
        "last_used_at": record.last_used_at.map_or(Value::Null, super::sessions::timestamp),
    })
}

fn ok_json(status: StatusCode, body: &Value) -> Response {
    no_store(crate::json::json_response(status, body))
}

/// A begin's answer: the ceremony's id beside WebAuthn's `publicKey` options.
fn ceremony_answer(id: &str, options: Value) -> Response {
    let mut body = Map::new();
    body.insert("ceremony_id".into(), Value::from(id));
    if let Value::Object(options) = options {
        body.extend(options);
    }
    ok_json(StatusCode::OK, &Value::Object(body))
}

fn internal(what: &str) -> impl FnOnce(serde_json::Error) -> ApiError + '_ {
    move |error| ApiError::Internal(format!("{what}: {error}"))
}

/// A `name` field: trimmed, 1 to 64 characters.
fn name_value(value: Option<String>, errors: &mut ValidationErrors) -> Option<String> {
    let name = value?.trim().to_owned();
    let count = name.chars().count();
    if count == 0 {
        errors.push(
            ValidationItem::body_field(
                "string_too_short",
                "name",
                "String should have at least 1 character",
                Value::from(name),
            )
            .with_ctx(json!({"min_length": 1})),
        );
        return None;
    }
    if count > MAX_NAME_CHARS {
        errors.push(
            ValidationItem::body_field(
                "string_too_long",
                "name",
                format!("String should have at most {MAX_NAME_CHARS} characters"),
                Value::from(name),
            )
            .with_ctx(json!({"max_length": MAX_NAME_CHARS})),
        );
        return None;
    }
    Some(name)
}

/// The `credential` object of a finish: a JSON object, or a 422 item. What is inside is the
/// authenticator's to say, and checked with the ceremony ([`read_credential`]).
fn credential_value(object: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<Value> {
    match object.get("credential") {
        None => {
            errors.push(ValidationItem::missing("credential", Value::Null));
            None
        }
        Some(value @ Value::Object(_)) => Some(value.clone()),
        Some(other) => {
            errors.push(ValidationItem::body_field(
                "dict_type",
                "credential",
                "Input should be a valid dictionary",
                other.clone(),
            ));
            None
        }
    }
}

/// The credential as webauthn-rs reads it: one that does not read (a missing member, bad
/// base64) fails its check like one that does not verify.
fn read_credential<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|_| refused(PASSKEY_INVALID))
}

/// Takes the ceremony `id` away; refused unless it is of `kind`, unexpired and (for a
/// registration) `user`'s.
async fn take(
    passkeys: &Passkeys,
    id: &str,
    kind: CeremonyKind,
    user: Option<&User>,
) -> Result<PasskeyCeremony, ApiError> {
    if id.len() > 64 {
        return Err(refused(PASSKEY_CEREMONY_INVALID));
    }
    passkeys
        .store
        .take_ceremony(id)
        .await?
        .filter(|c| c.kind == kind && c.expires_at > now_unix() && c.user_id == user.map(|u| u.id))
        .ok_or_else(|| refused(PASSKEY_CEREMONY_INVALID))
}

fn lifetime(passkeys: &Passkeys) -> i64 {
    i64::try_from(passkeys.settings.ceremony_lifetime.as_secs()).unwrap_or(300)
}

/// `GET /auth/passkeys`: the signed-in user's passkeys, oldest first.
async fn list(State(users): State<AxumUsers>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = caller(&users, &parts).await?;
    let records = passkeys(&users)?.store.list_passkeys(user.id).await?;
    let list: Vec<Value> = records.iter().map(passkey_json).collect();
    Ok(ok_json(StatusCode::OK, &Value::Array(list)))
}

/// `PATCH /auth/passkeys/{id}` with `{"name"}`.
async fn rename(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let user = caller(&users, &parts).await?;
    let object = object_body(&users, &parts, body).await?;
    let mut errors = ValidationErrors::default();
    let values = string_values(&object, &["name"], &["name"], &mut errors);
    let name = name_value(values.into_iter().next().flatten(), &mut errors);
    errors.into_result()?;
    let id = path.map(|Path(id)| id).unwrap_or_default();
    let store = &passkeys(&users)?.store;
    let name = name.unwrap_or_default();
    if id.len() > 64 || !store.rename_passkey(user.id, &id, &name).await? {
        return Err(ApiError::NOT_FOUND);
    }
    let record = store
        .list_passkeys(user.id)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(ApiError::NOT_FOUND)?;
    Ok(ok_json(StatusCode::OK, &passkey_json(&record)))
}

/// `DELETE /auth/passkeys/{id}`.
async fn remove(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = caller(&users, &parts).await?;
    let id = path.map(|Path(id)| id).unwrap_or_default();
    if id.len() > 64 || !passkeys(&users)?.store.delete_passkey(user.id, &id).await? {
        return Err(ApiError::NOT_FOUND);
    }
    users
        .mfa_changed(&user, MfaChange::PasskeyRemoved, &parts)
        .await;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

/// `POST /auth/passkeys/register/begin`: the creation options for a new discoverable
/// credential (the user's own are excluded).
async fn register_begin(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let user = caller(&users, &parts).await?;
    users
        .limits()
        .check_user(Scope::PasswordChange, user.id)
        .await?;
    let passkeys = passkeys(&users)?;
    let existing = passkeys.store.list_passkeys(user.id).await?;
    if existing.len() >= passkeys.settings.max_per_user {
        return Err(refused(PASSKEY_LIMIT_REACHED));
    }
    let exclude = existing
        .iter()
        .filter_map(|r| serde_json::from_str::<Passkey>(&r.passkey).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    let (options, state) = passkeys
        .settings
        .webauthn
        .start_passkey_registration(
            user_handle(user.id),
            &user.email,
            &user.email,
            Some(exclude),
        )
        .map_err(|e| ApiError::Internal(format!("cannot start a passkey registration: {e}")))?;
    let mut options = serde_json::to_value(&options).map_err(internal("creation options"))?;
    // A passkey that signs in without a user name must live on the authenticator (a
    // discoverable, "resident" credential): asked for here, where webauthn-rs leaves it
    // optional.
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), Value::from("required"));
        selection.insert("requireResidentKey".into(), Value::from(true));
    }
    let ceremony = PasskeyCeremony {
        id: random_id(),
        kind: CeremonyKind::Register,
        user_id: Some(user.id),
        state: serde_json::to_string(&state).map_err(internal("registration state"))?,
        expires_at: now_unix().saturating_add(lifetime(passkeys)),
    };
    passkeys
        .store
        .create_ceremony(&ceremony, MAX_REGISTRATIONS, usize::MAX, now_unix())
        .await?;
    Ok(ceremony_answer(&ceremony.id, options))
}

/// `POST /auth/passkeys/register/finish` with `{"ceremony_id", "credential", "name"?}`.
async fn register_finish(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let user = caller(&users, &parts).await?;
    users
        .limits()
        .check_user(Scope::PasswordChange, user.id)
        .await?;
    let object = object_body(&users, &parts, body).await?;
    let mut errors = ValidationErrors::default();
    let values = string_values(
        &object,
        &["ceremony_id", "name"],
        &["ceremony_id"],
        &mut errors,
    );
    let credential = credential_value(&object, &mut errors);
    let name = name_value(values.get(1).cloned().flatten(), &mut errors);
    errors.into_result()?;
    let (Some(id), Some(credential)) = (values.into_iter().next().flatten(), credential) else {
        return Err(ApiError::Internal("validated fields vanished".into()));
    };
    let passkeys = passkeys(&users)?;
    let ceremony = take(passkeys, &id, CeremonyKind::Register, Some(&user)).await?;
    let credential: RegisterPublicKeyCredential = read_credential(credential)?;
    let state: PasskeyRegistration =
        serde_json::from_str(&ceremony.state).map_err(internal("registration state"))?;
    // A credential registered already (the user's own, which the options asked the
    // authenticator to exclude, or anyone's): said so, rather than as a failed check. The
    // unique column settles two registrations racing.
    if passkeys
        .store
        .passkey_by_credential(&credential_key(&credential.raw_id))
        .await?
        .is_some()
    {
        return Err(refused(PASSKEY_ALREADY_REGISTERED));
    }
    let passkey = passkeys
        .settings
        .webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|_| refused(PASSKEY_INVALID))?;
    let record = PasskeyRecord {
        id: random_id(),
        user_id: user.id,
        credential_id: credential_key(passkey.cred_id().as_ref()),
        name: name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
        passkey: serde_json::to_string(&passkey).map_err(internal("passkey"))?,
        created_at: now_unix(),
        last_used_at: None,
    };
    match passkeys
        .store
        .add_passkey(&record, passkeys.settings.max_per_user)
        .await?
    {
        AddPasskey::Added => {}
        AddPasskey::Duplicate => return Err(refused(PASSKEY_ALREADY_REGISTERED)),
        _ => return Err(refused(PASSKEY_LIMIT_REACHED)),
    }
    users
        .mfa_changed(&user, MfaChange::PasskeyAdded, &parts)
        .await;
    Ok(ok_json(StatusCode::CREATED, &passkey_json(&record)))
}

/// `POST /auth/passkeys/login/begin`: request options for any discoverable credential of this
/// site (no user name: the authenticator offers its passkeys).
async fn login_begin(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    users.limits().check(Scope::Login, &parts).await?;
    let passkeys = passkeys(&users)?;
    let (mut options, state) = passkeys
        .settings
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| ApiError::Internal(format!("cannot start a passkey sign-in: {e}")))?;
    // A sign-in button opens the browser's dialog; webauthn-rs asks for conditional mediation
    // (the autofill list), which a page can still choose itself.
    options.mediation = None;
    let options = serde_json::to_value(&options).map_err(internal("request options"))?;
    let now = now_unix();
    let ceremony = PasskeyCeremony {
        id: random_id(),
        kind: CeremonyKind::Login,
        user_id: None,
        state: serde_json::to_string(&state).map_err(internal("sign-in state"))?,
        expires_at: now.saturating_add(lifetime(passkeys)),
    };
    if !passkeys
        .store
        .create_ceremony(&ceremony, 0, passkeys.settings.max_pending_logins, now)
        .await?
    {
        return Err(ApiError::TooManyRequests(
            passkeys.settings.ceremony_lifetime,
        ));
    }
    Ok(ceremony_answer(&ceremony.id, options))
}

/// The backend a passkey sign-in answers through: the named one, or the first.
fn chosen_backend<'a>(
    users: &'a AxumUsers,
    name: Option<&str>,
    errors: &mut ValidationErrors,
) -> Option<&'a Backend> {
    let Some(name) = name else {
        return users.backends().first();
    };
    if let Some(backend) = users.backend(name) {
        return Some(backend);
    }
    let names: Vec<String> = users
        .backends()
        .iter()
        .map(|b| format!("'{}'", b.name()))
        .collect();
    let expected = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    errors.push(
        ValidationItem::body_field(
            "literal_error",
            "backend",
            format!("Input should be {expected}"),
            Value::from(name),
        )
        .with_ctx(json!({ "expected": expected })),
    );
    None
}

/// `POST /auth/passkeys/login/finish` with `{"ceremony_id", "credential", "backend"?}`: signs
/// the passkey's owner in through the backend (the first one unless named), as that backend's
/// login answers. User verification was required, so no TOTP challenge follows.
async fn login_finish(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let limits = users.limits();
    limits.check(Scope::Login, &parts).await?;
    let object = object_body(&users, &parts, body).await?;
    let mut errors = ValidationErrors::default();
    let values = string_values(
        &object,
        &["ceremony_id", "backend"],
        &["ceremony_id"],
        &mut errors,
    );
    let credential = credential_value(&object, &mut errors);
    let backend = chosen_backend(
        &users,
        values.get(1).and_then(Option::as_deref),
        &mut errors,
    );
    errors.into_result()?;
    let (Some(id), Some(credential), Some(backend)) =
        (values.into_iter().next().flatten(), credential, backend)
    else {
        return Err(ApiError::Internal("validated fields vanished".into()));
    };
    // A sign-in that sets the auth cookie: not for a page of another site ("login CSRF").
    users.check_cookie_login(backend, &parts.headers)?;
    let passkeys = passkeys(&users)?;
    let ceremony = take(passkeys, &id, CeremonyKind::Login, None).await?;
    let credential: PublicKeyCredential = read_credential(credential)?;
    let state: DiscoverableAuthentication =
        serde_json::from_str(&ceremony.state).map_err(internal("sign-in state"))?;
    let webauthn = &passkeys.settings.webauthn;
    let (handle, credential_id) = webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(|_| refused(PASSKEY_INVALID))?;
    let record = passkeys
        .store
        .passkey_by_credential(&credential_key(credential_id))
        .await?
        .filter(|r| user_handle(r.user_id) == handle)
        .ok_or_else(|| refused(PASSKEY_INVALID))?;
    let mut passkey: Passkey =
        serde_json::from_str(&record.passkey).map_err(internal("stored passkey"))?;
    let verified = webauthn
        .finish_discoverable_authentication_v2(&credential, state, &passkey)
        .ok()
        .filter(webauthn_rs::prelude::AuthenticationResult::user_verified);
    let Some(result) = verified else {
        let detail = json!({"reason": "passkey_invalid", "passkey_id": record.id});
        users
            .record("login.failed", Some(record.user_id), None, &parts, detail)
            .await;
        return Err(refused(PASSKEY_INVALID));
    };
    passkey.update_credential(&result);
    let state = serde_json::to_string(&passkey).map_err(internal("passkey"))?;
    passkeys
        .store
        .passkey_used(&record.id, &state, now_unix())
        .await?;
    let manager = users.manager();
    let user = match manager.get(record.user_id).await? {
        Some(user) if user.is_active => user,
        _ => return Err(ApiError::Code(ErrorCode::LoginBadCredentials)),
    };
    limits.check_user(Scope::Login, user.id).await?;
    if users.requires_verification() && !user.is_verified {
        return Err(ApiError::Code(ErrorCode::LoginUserNotVerified));
    }
    let mut response = users
        .complete_sign_in(backend, &user, "passkey", &parts)
        .await?;
    manager.logged_in(&user, Some(&parts), &mut response).await;
    Ok(response)
}
