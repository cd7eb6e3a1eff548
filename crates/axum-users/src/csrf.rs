//! CSRF protection for cookie sessions (documented on
//! [`crate::AxumUsersBuilder::allowed_origins`], from `docs/csrf.md`).

use http::{header, HeaderMap, Method};

/// The error code of a refused cross-site request.
pub const CSRF_ORIGIN_NOT_ALLOWED: &str = "CSRF_ORIGIN_NOT_ALLOWED";

#[derive(Debug, Clone, Default)]
pub(crate) struct CsrfPolicy {
    /// Allowed origins, normalised (`scheme://host[:port]`, lower case).
    pub(crate) origins: Vec<String>,
}

/// `scheme://host[:port]` of a URL, lower-cased; `None` for `null` and anything unparsable.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if scheme.is_empty() || authority.is_empty() {
        return None;
    }
    let mut origin = format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    );
    for default in [("http://", ":80"), ("https://", ":443")] {
        if origin.starts_with(default.0) && origin.ends_with(default.1) {
            origin.truncate(origin.len() - default.1.len());
        }
    }
    Some(origin)
}

pub(crate) fn normalise_origin(origin: &str) -> Option<String> {
    origin_of(origin.trim())
}

impl CsrfPolicy {
    /// Whether a cookie-authenticated request may proceed: safe methods always, others from
    /// an allowed origin.
    pub(crate) fn allows(&self, method: &Method, headers: &HeaderMap) -> bool {
        matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) || self.origin_allowed(headers)
    }

    /// Whether the page that sent the request, as `Origin` (or, lacking it, `Referer`) names
    /// it, is the server's own or an allowed one; a request naming none is not cross-site.
    pub(crate) fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let claimed = match (text(header::ORIGIN), text(header::REFERER)) {
            (Some(origin), _) => origin,
            (None, Some(referer)) => referer,
            // No browser context at all: not a cross-site request.
            (None, None) => return true,
        };
        let Some(claimed) = origin_of(claimed) else {
            // `Origin: null` (sandboxed frames, file: pages) and garbage.
            return false;
        };
        let host = text(header::HOST).map(str::to_ascii_lowercase);
        let same_site = host.is_some_and(|host| {
            claimed
                .split_once("://")
                .is_some_and(|(_, authority)| authority == host)
        });
        same_site || self.origins.contains(&claimed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            origin_of("HTTPS://App.Example.com:443/x?y").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin_of("http://localhost:8000").as_deref(),
            Some("http://localhost:8000")
        );
        assert_eq!(origin_of("null"), None);
        assert_eq!(origin_of("https://"), None);
    }
}
