//! Password hashing: argon2id for new hashes, argon2 (any parameters) and bcrypt accepted, and an
//! upgrade on login when a stored hash is weaker than the configured one. Hashing is CPU-bound:
//! it runs on Tokio's blocking threads, at most one hash per core at a time, never on an async
//! worker.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP's recommendation (m=19456 KiB, t=2, p=1): our default.
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
    /// What FastAPI Users (pwdlib / argon2-cffi) writes: m=65536 KiB, t=3, p=4.
    pub const FASTAPI_USERS: Self = Self {
        memory_kib: 65_536,
        iterations: 3,
        parallelism: 4,
    };
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password, or a stored hash we cannot read (logged, never an error to the client).
    No,
    /// Right password; the stored hash is as strong as the configured one.
    Yes,
    /// Right password; store this new hash in place of the old one.
    YesWithUpgrade(String),
}

/// Hashes and verifies passwords off the async runtime. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    argon2: Argon2<'static>,
    params: Argon2Params,
    permits: Semaphore,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .finish()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(Argon2Params::default())
            .expect("the OWASP parameters are valid argon2 parameters")
    }
}

impl PasswordHasher {
    /// A hasher writing argon2id with these parameters; at most one hash per core at once.
    pub fn new(params: Argon2Params) -> Result<Self, String> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_concurrency(params, cores)
    }

    /// As [`PasswordHasher::new`], with an explicit limit of concurrent hashes.
    pub fn with_concurrency(params: Argon2Params, concurrent: usize) -> Result<Self, String> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params),
                params,
                permits: Semaphore::new(concurrent.max(1)),
            }),
        })
    }

    /// The configured parameters.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::Internal("password hasher closed".into()))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| ApiError::Internal(format!("password hashing task failed: {e}")))
    }

    /// Hashes a password (argon2id PHC string, 16-byte salt, 32-byte hash).
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_owned();
        self.blocking(move |inner| inner.hash(&password)).await?
    }

    /// Whether `password` matches `stored` (argon2 or bcrypt), without re-hashing.
    pub async fn matches(&self, password: &str, stored: &str) -> Result<bool, ApiError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.blocking(move |inner| inner.check(&password, &stored).is_some())
            .await
    }

    /// Checks a password against a stored hash and says whether to store a stronger one.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, ApiError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.blocking(move |inner| inner.verify(&password, &stored))
            .await?
    }
}

impl Inner {
    fn hash(&self, password: &str) -> Result<String, ApiError> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("argon2 hashing failed: {e}")))
    }

    fn verify(&self, password: &str, stored: &str) -> Result<Verified, ApiError> {
        match self.check(password, stored) {
            None => Ok(Verified::No),
            Some(true) => Ok(Verified::YesWithUpgrade(self.hash(password)?)),
            Some(false) => Ok(Verified::Yes),
        }
    }

    /// `None` when the password does not match; otherwise whether the stored hash is weaker than
    /// the configured one.
    fn check(&self, password: &str, stored: &str) -> Option<bool> {
        if is_bcrypt(stored) {
            // Passwords over 72 bytes never matched a bcrypt hash made by bcrypt >= 5 (it refuses
            // them); refusing them here is safer than silently truncating.
            return bcrypt::non_truncating_verify(password, stored)
                .unwrap_or(false)
                .then_some(true);
        }
        let Ok(parsed) = PasswordHash::new(stored) else {
            tracing::warn!("stored password hash has an unknown format; refused");
            return None;
        };
        let algorithm = parsed.algorithm.as_str();
        if !matches!(algorithm, "argon2id" | "argon2i" | "argon2d") {
            tracing::warn!(
                algorithm,
                "stored password hash uses an unsupported algorithm; refused"
            );
            return None;
        }
        // `verify_password` reads the algorithm, version and costs from the stored hash itself.
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .ok()
            .map(|()| self.is_weaker(&parsed))
    }

    /// Weaker than configured: another argon2 variant or version, or less memory or fewer
    /// iterations. Stronger hashes (e.g. FastAPI Users' m=65536,t=3,p=4 under our OWASP
    /// default) are kept as they are.
    fn is_weaker(&self, parsed: &PasswordHash<'_>) -> bool {
        if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
            return true;
        }
        let Ok(params) = Params::try_from(parsed) else {
            return true;
        };
        params.m_cost() < self.params.memory_kib || params.t_cost() < self.params.iterations
    }
}

/// `$2a$`, `$2b$`, `$2x$` or `$2y$`, two-digit cost, 53 characters of salt and hash.
fn is_bcrypt(stored: &str) -> bool {
    let bytes = stored.as_bytes();
    bytes.len() == 60
        && stored.starts_with("$2")
        && matches!(bytes[2], b'a' | b'b' | b'x' | b'y')
        && bytes[3] == b'$'
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_and_verifies() {
        let hasher = fast();
        let hash = hasher.hash("guinevere").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert_eq!(
            hasher.verify("guinevere", &hash).await.unwrap(),
            Verified::Yes
        );
        assert_eq!(
            hasher.verify("lancelot", &hash).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn verifies_fastapi_users_argon2_and_keeps_stronger_hashes() {
        // Made by FastAPI Users 15.0.5 (pwdlib, argon2-cffi defaults) for the password "guinevere".
        let stored = "$argon2id$v=19$m=65536,t=3,p=4$LwV+PffUWptP5AVY0Roc9g$dxx/TN8vGB871fB/gcv+51v+8EIdjFQdsVhkUXwdii8";
        let hasher = fast();
        assert_eq!(
            hasher.verify("guinevere", stored).await.unwrap(),
            Verified::Yes
        );
        assert_eq!(hasher.verify("merlin", stored).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn upgrades_bcrypt_and_weaker_argon2() {
        let hasher = fast();
        // Made by Python's bcrypt (passlib era databases hold such hashes).
        let bcrypt_hash = "$2b$04$kA1tkzUo4gqSTbXw9gx/Oe81WW5BgBc3RhrnSddKDHbsae/EHNzZG";
        match hasher.verify("guinevere", bcrypt_hash).await.unwrap() {
            Verified::YesWithUpgrade(new) => assert!(new.starts_with("$argon2id$")),
            other => panic!("expected an upgrade, got {other:?}"),
        }
        assert_eq!(
            hasher.verify("wrong", bcrypt_hash).await.unwrap(),
            Verified::No
        );
        let weak = PasswordHasher::new(Argon2Params {
            memory_kib: 512,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
        .hash("guinevere")
        .await
        .unwrap();
        assert!(matches!(
            hasher.verify("guinevere", &weak).await.unwrap(),
            Verified::YesWithUpgrade(_)
        ));
    }

    #[tokio::test]
    async fn unknown_formats_fail_cleanly() {
        let hasher = fast();
        for stored in [
            "",
            "plaintext",
            "$1$abc$def",
            "$pbkdf2-sha256$29000$abc$def",
        ] {
            assert_eq!(
                hasher.verify("x", stored).await.unwrap(),
                Verified::No,
                "{stored}"
            );
        }
    }
}
