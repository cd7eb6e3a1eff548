//! A second factor: TOTP (RFC 6238, through totp-rs) with single-use recovery codes. A user
//! enrols (`setup`, then `enable` with a first code), and from then on each login answers a
//! challenge (`LOGIN_MFA_REQUIRED` with an `mfa_token`) that `POST /auth/mfa/verify` completes
//! with a current code or a recovery code.
//!
//! Single use everywhere, by compare-and-set in the store: a TOTP code moves the user's last
//! used time step on (a code of that step or an earlier one is refused afterwards), a recovery
//! code is deleted by the statement that accepts it, a challenge is deleted by the one that
//! completes it.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::UserId;

/// `401 {"detail":"LOGIN_MFA_REQUIRED","mfa_token":"..."}`: the login needs its second factor.
pub const LOGIN_MFA_REQUIRED: &str = "LOGIN_MFA_REQUIRED";
/// `400`: the code is not the current TOTP code (or was used already), nor an unused recovery
/// code.
pub const MFA_INVALID_CODE: &str = "MFA_INVALID_CODE";
/// `400`: the `mfa_token` is unknown, expired, used, or ended after too many wrong codes.
pub const MFA_TOKEN_INVALID: &str = "MFA_TOKEN_INVALID";
/// `400`: `enable` before `setup`.
pub const MFA_NOT_SET_UP: &str = "MFA_NOT_SET_UP";
/// `400`: TOTP is on already.
pub const MFA_ALREADY_ENABLED: &str = "MFA_ALREADY_ENABLED";
/// `400`: TOTP is not on.
pub const MFA_NOT_ENABLED: &str = "MFA_NOT_ENABLED";

/// What changed in a user's second factor, as [`Hooks::on_after_mfa_change`](crate::Hooks::on_after_mfa_change) hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MfaChange {
    /// TOTP was turned on (with a first code).
    Enabled,
    /// The user turned TOTP off.
    Disabled,
    /// The user got new recovery codes (the old ones are void).
    RecoveryCodesRegenerated,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed,
    /// A superuser removed the user's second factor.
    ResetByAdmin,
    /// The user registered a passkey.
    PasskeyAdded,
    /// The user deleted a passkey.
    PasskeyRemoved,
}

/// A user's TOTP enrolment as the store keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MfaRecord {
    /// Whose it is.
    pub user_id: UserId,
    /// The TOTP secret, base32 (RFC 4648, no padding).
    pub secret: String,
    /// Whether logins need it (`false`: set up, not confirmed with a first code yet).
    pub enabled: bool,
    /// The last time step a code was accepted for (codes of it and earlier are spent).
    pub last_step: i64,
    /// When it was set up (Unix seconds).
    pub created_at: i64,
}

impl std::fmt::Debug for MfaRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRecord")
            .field("user_id", &self.user_id)
            .field("enabled", &self.enabled)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// A login waiting for its second factor: what `mfa_token` names.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MfaChallenge {
    /// The `mfa_token` (random, 22 characters).
    pub id: String,
    /// The user whose password (or provider) was checked.
    pub user_id: UserId,
    /// The backend the login went through, which the completed login answers with.
    pub backend: String,
    /// How the first factor was given: `password`, `oauth:<provider>`.
    pub method: String,
    /// When it stops being accepted (Unix seconds).
    pub expires_at: i64,
    /// Wrong codes so far.
    pub attempts: i64,
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("user_id", &self.user_id)
            .field("backend", &self.backend)
            .field("method", &self.method)
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Where second factors live: the SQL stores keep them in `auth_mfa`, `auth_recovery_code` and
/// `auth_mfa_challenge` (created by `migrate`). Each method is one statement.
#[dynosaur::dynosaur(pub(crate) DynMfaStore = dyn(box) MfaStore)]
pub trait MfaStore: Send + Sync {
    /// The user's enrolment, if any.
    fn get_mfa(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Option<MfaRecord>, StoreError>> + Send;
    /// Stores a new secret, not enabled yet, unless the user's TOTP is enabled; whether it did.
    fn set_up_mfa(
        &self,
        record: &MfaRecord,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Enables the enrolment whose secret is `secret`, with `step` spent; whether it did.
    fn enable_mfa(
        &self,
        user_id: UserId,
        secret: &str,
        step: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Spends the time step `step` of an enabled enrolment if no later or equal step was; whether
    /// it did.
    fn spend_step(
        &self,
        user_id: UserId,
        step: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Removes the user's enrolment and recovery codes; whether there was one.
    fn delete_mfa(&self, user_id: UserId) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Replaces the user's recovery codes (their digests).
    fn set_recovery_codes(
        &self,
        user_id: UserId,
        digests: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Spends a recovery code (its digest); whether it was there.
    fn spend_recovery_code(
        &self,
        user_id: UserId,
        digest: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// How many recovery codes the user has left.
    fn recovery_codes_left(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Stores a challenge, and deletes the user's expired ones and all but the newest
    /// `keep` (a bound on what one account's logins can pile up).
    fn create_challenge(
        &self,
        challenge: &MfaChallenge,
        keep: usize,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The challenge with this id.
    fn get_challenge(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<MfaChallenge>, StoreError>> + Send;
    /// Counts a wrong code against a challenge; the attempts it has now.
    fn fail_challenge(&self, id: &str) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Deletes a challenge; whether it was there (of two completions, one sees it).
    fn take_challenge(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes the challenges that expired before `now` (Unix seconds): logins nobody finished.
    fn delete_expired_challenges(
        &self,
        now: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// How the second factor behaves.
#[derive(Clone)]
#[non_exhaustive]
pub struct MfaSettings {
    /// The issuer authenticator apps show (`otpauth://totp/<issuer>:<e-mail>`).
    pub issuer: String,
    pepper: Vec<u8>,
    /// How long a login waits for its second factor (default 5 minutes).
    pub challenge_lifetime: Duration,
    /// Wrong codes a challenge takes before it is ended (default 5): the login starts over, and
    /// each wrong code also counts toward the account's login backoff.
    pub max_attempts: i64,
}

impl std::fmt::Debug for MfaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaSettings")
            .field("issuer", &self.issuer)
            .field("challenge_lifetime", &self.challenge_lifetime)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl MfaSettings {
    /// Authenticator apps show `issuer`; recovery codes are kept as HMAC-SHA256 digests under
    /// `pepper` (keep it secret and the same on every instance).
    pub fn new(issuer: impl Into<String>, pepper: impl AsRef<[u8]>) -> Self {
        Self {
            issuer: issuer.into(),
            pepper: pepper.as_ref().to_vec(),
            challenge_lifetime: Duration::from_secs(300),
            max_attempts: 5,
        }
    }

    /// The digest a recovery code is kept as.
    pub(crate) fn digest(&self, code: &str) -> String {
        use hmac::{KeyInit as _, Mac as _};
        let normal: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        // HMAC takes a key of any length.
        let mut mac = hmac::SimpleHmac::<sha2::Sha256>::new_from_slice(&self.pepper)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(normal.as_bytes());
        crate::tokens::hex(&mac.finalize().into_bytes())
    }
}

/// The second factor of an [`AxumUsers`](crate::AxumUsers): the store and the settings.
#[derive(Clone)]
pub(crate) struct Mfa {
    pub(crate) store: std::sync::Arc<DynMfaStore<'static>>,
    pub(crate) settings: MfaSettings,
}

/// Recovery codes a user gets at once.
pub(crate) const RECOVERY_CODES: usize = 10;
/// Challenges one user keeps pending at most.
pub(crate) const MAX_CHALLENGES: usize = 5;

/// Ten new recovery codes, `xxxxx-xxxxx` from an alphabet without look-alikes (50 bits each).
pub(crate) fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::fill(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A new TOTP secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32.
pub(crate) fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::fill(&mut bytes);
    totp_rs::Secret::from(bytes.to_vec()).to_base32()
}

/// The TOTP of a secret: SHA-1, 6 digits, 30-second steps, one step of skew either way (what
/// every authenticator app reads).
pub(crate) fn totp(secret: &str, issuer: &str, account: &str) -> Option<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret).ok()?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_skew(1)
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .ok()
}

/// The time step a code is valid for now, if it is (±1 step).
pub(crate) fn check_code(totp: &totp_rs::Totp, code: &str, now: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp.check(code, now)
        .and_then(|step| i64::try_from(step).ok())
}

/// The `otpauth://` QR code as an SVG document (drawn here: no network, no image).
pub(crate) fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_within_one_step() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        let totp = totp(&secret, "Camelot", "arthur@camelot.bt").unwrap();
        let now = 1_800_000_015;
        let code = totp.generate(now).to_string();
        assert_eq!(check_code(&totp, &code, now), Some(60_000_000));
        assert_eq!(check_code(&totp, &code, now + 30), Some(60_000_000));
        assert_eq!(check_code(&totp, &code, now + 60), None);
        for bad in ["", "12345", "1234567", "abcdef", "12 345"] {
            assert_eq!(check_code(&totp, bad, now), None, "{bad:?}");
        }
        let url = totp.to_url().unwrap();
        assert!(
            url.starts_with("otpauth://totp/Camelot:arthur%40camelot.bt?"),
            "{url}"
        );
        assert!(qr_svg(&url).unwrap().starts_with("<?xml"));
    }

    #[test]
    fn recovery_codes_are_random_and_kept_as_digests() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert!(codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        let settings = MfaSettings::new("x", "pepper");
        let digest = settings.digest(&codes[0]);
        assert_eq!(digest.len(), 64);
        assert_eq!(
            settings.digest(&codes[0].to_uppercase().replace('-', " ")),
            digest
        );
        assert_ne!(MfaSettings::new("x", "other").digest(&codes[0]), digest);
    }
}
