//! OAuth2 / OpenID Connect providers (documented on [`OAuthProvider`], from `docs/oauth.md`).

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;
use tokio::sync::OnceCell;

use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, ClaimsVerificationError, ClientId, IdToken,
    IssuerUrl, Nonce, SignatureVerificationError,
};

use crate::jwt::now_unix;

/// What went wrong talking to a provider. The routes answer `502 {"detail":"OAUTH_PROVIDER_ERROR"}`
/// and log the message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("OAuth provider {provider}: {message}")]
pub struct ProviderError {
    /// The provider's name.
    pub provider: String,
    /// What failed (never a token).
    pub message: String,
}

/// How the provider says who the user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// OpenID Connect: the ID token (verified), then the userinfo endpoint for a missing e-mail.
    Oidc,
    /// GitHub: `GET /user`, and `GET /user/emails` for the verified primary address.
    GitHub,
    /// Discord: `GET /users/@me` with `email` and `verified`.
    Discord,
}

/// The provider's endpoints: fixed, or read from an OpenID Connect discovery document.
#[derive(Debug, Clone)]
struct Endpoints {
    authorize: String,
    token: String,
    userinfo: Option<String>,
    issuer: Option<String>,
    jwks: Option<String>,
}

/// What a provider said about the account that signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderAccount {
    /// The account's id at the provider (`sub` for OpenID Connect).
    pub account_id: String,
    /// The account's e-mail, if the provider shares it.
    pub email: Option<String>,
    /// Whether the provider vouches for the e-mail (OpenID Connect `email_verified`, GitHub's
    /// verified primary address, Discord's `verified`).
    pub email_verified: bool,
}

/// The provider's tokens after the code exchange.
#[derive(Clone)]
pub struct ProviderTokens {
    /// The access token.
    pub access_token: String,
    /// When it expires (Unix seconds): `expires_at`, else now + `expires_in`.
    pub expires_at: Option<i64>,
    /// The refresh token, if any.
    pub refresh_token: Option<String>,
    id_token: Option<String>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One OAuth2 / OpenID Connect provider. Cheap to clone.
///
#[doc = include_str!("docs/oauth.md")]
#[derive(Clone)]
pub struct OAuthProvider {
    inner: Arc<Inner>,
}

/// What the provider is (cloned when a builder method changes it).
#[derive(Clone)]
struct Config {
    name: String,
    client_id: String,
    client_secret: String,
    flavor: Flavor,
    scopes: Vec<String>,
    fixed: Option<Endpoints>,
    issuer: Option<String>,
}

struct Inner {
    config: Config,
    discovered: OnceCell<Endpoints>,
    /// The provider's keys, with when they were fetched.
    keys: tokio::sync::RwLock<Option<(CoreJsonWebKeySet, std::time::Instant)>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for OAuthProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthProvider")
            .field("name", &self.config().name)
            .field("flavor", &self.config().flavor)
            .field("scopes", &self.config().scopes)
            .finish_non_exhaustive()
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("axum-users/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// GitHub's and Discord's fixed endpoints: the web pages under `web`, the API under `api`.
fn social_endpoints(flavor: Flavor, web: &str, api: &str) -> Option<Endpoints> {
    let (authorize, token, userinfo) = match flavor {
        Flavor::Oidc => return None,
        Flavor::GitHub => (
            format!("{web}/login/oauth/authorize"),
            format!("{web}/login/oauth/access_token"),
            format!("{api}/user"),
        ),
        Flavor::Discord => (
            format!("{web}/oauth2/authorize"),
            format!("{api}/api/oauth2/token"),
            format!("{api}/api/users/@me"),
        ),
    };
    Some(Endpoints {
        authorize,
        token,
        userinfo: Some(userinfo),
        issuer: None,
        jwks: None,
    })
}

impl OAuthProvider {
    fn from_config(config: Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                discovered: OnceCell::new(),
                keys: tokio::sync::RwLock::new(None),
                http: http_client(),
            }),
        }
    }

    fn config(&self) -> &Config {
        &self.inner.config
    }

    fn preset(
        name: &str,
        client_id: &str,
        client_secret: &str,
        flavor: Flavor,
        scopes: &[&str],
    ) -> Config {
        Config {
            name: name.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            flavor,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            fixed: None,
            issuer: None,
        }
    }

    /// Any OpenID Connect provider, from its issuer URL (the discovery document is read from
    /// `{issuer}/.well-known/openid-configuration` on first use). Scopes `openid email profile`.
    pub fn oidc(name: &str, issuer: &str, client_id: &str, client_secret: &str) -> Self {
        let mut config = Self::preset(
            name,
            client_id,
            client_secret,
            Flavor::Oidc,
            &["openid", "email", "profile"],
        );
        config.issuer = Some(issuer.trim_end_matches('/').to_owned());
        Self::from_config(config)
    }

    /// Google (OpenID Connect, issuer `https://accounts.google.com`), named `google`.
    pub fn google(client_id: &str, client_secret: &str) -> Self {
        Self::oidc(
            "google",
            "https://accounts.google.com",
            client_id,
            client_secret,
        )
    }

    /// Microsoft identity platform (OpenID Connect), named `microsoft`; `tenant` is `common`,
    /// `organizations`, `consumers` or a tenant id.
    pub fn microsoft(tenant: &str, client_id: &str, client_secret: &str) -> Self {
        Self::oidc(
            "microsoft",
            &format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            client_id,
            client_secret,
        )
    }

    /// GitHub, named `github`: the account is `GET /user`, the e-mail the verified primary one of
    /// `GET /user/emails`.
    pub fn github(client_id: &str, client_secret: &str) -> Self {
        let mut config = Self::preset(
            "github",
            client_id,
            client_secret,
            Flavor::GitHub,
            &["read:user", "user:email"],
        );
        config.fixed = social_endpoints(
            Flavor::GitHub,
            "https://github.com",
            "https://api.github.com",
        );
        Self::from_config(config)
    }

    /// Discord, named `discord`: the account is `GET /users/@me`.
    pub fn discord(client_id: &str, client_secret: &str) -> Self {
        let mut config = Self::preset(
            "discord",
            client_id,
            client_secret,
            Flavor::Discord,
            &["identify", "email"],
        );
        config.fixed = social_endpoints(
            Flavor::Discord,
            "https://discord.com",
            "https://discord.com",
        );
        Self::from_config(config)
    }

    /// Points the provider elsewhere (a proxy, a self-hosted GitHub, a test server): for an
    /// OpenID Connect provider the issuer; for GitHub and Discord the base URL under which
    /// `/login/oauth/authorize` and friends (GitHub) or `/oauth2/authorize` and `/api/...`
    /// (Discord) are found.
    #[must_use]
    pub fn at(self, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        let mut config = self.config().clone();
        match config.flavor {
            Flavor::Oidc => config.issuer = Some(base.to_owned()),
            flavor => config.fixed = social_endpoints(flavor, base, base),
        }
        Self::from_config(config)
    }

    /// Replaces the default scopes.
    #[must_use]
    pub fn scopes(self, scopes: &[&str]) -> Self {
        let mut config = self.config().clone();
        config.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        Self::from_config(config)
    }

    /// The provider's name: the `oauth_name` of its accounts and the `{provider}` of its routes.
    pub fn name(&self) -> &str {
        &self.config().name
    }

    /// Whether this is an OpenID Connect provider (ID token and nonce).
    pub fn is_oidc(&self) -> bool {
        self.config().flavor == Flavor::Oidc
    }

    fn error(&self, message: impl Into<String>) -> ProviderError {
        ProviderError {
            provider: self.config().name.clone(),
            message: message.into(),
        }
    }

    async fn endpoints(&self) -> Result<Endpoints, ProviderError> {
        if let Some(fixed) = &self.config().fixed {
            return Ok(fixed.clone());
        }
        let issuer = self
            .config()
            .issuer
            .clone()
            .ok_or_else(|| self.error("no issuer"))?;
        self.inner
            .discovered
            .get_or_try_init(|| async {
                let url = format!("{issuer}/.well-known/openid-configuration");
                let mut document = self.get_json(&url, None).await?;
                // Discovery requires these three; nothing here reads them, and httpx-oauth (so
                // FastAPI Users) signs in through providers that leave them out: the defaults
                // the specification implies stand in.
                if let Some(fields) = document.as_object_mut() {
                    for (field, default) in [
                        ("response_types_supported", "code"),
                        ("subject_types_supported", "public"),
                        ("id_token_signing_alg_values_supported", "RS256"),
                    ] {
                        fields
                            .entry(field)
                            .or_insert_with(|| Value::from(vec![default]));
                    }
                }
                let metadata: CoreProviderMetadata = serde_json::from_value(document)
                    .map_err(|e| self.error(format!("discovery: {e}")))?;
                Ok(Endpoints {
                    authorize: metadata.authorization_endpoint().as_str().to_owned(),
                    token: metadata
                        .token_endpoint()
                        .ok_or_else(|| self.error("discovery: no token_endpoint"))?
                        .as_str()
                        .to_owned(),
                    userinfo: metadata.userinfo_endpoint().map(|u| u.as_str().to_owned()),
                    issuer: Some(metadata.issuer().as_str().to_owned()),
                    jwks: Some(metadata.jwks_uri().as_str().to_owned()),
                })
            })
            .await
            .cloned()
    }

    async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, ProviderError> {
        let mut request = self
            .inner
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.error(format!("GET {url}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.error(format!("GET {url}: HTTP {status}")));
        }
        response
            .json::<Value>()
            .await
            .map_err(|e| self.error(format!("GET {url}: not JSON: {e}")))
    }

    /// The URL the browser is sent to, with httpx-oauth's parameters in its order
    /// (`response_type`, `client_id`, `redirect_uri`, `state`, `scope`), then PKCE
    /// (`code_challenge`, `code_challenge_method=S256`) and, for OpenID Connect, `nonce`.
    pub async fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        scopes: Option<&[String]>,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<String, ProviderError> {
        let endpoints = self.endpoints().await?;
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config().client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        let scopes = scopes.map_or_else(|| self.config().scopes.join(" "), |s| s.join(" "));
        if !scopes.is_empty() || !self.config().scopes.is_empty() {
            query.append_pair("scope", &scopes);
        }
        query
            .append_pair("code_challenge", &code_challenge(code_verifier))
            .append_pair("code_challenge_method", "S256");
        if self.is_oidc() {
            query.append_pair("nonce", nonce);
        }
        let separator = if endpoints.authorize.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!(
            "{}{separator}{}",
            endpoints.authorize,
            query.finish()
        ))
    }

    /// Exchanges the code (client credentials in the body, `client_secret_post`, with the PKCE
    /// verifier).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<ProviderTokens, ProviderError> {
        let endpoints = self.endpoints().await?;
        let response = self
            .inner
            .http
            .post(&endpoints.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", &self.config().client_id),
                ("client_secret", &self.config().client_secret),
                ("code_verifier", code_verifier),
            ])
            .send()
            .await
            .map_err(|e| self.error(format!("token endpoint: {e}")))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| self.error(format!("token endpoint: HTTP {status}, not JSON: {e}")))?;
        if !status.is_success() || body.get("error").is_some() {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("?");
            return Err(self.error(format!("token endpoint: HTTP {status}, error {error}")));
        }
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let access_token = text("access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.error("token endpoint: no access_token"))?;
        let number = |key: &str| {
            body.get(key).and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
        };
        let expires_at = number("expires_at")
            .or_else(|| number("expires_in").map(|seconds| now_unix().saturating_add(seconds)));
        Ok(ProviderTokens {
            access_token,
            expires_at,
            refresh_token: text("refresh_token"),
            id_token: text("id_token"),
        })
    }

    /// Who signed in: for OpenID Connect the verified ID token (signature by the provider's
    /// keys, issuer, audience, expiry, `nonce`), completed by the userinfo endpoint when it
    /// carries no e-mail; for GitHub and Discord their user APIs.
    pub async fn account(
        &self,
        tokens: &ProviderTokens,
        nonce: &str,
    ) -> Result<ProviderAccount, ProviderError> {
        let endpoints = self.endpoints().await?;
        match self.config().flavor {
            Flavor::Oidc => self.oidc_account(&endpoints, tokens, nonce).await,
            Flavor::GitHub => self.github_account(&endpoints, tokens).await,
            Flavor::Discord => {
                let url = endpoints.userinfo.unwrap_or_default();
                let me = self.get_json(&url, Some(&tokens.access_token)).await?;
                Ok(ProviderAccount {
                    account_id: id_text(me.get("id")).ok_or_else(|| self.error("user: no id"))?,
                    email: me.get("email").and_then(Value::as_str).map(str::to_owned),
                    email_verified: me.get("verified").and_then(Value::as_bool) == Some(true),
                })
            }
        }
    }

    async fn github_account(
        &self,
        endpoints: &Endpoints,
        tokens: &ProviderTokens,
    ) -> Result<ProviderAccount, ProviderError> {
        let url = endpoints.userinfo.clone().unwrap_or_default();
        let me = self.get_json(&url, Some(&tokens.access_token)).await?;
        let account_id = id_text(me.get("id")).ok_or_else(|| self.error("user: no id"))?;
        // The profile e-mail is whatever the user made public; the verified primary address
        // comes from /user/emails.
        let emails = self
            .get_json(&format!("{url}/emails"), Some(&tokens.access_token))
            .await?;
        let primary = emails.as_array().and_then(|list| {
            list.iter()
                .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        });
        let (email, email_verified) = match primary {
            Some(entry) => (
                entry
                    .get("email")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                entry.get("verified").and_then(Value::as_bool) == Some(true),
            ),
            None => (
                me.get("email").and_then(Value::as_str).map(str::to_owned),
                false,
            ),
        };
        Ok(ProviderAccount {
            account_id,
            email,
            email_verified,
        })
    }

    async fn oidc_account(
        &self,
        endpoints: &Endpoints,
        tokens: &ProviderTokens,
        nonce: &str,
    ) -> Result<ProviderAccount, ProviderError> {
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| self.error("no id_token in the token response"))?;
        let claims = self
            .verify_id_token(endpoints, id_token, &tokens.access_token, nonce)
            .await?;
        let account_id = Some(claims.subject().as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.error("id_token: no sub"))?
            .to_owned();
        let mut email = claims.email().map(|e| e.as_str().to_owned());
        let mut verified = claims.email_verified();
        if email.is_none() {
            if let Some(url) = &endpoints.userinfo {
                let info = self.get_json(url, Some(&tokens.access_token)).await?;
                // The userinfo answer is about the same subject, or it is ignored.
                if info.get("sub").and_then(Value::as_str) == Some(account_id.as_str()) {
                    email = info.get("email").and_then(Value::as_str).map(str::to_owned);
                    verified = info.get("email_verified").map(truthy);
                }
            }
        }
        Ok(ProviderAccount {
            account_id,
            email,
            email_verified: verified.unwrap_or(false),
        })
    }

    /// The ID token's claims, checked by openidconnect's verifier (OpenID Connect Core
    /// 3.1.3.7): the signature by one of the provider's keys under an asymmetric algorithm
    /// (never `none`, never HS* with a public key; without `kid`, the one key that fits),
    /// issuer, audience, expiry (60 s of leeway), `nonce`; then `azp` and `at_hash`, which it
    /// leaves to its caller. A `kid` the cached key set does not hold fetches the set again
    /// (a rotation at the provider), at most once per [`JWKS_REFETCH_INTERVAL`] whatever tokens
    /// arrive, so that forged `kid`s cannot make us hammer the provider.
    async fn verify_id_token(
        &self,
        endpoints: &Endpoints,
        id_token: &str,
        access_token: &str,
        nonce: &str,
    ) -> Result<ProviderIdTokenClaims, ProviderError> {
        let token: ProviderIdToken = id_token
            .parse()
            .map_err(|e| self.error(format!("id_token: {e}")))?;
        let keys = self.key_set(endpoints, false).await?;
        match self.check_id_token(endpoints, &token, keys, access_token, nonce) {
            Err(IdTokenRefusal::NoMatchingKey) => {
                let keys = self.key_set(endpoints, true).await?;
                self.check_id_token(endpoints, &token, keys, access_token, nonce)
            }
            checked => checked,
        }
        .map_err(|refusal| self.error(format!("id_token: {refusal}")))
    }

    fn check_id_token(
        &self,
        endpoints: &Endpoints,
        token: &ProviderIdToken,
        keys: CoreJsonWebKeySet,
        access_token: &str,
        nonce: &str,
    ) -> Result<ProviderIdTokenClaims, IdTokenRefusal> {
        let issuer = endpoints.issuer.clone().unwrap_or_default();
        // Microsoft's multi-tenant issuer names the tenant as `{tenantid}`: compared below,
        // with the token's `tid`.
        let templated = issuer.contains("{tenantid}");
        let issuer_url =
            IssuerUrl::new(issuer.clone()).map_err(|e| IdTokenRefusal::Other(e.to_string()))?;
        let client_id = &self.config().client_id;
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(client_id.clone()),
            issuer_url,
            keys,
        )
        .set_allowed_algs(ID_TOKEN_ALGORITHMS)
        .require_issuer_match(!templated)
        // Several audiences are fine when `azp` names this client (checked below).
        .set_other_audience_verifier_fn(|_| true)
        .set_time_fn(|| chrono::DateTime::from(std::time::SystemTime::now() - ID_TOKEN_LEEWAY));
        let claims = token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|error| match error {
                ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                ) => IdTokenRefusal::NoMatchingKey,
                ClaimsVerificationError::SignatureVerification(why) => {
                    IdTokenRefusal::Other(format!("signature: {why}"))
                }
                other => IdTokenRefusal::Other(other.to_string()),
            })?;
        if templated {
            let iss = claims.issuer().as_str();
            let tid = claims.additional_claims().tid.as_deref().unwrap_or("");
            if iss != issuer && iss != issuer.replace("{tenantid}", tid) {
                return Err(IdTokenRefusal::Other("wrong issuer".into()));
            }
        }
        check_azp(
            claims.audiences().len(),
            claims.authorized_party().map(|azp| azp.as_str()),
            client_id,
        )
        .map_err(IdTokenRefusal::Other)?;
        if let Some(claimed) = claims.access_token_hash() {
            let other = |e: &dyn std::fmt::Display| IdTokenRefusal::Other(e.to_string());
            let alg = token.signing_alg().map_err(|e| other(&e))?;
            let key = token.signing_key(&verifier).map_err(|e| other(&e))?;
            let expected =
                AccessTokenHash::from_token(&AccessToken::new(access_token.to_owned()), alg, key)
                    .map_err(|e| other(&e))?;
            if expected != *claimed {
                return Err(IdTokenRefusal::Other(
                    "at_hash is not the access token's".into(),
                ));
            }
        }
        Ok(claims.clone())
    }

    /// The provider's key set: the cached one, or (none cached yet, or `unknown_kid` and the
    /// last fetch is older than [`JWKS_REFETCH_INTERVAL`]) fetched anew. One fetch at a time;
    /// whoever waited finds the fresh set.
    async fn key_set(
        &self,
        endpoints: &Endpoints,
        unknown_kid: bool,
    ) -> Result<CoreJsonWebKeySet, ProviderError> {
        if !unknown_kid {
            if let Some((set, _)) = &*self.inner.keys.read().await {
                return Ok(set.clone());
            }
        }
        let mut cached = self.inner.keys.write().await;
        let due = match cached.as_ref() {
            None => true,
            Some((_, fetched)) => unknown_kid && fetched.elapsed() >= JWKS_REFETCH_INTERVAL,
        };
        if due {
            let jwks_uri = endpoints.jwks.clone().unwrap_or_default();
            let set: CoreJsonWebKeySet =
                serde_json::from_value(self.get_json(&jwks_uri, None).await?)
                    .map_err(|e| self.error(format!("jwks: {e}")))?;
            *cached = Some((set, std::time::Instant::now()));
        }
        cached
            .as_ref()
            .map(|(set, _)| set.clone())
            .ok_or_else(|| self.error("jwks: no key set"))
    }
}

/// The claims of a provider's ID token, with Microsoft's `tid` (its tenant).
type ProviderIdTokenClaims = openidconnect::IdTokenClaims<TenantClaim, CoreGenderClaim>;

type ProviderIdToken = IdToken<
    TenantClaim,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// Microsoft's `tid` claim: the tenant its multi-tenant issuer URL leaves as `{tenantid}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct TenantClaim {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
}

impl AdditionalClaims for TenantClaim {}

/// Why an ID token was refused: no key of the set fits (perhaps a rotation: fetch the set
/// again), or anything else.
#[derive(Debug, thiserror::Error)]
enum IdTokenRefusal {
    #[error("signed with an unknown key")]
    NoMatchingKey,
    #[error("{0}")]
    Other(String),
}

/// The providers' public-key algorithms: never `none`, never HS* (whose key would be public).
const ID_TOKEN_ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// How far past `exp` an ID token is still taken (clocks differ).
const ID_TOKEN_LEEWAY: Duration = Duration::from_secs(60);

/// The shortest time between two fetches of a provider's key set.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// OpenID Connect Core 3.1.3.7: a token for several audiences names the one it was issued to
/// in `azp`, and an `azp` must be this client (openidconnect leaves this to its caller).
fn check_azp(audiences: usize, azp: Option<&str>, client_id: &str) -> Result<(), String> {
    match azp {
        Some(azp) if azp != client_id => Err(format!("issued to another client ({azp})")),
        None if audiences > 1 => Err("several audiences and no azp".into()),
        _ => Ok(()),
    }
}

fn truthy(value: &Value) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}

fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `base64url(HMAC-SHA256(secret, purpose | csrf))`: the PKCE verifier and the OIDC nonce are
/// derived from the CSRF token of the state, so nothing is stored between the two requests, and
/// someone who sees the state (it travels in URLs) cannot compute them without the secret.
pub(crate) fn derive(secret: &[u8], purpose: &str, csrf: &str) -> String {
    use hmac::{KeyInit as _, Mac as _, SimpleHmac};
    let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(secret)
        // HMAC takes keys of any length.
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(purpose.as_bytes());
    mac.update(b"|");
    mac.update(csrf.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// PKCE S256: `base64url(SHA-256(verifier))`.
pub(crate) fn code_challenge(verifier: &str) -> String {
    use sha2::Digest as _;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azp_names_this_client_when_there_are_several_audiences() {
        assert!(check_azp(1, None, "me").is_ok());
        assert!(check_azp(2, Some("me"), "me").is_ok());
        assert_eq!(
            check_azp(2, None, "me"),
            Err("several audiences and no azp".into())
        );
        assert_eq!(
            check_azp(2, Some("you"), "me"),
            Err("issued to another client (you)".into())
        );
        assert_eq!(
            check_azp(1, Some("you"), "me"),
            Err("issued to another client (you)".into())
        );
    }

    /// openidconnect's verifier as configured here, on ES256 ID tokens signed in the test.
    mod id_tokens {
        use super::*;
        use p256::ecdsa::signature::Signer as _;
        use p256::ecdsa::{Signature, SigningKey};
        use serde_json::json;
        use sha2::Digest as _;

        const ISSUER: &str = "https://login.example.com/v2.0";
        const TENANTS: &str = "https://login.example.com/{tenantid}/v2.0";

        fn key(seed: u8) -> SigningKey {
            SigningKey::from_slice(&[seed; 32]).unwrap()
        }

        fn jwk(key: &SigningKey, kid: &str) -> Value {
            let point = key.verifying_key().to_sec1_bytes();
            json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                   "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                   "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
        }

        fn sign(key: &SigningKey, header: Value, claims: &Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature: Signature = key.sign(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
        }

        fn claims() -> Value {
            let now = now_unix();
            json!({"iss": ISSUER, "aud": "client", "sub": "account-1", "exp": now + 300,
                   "iat": now, "nonce": "nonce-1", "email": "kay@camelot.bt",
                   "email_verified": "true"})
        }

        fn check(
            token: &str,
            keys: &[Value],
            issuer: &str,
        ) -> Result<ProviderIdTokenClaims, IdTokenRefusal> {
            let provider = OAuthProvider::oidc("test", issuer, "client", "secret");
            let endpoints = Endpoints {
                authorize: format!("{issuer}/authorize"),
                token: format!("{issuer}/token"),
                userinfo: None,
                issuer: Some(issuer.to_owned()),
                jwks: None,
            };
            let token: ProviderIdToken = token.parse().unwrap();
            let keys = serde_json::from_value(json!({ "keys": keys })).unwrap();
            provider.check_id_token(&endpoints, &token, keys, "access-1", "nonce-1")
        }

        fn refused(result: Result<ProviderIdTokenClaims, IdTokenRefusal>) -> String {
            match result {
                Err(IdTokenRefusal::Other(why)) => why,
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn a_good_token_gives_its_claims() {
            let (a, b) = (key(1), key(2));
            let token = sign(&a, json!({"alg": "ES256", "kid": "a"}), &claims());
            let claims = check(&token, &[jwk(&a, "a"), jwk(&b, "b")], ISSUER).unwrap();
            assert_eq!(claims.subject().as_str(), "account-1");
            assert_eq!(claims.email().map(|e| e.as_str()), Some("kay@camelot.bt"));
            // A provider writing the boolean as a string.
            assert_eq!(claims.email_verified(), Some(true));
        }

        #[test]
        fn keys_are_chosen_by_kid_or_by_being_the_only_one() {
            let (a, b) = (key(1), key(2));
            let no_kid = sign(&a, json!({"alg": "ES256"}), &claims());
            assert!(check(&no_kid, &[jwk(&a, "a")], ISSUER).is_ok());
            let why = refused(check(&no_kid, &[jwk(&a, "a"), jwk(&b, "b")], ISSUER));
            assert!(why.contains("eligible"), "{why}");
            // A kid the set does not hold: the caller fetches the set again.
            let rotated = sign(&a, json!({"alg": "ES256", "kid": "c"}), &claims());
            assert!(matches!(
                check(&rotated, &[jwk(&a, "a")], ISSUER),
                Err(IdTokenRefusal::NoMatchingKey)
            ));
            // Another key under the kid: a forgery.
            let forged = sign(&b, json!({"alg": "ES256", "kid": "a"}), &claims());
            assert!(refused(check(&forged, &[jwk(&a, "a")], ISSUER)).contains("signature"));
        }

        #[test]
        fn symmetric_and_unsigned_tokens_are_refused() {
            let a = key(1);
            let body = URL_SAFE_NO_PAD.encode(claims().to_string());
            for alg in ["HS256", "none"] {
                let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg}).to_string());
                let token = format!("{header}.{body}.c2lnbmF0dXJl");
                let why = refused(check(&token, &[jwk(&a, "a")], ISSUER));
                assert!(why.starts_with("signature: "), "{alg}: {why}");
            }
        }

        #[test]
        fn claims_are_checked() {
            let a = key(1);
            let keys = [jwk(&a, "a")];
            let header = || json!({"alg": "ES256", "kid": "a"});
            let with = |change: &dyn Fn(&mut Value)| {
                let mut claims = claims();
                change(&mut claims);
                sign(&a, header(), &claims)
            };
            let now = now_unix();
            // 30 s past expiry is within the leeway; 120 s is not.
            assert!(check(&with(&|c| c["exp"] = json!(now - 30)), &keys, ISSUER).is_ok());
            assert!(refused(check(
                &with(&|c| c["exp"] = json!(now - 120)),
                &keys,
                ISSUER
            ))
            .contains("expired"));
            assert!(refused(check(
                &with(&|c| c["nonce"] = json!("forged")),
                &keys,
                ISSUER
            ))
            .contains("nonce"));
            assert!(refused(check(
                &with(&|c| c["aud"] = json!("another")),
                &keys,
                ISSUER
            ))
            .contains("audience"));
            assert!(refused(check(
                &with(&|c| c["iss"] = json!("https://evil.example")),
                &keys,
                ISSUER
            ))
            .contains("issuer"));
            // Several audiences: fine when azp names this client.
            let several = |azp: Option<&str>| {
                with(&|c| {
                    c["aud"] = json!(["client", "another"]);
                    if let Some(azp) = azp {
                        c["azp"] = json!(azp);
                    }
                })
            };
            assert!(check(&several(Some("client")), &keys, ISSUER).is_ok());
            assert_eq!(
                refused(check(&several(None), &keys, ISSUER)),
                "several audiences and no azp"
            );
            assert_eq!(
                refused(check(&several(Some("another")), &keys, ISSUER)),
                "issued to another client (another)"
            );
            // at_hash: the left half of SHA-256 of the access token (ES256).
            let digest = sha2::Sha256::digest(b"access-1");
            let at_hash = URL_SAFE_NO_PAD.encode(&digest[..16]);
            assert!(check(&with(&|c| c["at_hash"] = json!(at_hash)), &keys, ISSUER).is_ok());
            assert_eq!(
                refused(check(
                    &with(&|c| c["at_hash"] = json!("AAAAAAAAAAAAAAAAAAAAAA")),
                    &keys,
                    ISSUER
                )),
                "at_hash is not the access token's"
            );
        }

        #[test]
        fn a_multi_tenant_issuer_takes_the_tokens_tenant() {
            let a = key(1);
            let keys = [jwk(&a, "a")];
            let tenant = |iss: &str, tid: &str| {
                let mut claims = claims();
                claims["iss"] = json!(iss);
                claims["tid"] = json!(tid);
                sign(&a, json!({"alg": "ES256", "kid": "a"}), &claims)
            };
            let iss = "https://login.example.com/tenant-1/v2.0";
            assert!(check(&tenant(iss, "tenant-1"), &keys, TENANTS).is_ok());
            assert_eq!(
                refused(check(&tenant(iss, "tenant-2"), &keys, TENANTS)),
                "wrong issuer"
            );
        }
    }

    #[test]
    fn pkce_challenge_is_rfc7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn derived_values_depend_on_secret_purpose_and_csrf() {
        let a = derive(b"secret", "pkce", "csrf");
        assert_eq!(a.len(), 43);
        assert_ne!(a, derive(b"other", "pkce", "csrf"));
        assert_ne!(a, derive(b"secret", "nonce", "csrf"));
        assert_ne!(a, derive(b"secret", "pkce", "csrf2"));
        assert_eq!(a, derive(b"secret", "pkce", "csrf"));
    }
}

/// Audience of the state token.
pub const STATE_AUDIENCE: &str = "fastapi-users:oauth-state";
/// A provider account linked to another user already (not a FastAPI Users code).
pub const OAUTH_ACCOUNT_ALREADY_LINKED: &str = "OAUTH_ACCOUNT_ALREADY_LINKED";
/// The provider failed or answered garbage (not a FastAPI Users code; it answers a 500).
pub const OAUTH_PROVIDER_ERROR: &str = "OAUTH_PROVIDER_ERROR";
/// `redirect_url` names a page that is not allowed (not a FastAPI Users code).
pub const OAUTH_REDIRECT_NOT_ALLOWED: &str = "OAUTH_REDIRECT_NOT_ALLOWED";

/// How OAuth logins behave. `state_secret` signs the state tokens (give every instance the
/// same one).
#[derive(Clone)]
#[non_exhaustive]
pub struct OAuthSettings {
    state_secret: Vec<u8>,
    /// Link a provider account to the existing user with the same e-mail, when the provider
    /// vouches for the address (`email_verified`); otherwise `OAUTH_USER_ALREADY_EXISTS`.
    /// Default `false`.
    pub associate_by_email: bool,
    /// Users created by an OAuth login are verified when the provider vouches for the e-mail.
    /// Default `false`.
    pub is_verified_by_default: bool,
    /// The callback URL given to the provider, `{provider}` standing for the provider's name
    /// (e.g. a front-end page that forwards `code` and `state`). Default: the callback route's
    /// own absolute URL, from the request (`X-Forwarded-Proto` and `Host`).
    pub redirect_url: Option<String>,
    /// The CSRF cookie (FastAPI Users' defaults: `fastapiusersoauthcsrf`, one hour, `Path=/`,
    /// `HttpOnly`, `Secure`, `SameSite=lax`; set `secure = false` for plain-HTTP development).
    pub csrf_cookie: crate::transport::CookieTransport,
    /// The backend OAuth logins sign in through (default: the first one).
    pub backend: Option<String>,
    /// Where a browser may be sent after login (`?redirect_url=` on `/authorize`): exact URLs
    /// or prefixes ending in `/`. Empty (the default): no redirect, the JSON or 204 answer.
    pub after_login_redirects: Vec<String>,
}

impl std::fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("associate_by_email", &self.associate_by_email)
            .field("is_verified_by_default", &self.is_verified_by_default)
            .field("redirect_url", &self.redirect_url)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl OAuthSettings {
    /// FastAPI Users' defaults with this state secret.
    pub fn new(state_secret: impl AsRef<[u8]>) -> Self {
        Self {
            state_secret: state_secret.as_ref().to_vec(),
            associate_by_email: false,
            is_verified_by_default: false,
            redirect_url: None,
            csrf_cookie: crate::transport::CookieTransport {
                name: "fastapiusersoauthcsrf".into(),
                max_age: Some(3600),
                ..crate::transport::CookieTransport::default()
            },
            backend: None,
            after_login_redirects: Vec::new(),
        }
    }

    pub(crate) fn state_secret(&self) -> &[u8] {
        &self.state_secret
    }

    pub(crate) fn allows_redirect(&self, url: &str) -> bool {
        self.after_login_redirects
            .iter()
            .any(|allowed| url == allowed || (allowed.ends_with('/') && url.starts_with(allowed)))
    }
}

/// The OAuth part of [`AxumUsers`].
pub(crate) struct OAuthConfig {
    pub(crate) store: std::sync::Arc<crate::store::DynOAuthAccountStore<'static>>,
    pub(crate) settings: OAuthSettings,
    pub(crate) providers: Vec<OAuthProvider>,
}
