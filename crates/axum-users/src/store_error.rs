//! The error every store returns: the user store and the stores of sessions, passkeys, the
//! second factor, the audit trail, webhooks (a module of its own, so that those stores'
//! traits, beside their features, and the store implementations depend on it, not on each
//! other).

/// A store failure.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint (the e-mail) was violated.
    #[error("a user with this e-mail already exists")]
    Conflict,
    /// The database cannot be reached or is overloaded: the request answers 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other failure.
    #[error("database error: {0}")]
    Other(String),
    /// The store does not implement this operation (a store of the application's own that
    /// left out an optional one, such as [`UserStore::list`](crate::UserStore::list)): the request answers 501.
    #[error("the store does not support {0}")]
    Unsupported(&'static str),
}
