//! OAuth2 / OpenID Connect login and account linking (feature `oauth`), on FastAPI Users' wire:
//! `GET /authorize` and `GET /callback` per provider (mount under `/auth/{provider}`) and the
//! same for a signed-in user (mount under `/auth/associate/{provider}`).
//!
//! As FastAPI Users 15.0.5: the state is an HS256 JWT (`csrftoken`, `aud:
//! "fastapi-users:oauth-state"`, `exp` in an hour; `sub` too when associating) and the CSRF
//! token is also set as the `fastapiusersoauthcsrf` cookie, which the callback must carry.
//! Beyond it: PKCE (S256) on every request and, for OpenID Connect, the `nonce` and the ID token
//! checked (both derived from the CSRF token with the state secret, so nothing is stored between
//! the two requests); a provider account links to one user at most; `associate_by_email` links
//! only addresses the provider vouches for; the CSRF cookie is cleared after use; a provider
//! that fails answers `502 {"detail":"OAUTH_PROVIDER_ERROR"}`; an optional redirect after login
//! to an allowed URL.

use axum::extract::{OriginalUri, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use super::table::Endpoint;
use crate::error::ErrorCode;
use crate::json::json_response;
use crate::jwt::{now_unix, JwtError, JwtKeys};
use crate::manager::ManagerError;
use crate::oauth::{
    derive, OAuthConfig, OAuthProvider, OAuthSettings, ProviderAccount, ProviderError,
    ProviderTokens, OAUTH_ACCOUNT_ALREADY_LINKED, OAUTH_PROVIDER_ERROR, OAUTH_REDIRECT_NOT_ALLOWED,
    STATE_AUDIENCE,
};
use crate::store::{OAuthAccount, OAuthAccountStore as _, StoreError};
use crate::transport::cookie_value;
use crate::{ApiError, AxumUsers, User, UserId};

impl AxumUsers {
    /// `GET /authorize` and `GET /callback` for `provider`, signing in through the configured
    /// backend (mount under `/auth/{provider}`); `None` without that provider.
    pub fn oauth_router<S: Clone + Send + Sync + 'static>(
        &self,
        provider: &str,
    ) -> Option<Router<S>> {
        self.provider_routes(provider, false)
    }

    /// `GET /authorize` and `GET /callback` that link `provider`'s account to the signed-in
    /// user (mount under `/auth/associate/{provider}`); `None` without that provider.
    pub fn oauth_associate_router<S: Clone + Send + Sync + 'static>(
        &self,
        provider: &str,
    ) -> Option<Router<S>> {
        self.provider_routes(provider, true)
    }

    fn provider_routes<S: Clone + Send + Sync + 'static>(
        &self,
        provider: &str,
        associate: bool,
    ) -> Option<Router<S>> {
        self.oauth_provider(provider)?;
        let prefix = provider_prefix(provider, associate);
        Some(self.mount(&prefix, self.provider_endpoints(provider, associate)))
    }

    /// `GET /authorize` and `GET /callback` of `provider`, to log in or (`associate`) to link.
    pub(crate) fn provider_endpoints(&self, provider: &str, associate: bool) -> Vec<Endpoint> {
        let prefix = provider_prefix(provider, associate);
        let (a, c) = (provider.to_owned(), provider.to_owned());
        let (da, dc) = (provider.to_owned(), provider.to_owned());
        // The backend the provider signs in through names its operations.
        let backend = self
            .oauth()
            .and_then(|o| o.settings.backend.clone())
            .or_else(|| self.backends().first().map(|b| b.name.clone()))
            .unwrap_or_default();
        let callback_backend = backend.clone();
        vec![
            Endpoint::at(format!("{prefix}/authorize")).get(
                move |State(users): State<AxumUsers>, request: Request| async move {
                    authorize(users, &a, request, associate).await
                },
                move |doc| doc.oauth_authorize(&da, &backend, associate),
            ),
            Endpoint::at(format!("{prefix}/callback")).get(
                move |State(users): State<AxumUsers>, request: Request| async move {
                    if associate {
                        associate_callback(users, &c, request).await
                    } else {
                        callback(users, &c, request).await
                    }
                },
                move |doc| doc.oauth_callback(&dc, &callback_backend, associate),
            ),
        ]
    }

    /// The provider accounts linked to a user (tokens included: never send them to a client).
    pub async fn oauth_accounts(&self, user_id: UserId) -> Result<Vec<OAuthAccount>, ApiError> {
        Ok(config(self)?.store.oauth_accounts(user_id).await?)
    }

    /// The configured OAuth providers.
    pub fn oauth_providers(&self) -> &[OAuthProvider] {
        self.oauth().map_or(&[], |o| o.providers.as_slice())
    }

    fn oauth_provider(&self, name: &str) -> Option<&OAuthProvider> {
        self.oauth_providers().iter().find(|p| p.name() == name)
    }
}

fn provider_error(error: &ProviderError) -> ApiError {
    tracing::warn!(%error, "OAuth provider failure");
    ApiError::Custom {
        status: StatusCode::BAD_GATEWAY,
        detail: Value::from(OAUTH_PROVIDER_ERROR),
    }
}

fn bad_request(detail: &str) -> ApiError {
    ApiError::Custom {
        status: StatusCode::BAD_REQUEST,
        detail: Value::from(detail),
    }
}

fn config(users: &AxumUsers) -> Result<&OAuthConfig, ApiError> {
    users
        .oauth()
        .ok_or_else(|| ApiError::Internal("OAuth is not configured".into()))
}

/// The query string's values for `name`, in order.
fn query_values(parts: &Parts, name: &str) -> Vec<String> {
    form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .collect()
}

fn query_value(parts: &Parts, name: &str) -> Option<String> {
    query_values(parts, name).into_iter().next()
}

/// The callback URL: the configured one, else this route's own absolute URL.
fn redirect_uri(settings: &OAuthSettings, provider: &str, parts: &Parts) -> String {
    if let Some(url) = &settings.redirect_url {
        return url.replace("{provider}", provider);
    }
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path().to_owned(), |u| u.0.path().to_owned());
    let path = match path.rsplit_once('/') {
        Some((base, _)) => format!("{base}/callback"),
        None => "/callback".to_owned(),
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let scheme = header("x-forwarded-proto")
        .filter(|p| p == "https" || p == "http")
        .unwrap_or_else(|| "http".to_owned());
    let host = header("host")
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}{path}")
}

async fn authorize(
    users: AxumUsers,
    provider_name: &str,
    request: Request,
    associate: bool,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let caller = if associate {
        Some(
            users
                .signed_in(&parts.method, &parts.headers, false)
                .await?
                .user,
        )
    } else {
        None
    };
    let config = config(&users)?;
    let provider = users
        .oauth_provider(provider_name)
        .ok_or(ApiError::NOT_FOUND)?;
    let settings = &config.settings;
    let after_login = query_value(&parts, "redirect_url");
    if let Some(url) = &after_login {
        if associate || !settings.allows_redirect(url) {
            return Err(bad_request(OAUTH_REDIRECT_NOT_ALLOWED));
        }
    }
    let csrf = crate::strategy::opaque_token();
    let mut claims = Map::new();
    if let Some(user) = &caller {
        claims.insert("sub".into(), Value::from(user.id.to_string()));
    }
    claims.insert("csrftoken".into(), Value::from(csrf.clone()));
    claims.insert("aud".into(), Value::from(STATE_AUDIENCE));
    claims.insert("exp".into(), Value::from(now_unix() + 3600));
    if let Some(url) = after_login {
        claims.insert("redirect_url".into(), Value::from(url));
    }
    let state = JwtKeys::hs256(settings.state_secret())
        .encode(&claims)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let scopes = query_values(&parts, "scopes");
    let scopes = (!scopes.is_empty()).then_some(scopes);
    let url = provider
        .authorization_url(
            &redirect_uri(settings, provider_name, &parts),
            &state,
            scopes.as_deref(),
            &derive(settings.state_secret(), "pkce", &csrf),
            &derive(settings.state_secret(), "nonce", &csrf),
        )
        .await
        .map_err(|e| provider_error(&e))?;
    let mut response = json_response(StatusCode::OK, &json!({"authorization_url": url}));
    set_cookie(
        &mut response,
        &settings
            .csrf_cookie
            .set_cookie(&csrf, settings.csrf_cookie.max_age),
    );
    Ok(response)
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// What both callbacks learn: the state's claims, the provider's tokens, the account and its
/// normalised e-mail.
struct Callback {
    state: Map<String, Value>,
    tokens: ProviderTokens,
    account: ProviderAccount,
    email: String,
}

/// Steps 1–3: the provider's answer, the state, the CSRF cookie; answers the code and the
/// state's claims.
fn read_state(
    settings: &OAuthSettings,
    parts: &Parts,
) -> Result<(String, Map<String, Value>), ApiError> {
    if let Some(error) = query_value(parts, "error") {
        return Err(bad_request(&error));
    }
    let code = query_value(parts, "code").ok_or_else(|| bad_request("Bad Request"))?;
    // The state before the code exchange (FastAPI Users exchanges first): the PKCE verifier is
    // derived from it, and a forged state never reaches the provider nor spends the code.
    let state = query_value(parts, "state").unwrap_or_default();
    let state = JwtKeys::hs256(settings.state_secret())
        .decode(&state, &[STATE_AUDIENCE])
        .map_err(|e| match e {
            JwtError::Expired => ApiError::Code(ErrorCode::AccessTokenAlreadyExpired),
            JwtError::Invalid => ApiError::Code(ErrorCode::AccessTokenDecodeError),
        })?;
    let claimed = csrf_of(&state);
    let cookie = cookie_value(&parts.headers, &settings.csrf_cookie.name).unwrap_or_default();
    if claimed.is_empty()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(
            claimed.as_bytes(),
            cookie.as_bytes(),
        ))
    {
        return Err(ApiError::Code(ErrorCode::OauthInvalidState));
    }
    Ok((code, state))
}

/// The state's CSRF token (empty when missing).
fn csrf_of(state: &Map<String, Value>) -> &str {
    state.get("csrftoken").and_then(Value::as_str).unwrap_or("")
}

/// Steps 4–5: the code exchange (with the PKCE verifier) and the account (with the nonce);
/// then the e-mail must be there.
async fn exchange(
    users: &AxumUsers,
    provider_name: &str,
    parts: &Parts,
    code: &str,
    state: Map<String, Value>,
) -> Result<Callback, ApiError> {
    let settings = &config(users)?.settings;
    let provider = users
        .oauth_provider(provider_name)
        .ok_or(ApiError::NOT_FOUND)?;
    let csrf = csrf_of(&state).to_owned();
    let tokens = provider
        .exchange_code(
            code,
            &redirect_uri(settings, provider_name, parts),
            &derive(settings.state_secret(), "pkce", &csrf),
        )
        .await
        .map_err(|e| provider_error(&e))?;
    let account = provider
        .account(&tokens, &derive(settings.state_secret(), "nonce", &csrf))
        .await
        .map_err(|e| provider_error(&e))?;
    let email = account
        .email
        .as_deref()
        .and_then(|e| crate::email::normalize(e).ok())
        .ok_or(ApiError::Code(ErrorCode::OauthNotAvailableEmail))?;
    Ok(Callback {
        state,
        tokens,
        account,
        email,
    })
}

fn link(provider: &str, callback: &Callback, id: UserId) -> OAuthAccount {
    OAuthAccount {
        id,
        oauth_name: provider.to_owned(),
        access_token: callback.tokens.access_token.clone(),
        expires_at: callback.tokens.expires_at,
        refresh_token: callback.tokens.refresh_token.clone(),
        account_id: callback.account.account_id.clone(),
        account_email: callback.email.clone(),
    }
}

/// The clearing `Set-Cookie` of the CSRF cookie (it has done its job).
fn clear_csrf(settings: &OAuthSettings, response: &mut Response) {
    set_cookie(response, &settings.csrf_cookie.set_cookie("\"\"", Some(0)));
}

async fn callback(
    users: AxumUsers,
    provider_name: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let config = config(&users)?;
    let settings = &config.settings;
    let (code, state) = read_state(settings, &parts)?;
    let backend = match &settings.backend {
        Some(name) => users.backend(name),
        None => users.backends().first(),
    }
    .ok_or_else(|| ApiError::Internal("no backend for OAuth logins".into()))?;
    // Before the code is spent. Only `Origin`: the provider's redirect legitimately comes with
    // its own page as `Referer`.
    if parts.headers.contains_key(http::header::ORIGIN) {
        users.check_cookie_login(backend, &parts.headers)?;
    }
    let callback = exchange(&users, provider_name, &parts, &code, state).await?;
    let user = resolve_user(&users, config, provider_name, &callback, &parts).await?;
    if !user.is_active {
        return Err(ApiError::Code(ErrorCode::LoginBadCredentials));
    }
    let mut response = users
        .sign_in(backend, &user, &format!("oauth:{provider_name}"), &parts)
        .await?;
    if let Some(url) = callback.state.get("redirect_url").and_then(Value::as_str) {
        // Checked at /authorize and signed into the state; checked again in case the list
        // changed since.
        if settings.allows_redirect(url) {
            let mut redirect = StatusCode::SEE_OTHER.into_response();
            for cookie in response.headers().get_all(header::SET_COOKIE) {
                redirect
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
            if let Ok(location) = HeaderValue::from_str(url) {
                redirect.headers_mut().insert(header::LOCATION, location);
            }
            redirect
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response = redirect;
        }
    }
    clear_csrf(settings, &mut response);
    users
        .manager()
        .logged_in(&user, Some(&parts), &mut response)
        .await;
    Ok(response)
}

/// FastAPI Users' `oauth_callback`: the linked user (tokens refreshed), else the user with the
/// e-mail (linked only with `associate_by_email` and an e-mail the provider vouches for), else a
/// new user with an unusable password.
async fn resolve_user(
    users: &AxumUsers,
    config: &OAuthConfig,
    provider: &str,
    callback: &Callback,
    parts: &Parts,
) -> Result<User, ApiError> {
    let manager = users.manager();
    if let Some((user, existing)) = config
        .store
        .get_by_oauth_account(provider, &callback.account.account_id)
        .await?
    {
        config
            .store
            .update_oauth_account(&link(provider, callback, existing.id))
            .await?;
        return Ok(user);
    }
    let settings = &config.settings;
    if let Some(user) = manager.get_by_email(&callback.email).await? {
        if !(settings.associate_by_email && callback.account.email_verified) {
            return Err(ApiError::Code(ErrorCode::OauthUserAlreadyExists));
        }
        add_link(config, provider, callback, user.id).await?;
        let detail = serde_json::json!({"provider": provider, "by": "email"});
        users
            .record_user("oauth.linked", &user, parts, detail)
            .await;
        return Ok(user);
    }
    let verified = settings.is_verified_by_default && callback.account.email_verified;
    let user = match manager
        .create_external(callback.email.clone(), verified)
        .await
    {
        Ok(user) => user,
        Err(ManagerError::UserAlreadyExists) => {
            return Err(ApiError::Code(ErrorCode::OauthUserAlreadyExists))
        }
        Err(other) => return Err(other.into()),
    };
    add_link(config, provider, callback, user.id).await?;
    manager.registered(&user, Some(parts)).await;
    let detail = serde_json::json!({ "provider": provider });
    users
        .record_user("user.registered", &user, parts, detail)
        .await;
    Ok(user)
}

async fn add_link(
    config: &OAuthConfig,
    provider: &str,
    callback: &Callback,
    user_id: UserId,
) -> Result<(), ApiError> {
    match config
        .store
        .add_oauth_account(user_id, &link(provider, callback, UserId::new_uuid()))
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict) => Err(bad_request(OAUTH_ACCOUNT_ALREADY_LINKED)),
        Err(other) => Err(other.into()),
    }
}

async fn associate_callback(
    users: AxumUsers,
    provider_name: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    // The guard comes first, as in FastAPI Users: no valid session, no code exchange.
    let user = users
        .signed_in(&parts.method, &parts.headers, false)
        .await?
        .user;
    let config = config(&users)?;
    let (code, state) = read_state(&config.settings, &parts)?;
    // Someone else's state is refused before its code is spent.
    if state.get("sub").and_then(Value::as_str) != Some(user.id.to_string().as_str()) {
        return Err(bad_request("Bad Request"));
    }
    let callback = exchange(&users, provider_name, &parts, &code, state).await?;
    match config
        .store
        .get_by_oauth_account(provider_name, &callback.account.account_id)
        .await?
    {
        Some((owner, existing)) if owner.id == user.id => {
            config
                .store
                .update_oauth_account(&link(provider_name, &callback, existing.id))
                .await?;
        }
        Some(_) => return Err(bad_request(OAUTH_ACCOUNT_ALREADY_LINKED)),
        None => add_link(config, provider_name, &callback, user.id).await?,
    }
    let detail = serde_json::json!({
        "provider": provider_name,
        "account_id": callback.account.account_id,
    });
    users
        .record_user("oauth.linked", &user, &parts, detail)
        .await;
    users
        .manager()
        .updated(&user, &Map::new(), Some(&parts))
        .await;
    // The user, without the provider's tokens (FastAPI Users returns them).
    let mut response = json_response(StatusCode::OK, &user.to_read());
    clear_csrf(&config.settings, &mut response);
    Ok(response)
}

/// Where a provider's routes are: `/auth/{provider}`, or `/auth/associate/{provider}` to link.
fn provider_prefix(provider: &str, associate: bool) -> String {
    if associate {
        format!("/auth/associate/{provider}")
    } else {
        format!("/auth/{provider}")
    }
}
