//! OAuth2 / OpenID Connect providers (documented on [`OAuthProvider`], from `docs/oauth.md`).

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;
use tokio::sync::OnceCell;

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
    keys: tokio::sync::RwLock<Option<(jsonwebtoken::jwk::JwkSet, std::time::Instant)>>,
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
                let doc = self.get_json(&url, None).await?;
                let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
                Ok(Endpoints {
                    authorize: text("authorization_endpoint")
                        .ok_or_else(|| self.error("discovery: no authorization_endpoint"))?,
                    token: text("token_endpoint")
                        .ok_or_else(|| self.error("discovery: no token_endpoint"))?,
                    userinfo: text("userinfo_endpoint"),
                    issuer: Some(text("issuer").unwrap_or(issuer.clone())),
                    jwks: Some(
                        text("jwks_uri").ok_or_else(|| self.error("discovery: no jwks_uri"))?,
                    ),
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
        let account_id = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.error("id_token: no sub"))?
            .to_owned();
        let mut email = claims
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut verified = claims.get("email_verified").map(truthy);
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

    async fn verify_id_token(
        &self,
        endpoints: &Endpoints,
        id_token: &str,
        access_token: &str,
        nonce: &str,
    ) -> Result<serde_json::Map<String, Value>, ProviderError> {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|e| self.error(format!("id_token: {e}")))?;
        // Only the providers' public-key algorithms: never `none`, never HS* with a public key.
        let allowed = [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ];
        if !allowed.contains(&header.alg) {
            return Err(self.error(format!("id_token: algorithm {:?} refused", header.alg)));
        }
        let key = self.signing_key(endpoints, header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&key).map_err(|e| self.error(format!("jwk: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.config().client_id]);
        validation.leeway = 60;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<serde_json::Map<String, Value>>(id_token, &key, &validation)
                .map_err(|e| self.error(format!("id_token: {e}")))?;
        let claims = data.claims;
        let issuer = endpoints.issuer.clone().unwrap_or_default();
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        // Microsoft's multi-tenant issuer names the tenant as `{tenantid}`.
        let tid = claims.get("tid").and_then(Value::as_str).unwrap_or("");
        if iss != issuer && iss != issuer.replace("{tenantid}", tid) {
            return Err(self.error("id_token: wrong issuer"));
        }
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(self.error("id_token: wrong nonce"));
        }
        check_azp(&claims, &self.config().client_id).map_err(|e| self.error(e))?;
        if let Some(claimed) = claims.get("at_hash") {
            let expected = access_token_hash(header.alg, access_token);
            if expected.as_deref() != claimed.as_str() {
                return Err(self.error("id_token: at_hash is not the access token's"));
            }
        }
        Ok(claims)
    }

    /// The key that signed an ID token. The key set is fetched once and kept; a `kid` it does
    /// not hold (a rotation at the provider) fetches it again, at most once per
    /// [`JWKS_REFETCH_INTERVAL`] whatever tokens arrive, so that forged `kid`s cannot make us
    /// hammer the provider. A token without `kid` is accepted only from a provider with a
    /// single key.
    async fn signing_key(
        &self,
        endpoints: &Endpoints,
        kid: Option<&str>,
    ) -> Result<jsonwebtoken::jwk::Jwk, ProviderError> {
        if let Some((set, _)) = &*self.inner.keys.read().await {
            if let Some(key) = pick_key(set, kid) {
                return Ok(key);
            }
        }
        // One fetch at a time; whoever waited finds the fresh set.
        let mut cached = self.inner.keys.write().await;
        let stale = cached
            .as_ref()
            .is_none_or(|(_, fetched)| fetched.elapsed() >= JWKS_REFETCH_INTERVAL);
        if stale {
            let jwks_uri = endpoints.jwks.clone().unwrap_or_default();
            let set: jsonwebtoken::jwk::JwkSet =
                serde_json::from_value(self.get_json(&jwks_uri, None).await?)
                    .map_err(|e| self.error(format!("jwks: {e}")))?;
            *cached = Some((set, std::time::Instant::now()));
        }
        cached
            .as_ref()
            .and_then(|(set, _)| pick_key(set, kid))
            .ok_or_else(|| self.error("id_token: signed with an unknown key"))
    }
}

/// The shortest time between two fetches of a provider's key set.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// The key a token's `kid` names; without `kid`, the only key of a one-key set.
fn pick_key(set: &jsonwebtoken::jwk::JwkSet, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
    match kid {
        Some(kid) => set.find(kid).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    }
}

/// OpenID Connect Core 3.1.3.7: a token for several audiences names the one it was issued to
/// in `azp`, and an `azp` must be this client.
fn check_azp(claims: &serde_json::Map<String, Value>, client_id: &str) -> Result<(), String> {
    let audiences = match claims.get("aud") {
        Some(Value::Array(list)) => list.len(),
        Some(_) => 1,
        None => 0,
    };
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != client_id => Err(format!("id_token: issued to another client ({azp})")),
        None if audiences > 1 => Err("id_token: several audiences and no azp".into()),
        _ => Ok(()),
    }
}

/// OpenID Connect Core 3.1.3.6 / 3.2.2.9: `at_hash` is the left half of the access token's hash
/// under the hash of the ID token's algorithm, base64url-encoded.
fn access_token_hash(alg: jsonwebtoken::Algorithm, access_token: &str) -> Option<String> {
    use jsonwebtoken::Algorithm::{EdDSA, ES256, ES384, PS256, PS384, PS512, RS256, RS384, RS512};
    use sha2::Digest as _;
    let digest = match alg {
        RS256 | PS256 | ES256 => sha2::Sha256::digest(access_token).to_vec(),
        RS384 | PS384 | ES384 => sha2::Sha384::digest(access_token).to_vec(),
        RS512 | PS512 | EdDSA => sha2::Sha512::digest(access_token).to_vec(),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2]))
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
    fn at_hash_is_the_left_half_of_the_access_tokens_hash() {
        // OpenID Connect Core 1.0, appendix A.3 (RS256).
        assert_eq!(
            access_token_hash(
                jsonwebtoken::Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            )
            .as_deref(),
            Some("77QmUPtjPfzWtF2AnpK9RQ")
        );
        assert_eq!(access_token_hash(jsonwebtoken::Algorithm::HS256, "x"), None);
    }

    #[test]
    fn azp_names_this_client_when_there_are_several_audiences() {
        let claims = |v: Value| v.as_object().cloned().unwrap();
        assert!(check_azp(&claims(serde_json::json!({"aud": "me"})), "me").is_ok());
        assert!(check_azp(&claims(serde_json::json!({"aud": ["me"]})), "me").is_ok());
        assert!(check_azp(
            &claims(serde_json::json!({"aud": ["me", "you"], "azp": "me"})),
            "me"
        )
        .is_ok());
        assert_eq!(
            check_azp(&claims(serde_json::json!({"aud": ["me", "you"]})), "me"),
            Err("id_token: several audiences and no azp".into())
        );
        assert_eq!(
            check_azp(
                &claims(serde_json::json!({"aud": ["me", "you"], "azp": "you"})),
                "me"
            ),
            Err("id_token: issued to another client (you)".into())
        );
    }

    #[test]
    fn a_token_without_kid_needs_a_single_key() {
        let key = |kid: &str| serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": kid, "alg": "HS256"});
        let one: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(serde_json::json!({"keys": [key("a")]})).unwrap();
        let two: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(serde_json::json!({"keys": [key("a"), key("b")]})).unwrap();
        assert!(pick_key(&one, None).is_some());
        assert!(pick_key(&two, None).is_none());
        assert_eq!(
            pick_key(&two, Some("b")).and_then(|k| k.common.key_id),
            Some("b".into())
        );
        assert!(pick_key(&two, Some("c")).is_none());
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
