//! Extractors that protect the application's own routes (documented on [`CurrentUser`], from
//! `docs/extractors.md`).

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::auth::Guard;
use crate::{ApiError, AxumUsers, User};

async fn extract<S>(parts: &Parts, state: &S, guard: Guard) -> Result<Option<User>, ApiError>
where
    AxumUsers: FromRef<S>,
{
    let users = AxumUsers::from_ref(state);
    Ok(users
        .authenticate_request(&parts.method, &parts.headers, guard)
        .await?
        .map(|auth| auth.user))
}

macro_rules! guarded_extractor {
    ($(#[$doc:meta])* $name:ident, verified: $verified:expr, superuser: $superuser:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub User);

        impl<S> FromRequestParts<S> for $name
        where
            AxumUsers: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                let guard = Guard { optional: false, active: true, verified: $verified, superuser: $superuser };
                extract(parts, state, guard).await?.map(Self).ok_or(ApiError::UNAUTHORIZED)
            }
        }

        /// `Option<Self>`: `None` where `Self` would answer 401 or 403, as FastAPI Users'
        /// `optional=True` guards do.
        impl<S> OptionalFromRequestParts<S> for $name
        where
            AxumUsers: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
                let guard = Guard { optional: true, active: true, verified: $verified, superuser: $superuser };
                Ok(extract(parts, state, guard).await?.map(Self))
            }
        }
    };
}

guarded_extractor!(
    /// An authenticated, active user (401 otherwise).
    ///
    #[doc = include_str!("docs/extractors.md")]
    CurrentUser, verified: false, superuser: false
);
guarded_extractor!(
    /// An active user with a verified e-mail (401, or 403 when unverified).
    VerifiedUser, verified: true, superuser: false
);
guarded_extractor!(
    /// An active superuser (401, or 403 for other users).
    Superuser, verified: false, superuser: true
);
guarded_extractor!(
    /// An active, verified superuser (401, or 403).
    VerifiedSuperuser, verified: true, superuser: true
);

/// The active user if the request carries valid credentials, `None` otherwise (never fails,
/// except with 503 when a backend is down).
#[derive(Debug, Clone)]
pub struct OptionalUser(pub Option<User>);

impl<S> FromRequestParts<S> for OptionalUser
where
    AxumUsers: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let guard = Guard {
            optional: true,
            ..Guard::ACTIVE
        };
        extract(parts, state, guard).await.map(Self)
    }
}
