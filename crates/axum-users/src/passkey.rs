//! Passkeys (WebAuthn, through webauthn-rs): a signed-in user registers discoverable
//! credentials, and anyone signs in with one without a password or a user name. A passkey
//! sign-in needs user verification (a PIN or a biometric on the authenticator), so it is two
//! factors at once and skips the TOTP challenge.
//!
//! Every ceremony (a registration or a sign-in in progress) is a row the store keeps: its
//! begin answers the options and the ceremony's id, and its finish takes the row away in the
//! statement that reads it, so a ceremony completes once, on whichever instance, before it
//! expires.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{Url, Uuid, Webauthn, WebauthnBuilder};

use crate::store_error::StoreError;
use crate::UserId;

/// `400`: the passkey's answer did not verify (wrong origin, challenge, signature, no user
/// verification), or names no registered passkey.
pub const PASSKEY_INVALID: &str = "PASSKEY_INVALID";
/// `400`: the ceremony is unknown, expired, already finished, or another user's.
pub const PASSKEY_CEREMONY_INVALID: &str = "PASSKEY_CEREMONY_INVALID";
/// `400`: this credential is registered already (to this account or another).
pub const PASSKEY_ALREADY_REGISTERED: &str = "PASSKEY_ALREADY_REGISTERED";
/// `400`: the user has the most passkeys allowed
/// ([`PasskeySettings::max_per_user`]); delete one first.
pub const PASSKEY_LIMIT_REACHED: &str = "PASSKEY_LIMIT_REACHED";

/// A registered passkey as the store keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PasskeyRecord {
    /// Its id in the API (random, 22 characters).
    pub id: String,
    /// Whose it is.
    pub user_id: UserId,
    /// The WebAuthn credential id, base64url without padding (unique across users).
    pub credential_id: String,
    /// A name the user gave it ("Laptop", "Phone").
    pub name: String,
    /// webauthn-rs' `Passkey` as JSON: the public key, its algorithm and signature counter.
    pub passkey: String,
    /// When it was registered (Unix seconds).
    pub created_at: i64,
    /// When it last signed in (Unix seconds).
    pub last_used_at: Option<i64>,
}

impl std::fmt::Debug for PasskeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CeremonyKind {
    /// A signed-in user adds a passkey.
    Register,
    /// Someone signs in with a passkey.
    Login,
}

impl CeremonyKind {
    /// How the store writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
        }
    }

    /// The kind a store wrote, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "register" => Some(Self::Register),
            "login" => Some(Self::Login),
            _ => None,
        }
    }
}

/// A registration or sign-in in progress: the server's half of the WebAuthn exchange.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasskeyCeremony {
    /// The `ceremony_id` the client sends back with its answer (random, 22 characters).
    pub id: String,
    /// What it is for.
    pub kind: CeremonyKind,
    /// The user registering (`None` for a sign-in: nobody is known until the answer).
    pub user_id: Option<UserId>,
    /// webauthn-rs' ceremony state as JSON (the challenge, the policy).
    pub state: String,
    /// When it stops being accepted (Unix seconds).
    pub expires_at: i64,
}

impl std::fmt::Debug for PasskeyCeremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyCeremony")
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where passkeys and ceremonies live: the SQL stores keep them in `auth_passkey` and
/// `auth_passkey_ceremony` (created by `migrate`).
#[dynosaur::dynosaur(pub(crate) DynPasskeyStore = dyn(box) PasskeyStore)]
pub trait PasskeyStore: Send + Sync {
    /// Stores a new passkey, unless one of the user's passkeys is already there or the user has
    /// `max_per_user` passkeys; whether it did. A credential id registered already (to anyone)
    /// is [`AddPasskey::Duplicate`].
    fn add_passkey(
        &self,
        record: &PasskeyRecord,
        max_per_user: usize,
    ) -> impl Future<Output = Result<AddPasskey, StoreError>> + Send;
    /// The user's passkeys, oldest first.
    fn list_passkeys(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Vec<PasskeyRecord>, StoreError>> + Send;
    /// The passkey with this credential id, whoever's it is.
    fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> impl Future<Output = Result<Option<PasskeyRecord>, StoreError>> + Send;
    /// Renames one of the user's passkeys; whether it was there.
    fn rename_passkey(
        &self,
        user_id: UserId,
        id: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes one of the user's passkeys; whether it was there.
    fn delete_passkey(
        &self,
        user_id: UserId,
        id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes every passkey and ceremony of the user (the account is going).
    fn delete_user_passkeys(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records a sign-in: the passkey's new state (its counter) and when.
    fn passkey_used(
        &self,
        id: &str,
        passkey: &str,
        at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores a ceremony unless the bound is reached: a registration keeps the user's newest
    /// `per_user` ones (older ones are deleted), a sign-in is refused while `max_pending`
    /// unexpired sign-ins wait (nobody is known to count them against). Expired rows of the
    /// same kind are deleted first. Whether it was stored.
    fn create_ceremony(
        &self,
        ceremony: &PasskeyCeremony,
        per_user: usize,
        max_pending: usize,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Takes a ceremony away (deletes it and answers it): of two finishes, one gets it.
    fn take_ceremony(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<PasskeyCeremony>, StoreError>> + Send;
    /// Deletes the ceremonies that expired before `now`; how many.
    fn delete_expired_ceremonies(
        &self,
        now: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// What [`PasskeyStore::add_passkey`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddPasskey {
    /// Stored.
    Added,
    /// The credential id is registered already.
    Duplicate,
    /// The user has the most passkeys allowed.
    TooMany,
}

/// The relying party and the bounds of passkeys.
#[derive(Clone)]
#[non_exhaustive]
pub struct PasskeySettings {
    pub(crate) webauthn: std::sync::Arc<Webauthn>,
    rp_id: String,
    origins: Vec<Url>,
    /// How long a ceremony waits for the authenticator (default 5 minutes).
    pub ceremony_lifetime: Duration,
    /// Passkeys one user may register (default 20).
    pub max_per_user: usize,
    /// Sign-ins that may wait at once, across all clients (default 10 000): a sign-in's begin
    /// needs no account, so this bounds what anonymous clients can make the store hold; past
    /// it, begins answer 429 until ceremonies finish or expire.
    pub max_pending_logins: usize,
}

impl std::fmt::Debug for PasskeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeySettings")
            .field("rp_id", &self.rp_id)
            .field("origins", &self.origins)
            .field("ceremony_lifetime", &self.ceremony_lifetime)
            .field("max_per_user", &self.max_per_user)
            .field("max_pending_logins", &self.max_pending_logins)
            .finish_non_exhaustive()
    }
}

/// Why [`PasskeySettings::new`] refused a relying party.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeyConfigError {
    /// An origin is not an absolute `http(s)://host[:port]` URL.
    #[error(
        "invalid passkey origin {0:?}: expected scheme://host[:port], e.g. https://example.com"
    )]
    Origin(String),
    /// No origin was given.
    #[error("passkeys need at least one origin (the address pages are served from)")]
    NoOrigin,
    /// The relying party id is not the origin's host or a parent domain of it.
    #[error(
        "invalid passkey relying party id {rp_id:?}: it must be the host of every origin or a \
         parent domain of it ({origin} is not)"
    )]
    RpId {
        /// The relying party id.
        rp_id: String,
        /// The origin it does not cover.
        origin: String,
    },
}

impl PasskeySettings {
    /// The relying party `rp_id` (a domain: `example.com`, or `localhost` in development) and
    /// the origins pages sign in from (`https://example.com`, `https://app.example.com`), each
    /// on `rp_id` or a subdomain of it. `rp_name` is what authenticators show.
    pub fn new<I, O>(rp_id: &str, rp_name: &str, origins: I) -> Result<Self, PasskeyConfigError>
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let mut urls = Vec::new();
        for origin in origins {
            let text = origin.as_ref().trim();
            let url = Url::parse(text)
                .ok()
                .filter(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some()
                        && u.path() == "/"
                        && u.query().is_none()
                        && u.fragment().is_none()
                        && u.username().is_empty()
                })
                .ok_or_else(|| PasskeyConfigError::Origin(text.to_owned()))?;
            urls.push(url);
        }
        let Some(first) = urls.first() else {
            return Err(PasskeyConfigError::NoOrigin);
        };
        let covers = |url: &Url| {
            url.domain()
                .is_some_and(|d| d == rp_id || d.ends_with(&format!(".{rp_id}")))
        };
        if let Some(bad) = urls.iter().find(|u| !covers(u)) {
            return Err(PasskeyConfigError::RpId {
                rp_id: rp_id.to_owned(),
                origin: bad.origin().ascii_serialization(),
            });
        }
        let mut builder = WebauthnBuilder::new(rp_id, first)
            .map_err(|_| PasskeyConfigError::RpId {
                rp_id: rp_id.to_owned(),
                origin: first.origin().ascii_serialization(),
            })?
            .rp_name(rp_name);
        for url in &urls[1..] {
            builder = builder.append_allowed_origin(url);
        }
        let webauthn = builder.build().map_err(|_| PasskeyConfigError::RpId {
            rp_id: rp_id.to_owned(),
            origin: first.origin().ascii_serialization(),
        })?;
        Ok(Self {
            webauthn: std::sync::Arc::new(webauthn),
            rp_id: rp_id.to_owned(),
            origins: urls,
            ceremony_lifetime: Duration::from_secs(300),
            max_per_user: 20,
            max_pending_logins: 10_000,
        })
    }

    /// The relying party id.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// The origins passkeys are accepted from.
    pub fn origins(&self) -> &[Url] {
        &self.origins
    }
}

/// The passkeys of an [`AxumUsers`](crate::AxumUsers): the store and the settings.
#[derive(Clone)]
pub(crate) struct Passkeys {
    pub(crate) store: std::sync::Arc<DynPasskeyStore<'static>>,
    pub(crate) settings: PasskeySettings,
}

/// Registration ceremonies one user keeps pending at most.
pub(crate) const MAX_REGISTRATIONS: usize = 5;

/// The WebAuthn user handle of a user: the UUID itself, or for an integer id a UUID made of a
/// fixed tag and the number (a handle must not carry personal data; neither does).
pub(crate) fn user_handle(id: UserId) -> Uuid {
    match id {
        UserId::Uuid(uuid) => uuid,
        // "axum-use" in ASCII, then the id's two's-complement bits.
        UserId::Int(n) => Uuid::from_u64_pair(0x6178_756d_2d75_7365, n.cast_unsigned()),
    }
}

/// A credential id as the store keys it: base64url without padding.
pub(crate) fn credential_key(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relying_parties_are_checked_when_configured() {
        let ok = PasskeySettings::new(
            "example.com",
            "Example",
            ["https://example.com", "https://app.example.com:8443"],
        )
        .unwrap();
        assert_eq!(ok.rp_id(), "example.com");
        assert_eq!(ok.origins().len(), 2);
        assert!(PasskeySettings::new("localhost", "x", ["http://localhost:8000"]).is_ok());
        for (rp, origin, message) in [
            (
                "example.com",
                "https://evil.com",
                "invalid passkey relying party id \"example.com\": it must be the host of every \
                 origin or a parent domain of it (https://evil.com is not)",
            ),
            (
                "example.com",
                "https://notexample.com",
                "invalid passkey relying party id \"example.com\": it must be the host of every \
                 origin or a parent domain of it (https://notexample.com is not)",
            ),
            (
                "example.com",
                "example.com",
                "invalid passkey origin \"example.com\": expected scheme://host[:port], e.g. \
                 https://example.com",
            ),
            (
                "example.com",
                "https://example.com/login",
                "invalid passkey origin \"https://example.com/login\": expected \
                 scheme://host[:port], e.g. https://example.com",
            ),
            (
                "127.0.0.1",
                "http://127.0.0.1:8000",
                "invalid passkey relying party id \"127.0.0.1\": it must be the host of every \
                 origin or a parent domain of it (http://127.0.0.1:8000 is not)",
            ),
        ] {
            let error = PasskeySettings::new(rp, "x", [origin]).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
        assert_eq!(
            PasskeySettings::new("example.com", "x", Vec::<String>::new())
                .unwrap_err()
                .to_string(),
            "passkeys need at least one origin (the address pages are served from)"
        );
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        let uuid = Uuid::new_v4();
        assert_eq!(user_handle(UserId::Uuid(uuid)), uuid);
        assert_eq!(user_handle(UserId::Int(7)), user_handle(UserId::Int(7)));
        assert_ne!(user_handle(UserId::Int(7)), user_handle(UserId::Int(8)));
        assert_ne!(user_handle(UserId::Int(-1)), user_handle(UserId::Int(1)));
    }
}
