//! Transports: where the token travels. [`BearerTransport`] reads `Authorization: Bearer` and
//! answers a login with a JSON body; [`CookieTransport`] reads a cookie and answers with
//! `Set-Cookie`, byte for byte as FastAPI Users does.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use crate::json::json_response;

/// `SameSite` attribute of the auth cookie (emitted lower-case, as FastAPI Users does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=lax` (default).
    #[default]
    Lax,
    /// `SameSite=strict`.
    Strict,
    /// `SameSite=none` (needs `Secure` in browsers).
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "lax",
            Self::Strict => "strict",
            Self::None => "none",
        }
    }
}

impl std::str::FromStr for SameSite {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lax" => Ok(Self::Lax),
            "strict" => Ok(Self::Strict),
            "none" => Ok(Self::None),
            other => Err(format!(
                "SameSite must be lax, strict or none, not {other:?}"
            )),
        }
    }
}

/// `Authorization: Bearer <token>`; login answers `200 {"access_token","token_type":"bearer"}`.
#[derive(Debug, Clone)]
pub struct BearerTransport {
    /// The login URL advertised in OpenAPI (`tokenUrl`), e.g. `auth/jwt/login`.
    pub token_url: String,
}

impl BearerTransport {
    /// A bearer transport whose login route is `token_url`.
    pub fn new(token_url: impl Into<String>) -> Self {
        Self {
            token_url: token_url.into(),
        }
    }
}

/// The auth cookie. Defaults are FastAPI Users' (`fastapiusersauth`, session cookie, `Path=/`,
/// `Secure`, `HttpOnly`, `SameSite=lax`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CookieTransport {
    /// Cookie name.
    pub name: String,
    /// `Max-Age` in seconds; `None` for a session cookie.
    pub max_age: Option<u64>,
    /// `Path`.
    pub path: String,
    /// `Domain`, if any.
    pub domain: Option<String>,
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub httponly: bool,
    /// `SameSite`.
    pub samesite: SameSite,
    /// `Path` of the refresh cookie (`<name>_refresh`), when the backend issues refresh
    /// tokens; `None`: the backend's refresh route at the conventional prefix,
    /// `/auth/<backend>/refresh`.
    pub refresh_path: Option<String>,
}

impl CookieTransport {
    /// FastAPI Users' cookie with another name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// `Max-Age` in seconds (`None`: a session cookie).
    #[must_use]
    pub fn max_age(mut self, seconds: Option<u64>) -> Self {
        self.max_age = seconds;
        self
    }

    /// `Path`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// `Domain`.
    #[must_use]
    pub fn domain(mut self, domain: Option<String>) -> Self {
        self.domain = domain;
        self
    }

    /// `Secure` (turn it off only for plain-HTTP development).
    #[must_use]
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// `HttpOnly`.
    #[must_use]
    pub fn httponly(mut self, on: bool) -> Self {
        self.httponly = on;
        self
    }

    /// `SameSite`.
    #[must_use]
    pub fn samesite(mut self, samesite: SameSite) -> Self {
        self.samesite = samesite;
        self
    }

    /// `Path` of the refresh cookie: where the backend's `/refresh` and `/logout` are mounted
    /// (default `/auth/<backend>/refresh`).
    #[must_use]
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = Some(path.into());
        self
    }

    /// The refresh cookie's name: the auth cookie's with `_refresh` appended.
    pub fn refresh_name(&self) -> String {
        format!("{}_refresh", self.name)
    }

    /// The refresh cookie: the auth cookie's attributes, its own name, path and lifetime.
    pub(crate) fn set_refresh_cookie(&self, value: &str, max_age: u64, path: &str) -> String {
        let refresh = Self {
            name: self.refresh_name(),
            path: path.to_owned(),
            max_age: Some(max_age),
            ..self.clone()
        };
        refresh.set_cookie(value, Some(max_age))
    }
}

impl Default for CookieTransport {
    fn default() -> Self {
        Self {
            name: "fastapiusersauth".into(),
            max_age: None,
            path: "/".into(),
            domain: None,
            secure: true,
            httponly: true,
            samesite: SameSite::Lax,
            refresh_path: None,
        }
    }
}

impl CookieTransport {
    /// `Set-Cookie` value with attributes in FastAPI Users' order:
    /// Domain, HttpOnly, Max-Age, Path, SameSite, Secure.
    pub(crate) fn set_cookie(&self, value: &str, max_age: Option<u64>) -> String {
        let mut cookie = format!("{}={}", self.name, value);
        if let Some(domain) = &self.domain {
            cookie.push_str("; Domain=");
            cookie.push_str(domain);
        }
        if self.httponly {
            cookie.push_str("; HttpOnly");
        }
        if let Some(max_age) = max_age {
            cookie.push_str(&format!("; Max-Age={max_age}"));
        }
        cookie.push_str("; Path=");
        cookie.push_str(&self.path);
        cookie.push_str("; SameSite=");
        cookie.push_str(self.samesite.as_str());
        if self.secure {
            cookie.push_str("; Secure");
        }
        cookie
    }
}

/// How a backend's token travels.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Transport {
    /// `Authorization: Bearer`.
    Bearer(BearerTransport),
    /// A cookie.
    Cookie(CookieTransport),
}

impl From<BearerTransport> for Transport {
    fn from(t: BearerTransport) -> Self {
        Self::Bearer(t)
    }
}

impl From<CookieTransport> for Transport {
    fn from(t: CookieTransport) -> Self {
        Self::Cookie(t)
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl Transport {
    /// The token in the request, if this transport finds one.
    pub fn extract(&self, headers: &HeaderMap) -> Option<String> {
        match self {
            Self::Bearer(_) => {
                let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
                let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim().to_owned())
            }
            Self::Cookie(cookie) => cookie_value(headers, &cookie.name).filter(|v| !v.is_empty()),
        }
    }

    /// The answer to a successful login. Token responses are never cached.
    pub fn login_response(&self, token: &str) -> Response {
        match self {
            Self::Bearer(_) => no_store(json_response(
                StatusCode::OK,
                &json!({"access_token": token, "token_type": "bearer"}),
            )),
            Self::Cookie(cookie) => {
                let set = cookie.set_cookie(token, cookie.max_age);
                with_set_cookie(StatusCode::NO_CONTENT.into_response(), &set)
            }
        }
    }

    /// The answer to a login that also issued a refresh token (`refresh`: the token, its
    /// lifetime in seconds and the refresh cookie's path).
    pub(crate) fn login_response_with_refresh(
        &self,
        token: &str,
        refresh: Option<(&str, u64, &str)>,
    ) -> Response {
        let Some((refresh_token, max_age, path)) = refresh else {
            return self.login_response(token);
        };
        match self {
            Self::Bearer(_) => no_store(json_response(
                StatusCode::OK,
                &json!({
                    "access_token": token,
                    "token_type": "bearer",
                    "refresh_token": refresh_token,
                }),
            )),
            Self::Cookie(cookie) => {
                let response = self.login_response(token);
                with_set_cookie(
                    response,
                    &cookie.set_refresh_cookie(refresh_token, max_age, path),
                )
            }
        }
    }

    /// The refresh token a request carries in this transport's refresh cookie.
    pub(crate) fn refresh_cookie(&self, headers: &HeaderMap) -> Option<String> {
        match self {
            Self::Bearer(_) => None,
            Self::Cookie(cookie) => {
                cookie_value(headers, &cookie.refresh_name()).filter(|v| !v.is_empty())
            }
        }
    }

    /// Adds the clearing `Set-Cookie` of the refresh cookie (a cookie transport's).
    pub(crate) fn clear_refresh_cookie(&self, response: &mut Response, path: &str) {
        if let Self::Cookie(cookie) = self {
            // `Max-Age=0` deletes it.
            let cleared = cookie.set_refresh_cookie("\"\"", 0, path);
            if let Ok(value) = HeaderValue::from_str(&cleared) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }

    /// The answer to a logout: a bare 204, plus a clearing `Set-Cookie` for cookies.
    pub fn logout_response(&self) -> Response {
        let response = StatusCode::NO_CONTENT.into_response();
        match self {
            Self::Bearer(_) => response,
            Self::Cookie(cookie) => with_set_cookie(response, &cookie.set_cookie("\"\"", Some(0))),
        }
    }
}

fn with_set_cookie(mut response: Response, value: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    no_store(response)
}

/// The value of a cookie in the request's `Cookie` headers, unquoted.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| {
            let value = value.trim();
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
                .to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn bearer_extraction_follows_fastapi() {
        let t = Transport::from(BearerTransport::new("auth/jwt/login"));
        assert_eq!(
            t.extract(&headers("authorization", "Bearer abc"))
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            t.extract(&headers("authorization", "bearer  abc "))
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            t.extract(&headers("authorization", "Bearer")).as_deref(),
            Some("")
        );
        assert_eq!(t.extract(&headers("authorization", "Basic abc")), None);
        assert_eq!(t.extract(&HeaderMap::new()), None);
    }

    #[test]
    fn cookie_serialization_matches_fastapi_users() {
        let mut c = CookieTransport::default();
        assert_eq!(
            c.set_cookie("T", None),
            "fastapiusersauth=T; HttpOnly; Path=/; SameSite=lax; Secure"
        );
        c.max_age = Some(3600);
        assert_eq!(
            c.set_cookie("T", c.max_age),
            "fastapiusersauth=T; HttpOnly; Max-Age=3600; Path=/; SameSite=lax; Secure"
        );
        let c = CookieTransport {
            domain: Some("camelot.bt".into()),
            path: "/api".into(),
            secure: false,
            httponly: false,
            samesite: SameSite::None,
            max_age: Some(3600),
            ..CookieTransport::default()
        };
        assert_eq!(
            c.set_cookie("T", c.max_age),
            "fastapiusersauth=T; Domain=camelot.bt; Max-Age=3600; Path=/api; SameSite=none"
        );
    }

    #[test]
    fn cookie_extraction() {
        let t = Transport::from(CookieTransport::default());
        assert_eq!(
            t.extract(&headers("cookie", "a=b; fastapiusersauth=tok"))
                .as_deref(),
            Some("tok")
        );
        assert_eq!(t.extract(&headers("cookie", "fastapiusersauth=\"\"")), None);
        assert_eq!(t.extract(&headers("cookie", "other=1")), None);
    }
}
