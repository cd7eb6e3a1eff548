//! Confirmed e-mail changes (opt-in; off keeps FastAPI Users' behaviour): a user's own
//! `PATCH /users/me` with a new address does not switch it. The new address gets a
//! verification link for itself, the old one a notice, and the change waits here; the address
//! switches when the link is used (`POST /auth/verify` or `GET /auth/verify?token=`), and only
//! if it is still free. A superuser's `PATCH /users/{id}` switches at once, as before.

use std::future::Future;

use crate::store::StoreError;
use crate::UserId;

/// Where pending changes wait: the SQL stores keep them in `auth_email_change`.
#[dynosaur::dynosaur(pub(crate) DynEmailChangeStore = dyn(box) EmailChangeStore)]
pub trait EmailChangeStore: Send + Sync {
    /// Records (or replaces) the user's pending change to `email`, asked for at `at` (Unix s).
    fn set_pending_email(
        &self,
        user_id: UserId,
        email: &str,
        at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The user's pending address, if it was asked for at `since` (Unix s) or later.
    fn pending_email(
        &self,
        user_id: UserId,
        since: i64,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Takes the pending change away if it is to `email`; whether it was (of two
    /// confirmations, one sees it).
    fn take_pending_email(
        &self,
        user_id: UserId,
        email: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
