//! Sign in with an OpenID Connect provider: `GET /auth/{provider}/authorize` answers the
//! provider's URL (FastAPI Users' `{"authorization_url": ...}`), the provider sends the browser
//! back to `GET /auth/{provider}/callback`, which creates or finds the user and signs them in
//! through the cookie backend. PKCE, the nonce and the ID token are checked; the state is bound
//! to the browser by a CSRF cookie.

use axum::Router;
use axum_users::{
    AxumUsers, Backend, ConfigError, CookieTransport, JwtStrategy, OAuthProvider, OAuthSettings,
    SqliteStore,
};

/// axum-users with one OAuth provider, signing users in with a cookie. `secure_cookies` is
/// `false` only for plain-HTTP development.
pub fn users(
    store: SqliteStore,
    provider: OAuthProvider,
    secret: &str,
    secure_cookies: bool,
) -> Result<AxumUsers, ConfigError> {
    let mut settings = OAuthSettings::new(secret);
    settings.csrf_cookie = settings.csrf_cookie.clone().secure(secure_cookies);
    // Users created by a provider that vouches for their address start verified.
    settings.is_verified_by_default = true;
    AxumUsers::builder(store.clone())
        .backend(Backend::new(
            "cookie",
            CookieTransport::default()
                .max_age(Some(3600))
                .secure(secure_cookies),
            JwtStrategy::new(secret, Some(3600)),
        ))
        .oauth(store, settings)
        .oauth_provider(provider)
        .build()
}

/// All of axum-users' routes, the OAuth ones included.
pub fn app(users: &AxumUsers) -> Router {
    users.router()
}
