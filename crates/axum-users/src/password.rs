//! Password hashing (documented on [`PasswordHasher`], from `docs/passwords.md`).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Why the hasher could not be built or could not hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The argon2 parameters are out of argon2's bounds.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),
    /// The hashing threads could not be started.
    #[error("cannot start the password hashing threads: {0}")]
    Threads(String),
    /// A hash could not be computed (a bug or a panicking job; logged, answered 500).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Argon2Params {
    /// `memory_kib` KiB, `iterations` passes, `parallelism` lanes.
    pub const fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Self {
        Self {
            memory_kib,
            iterations,
            parallelism,
        }
    }

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
#[non_exhaustive]
pub enum Verified {
    /// Wrong password, or a stored hash we cannot read (logged, never an error to the client).
    No,
    /// Right password; the stored hash is as strong as the configured one.
    Yes,
    /// Right password; store this new hash in place of the old one.
    YesWithUpgrade(String),
}

/// Hashes and verifies passwords off the async runtime. Cheap to clone.
///
#[doc = include_str!("docs/passwords.md")]
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    argon2: Argon2<'static>,
    params: Argon2Params,
    pool: rayon::ThreadPool,
    costs: Costs,
}

/// What verifying a stored hash costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cost {
    Argon2 {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
    Bcrypt(u32),
}

impl Cost {
    fn of(stored: &str) -> Option<Self> {
        if is_bcrypt(stored) {
            return stored.get(4..6)?.parse().ok().map(Self::Bcrypt);
        }
        let params = Params::try_from(&PasswordHash::new(stored).ok()?).ok()?;
        (params.m_cost() <= MAX_MEMORY_KIB).then(|| Self::Argon2 {
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
        })
    }
}

/// How many accounts met at logins have each cost: at most [`MAX_COSTS`] costs, counts halved
/// past a million. An account counts once while it is among the last [`RECENT_ACCOUNTS`] seen,
/// so logging in again and again to one's own account does not shift the weights. A
/// per-process key picks, from an address, where in the counts an unknown address falls.
struct Costs {
    seen: Mutex<Vec<(Cost, u64)>>,
    recent: quick_cache::sync::Cache<u64, ()>,
    hasher: std::hash::RandomState,
    key: [u8; 32],
}

/// Accounts remembered as already counted (by a 64-bit digest of their stored hash).
const RECENT_ACCOUNTS: usize = 10_000;

/// Distinct costs remembered; a new one replaces the rarest.
const MAX_COSTS: usize = 8;

impl Costs {
    fn new() -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        Self {
            seen: Mutex::new(Vec::with_capacity(MAX_COSTS)),
            recent: quick_cache::sync::Cache::new(RECENT_ACCOUNTS),
            hasher: std::hash::RandomState::new(),
            key,
        }
    }

    /// Counts the cost of an account's stored hash, once while it is recent.
    fn account(&self, stored: &str) {
        use std::hash::BuildHasher as _;
        let digest = self.hasher.hash_one(stored);
        if self.recent.get(&digest).is_some() {
            return;
        }
        self.recent.insert(digest, ());
        if let Some(cost) = Cost::of(stored) {
            self.record(cost);
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Vec<(Cost, u64)>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, cost: Cost) {
        let mut seen = self.seen();
        if let Some(entry) = seen.iter_mut().find(|(c, _)| *c == cost) {
            entry.1 += 1;
        } else if seen.len() < MAX_COSTS {
            seen.push((cost, 1));
        } else if let Some(rarest) = seen.iter_mut().min_by_key(|(_, n)| *n) {
            *rarest = (cost, 1);
        }
        if seen.iter().map(|(_, n)| n).sum::<u64>() > 1_000_000 {
            for entry in seen.iter_mut() {
                entry.1 = (entry.1 / 2).max(1);
            }
        }
    }

    /// The cost an unknown address imitates: the same one for the same address while the
    /// counts stay as they are; `None` before any login was seen.
    fn for_address(&self, address: &str) -> Option<Cost> {
        use sha2::Digest as _;
        let mut digest = sha2::Sha256::new();
        digest.update(self.key);
        digest.update(crate::email::email_key(address).as_bytes());
        let digest = digest.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let seen = self.seen();
        let total: u64 = seen.iter().map(|(_, n)| n).sum();
        let mut point = u64::from_le_bytes(first) % total.max(1);
        for (cost, count) in seen.iter() {
            if point < *count {
                return Some(*cost);
            }
            point -= count;
        }
        None
    }
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
    pub fn new(params: Argon2Params) -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_concurrency(params, cores)
    }

    /// As [`PasswordHasher::new`], with an explicit limit of concurrent hashes.
    pub fn with_concurrency(
        params: Argon2Params,
        concurrent: usize,
    ) -> Result<Self, PasswordError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(concurrent.max(1))
            .thread_name(|i| format!("axum-users-hash-{i}"))
            .start_handler(|_| lower_priority())
            // A panicking hash fails its request (the result channel closes), not the process.
            .panic_handler(|_| tracing::error!("a password hashing job panicked"))
            .build()
            .map_err(|e| PasswordError::Threads(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params),
                params,
                pool,
                costs: Costs::new(),
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
    ) -> Result<T, PasswordError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let inner = Arc::clone(&self.inner);
        let queued = std::time::Instant::now();
        crate::telemetry::gauge("axum_users_hash_queue_depth", 1.0);
        self.inner.pool.spawn(move || {
            crate::telemetry::gauge("axum_users_hash_queue_depth", -1.0);
            crate::telemetry::seconds("axum_users_hash_wait_seconds", queued.elapsed());
            let _ = done.send(work(&inner));
        });
        result
            .await
            .map_err(|_| PasswordError::Hashing("the hashing job ended without an answer".into()))
    }

    /// Hashes a password (argon2id PHC string, 16-byte salt, 32-byte hash).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_owned();
        self.blocking(move |inner| inner.hash(&password)).await?
    }

    /// Whether `password` matches `stored` (argon2 or bcrypt), without re-hashing.
    pub async fn matches(&self, password: &str, stored: &str) -> Result<bool, PasswordError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.blocking(move |inner| inner.check(&password, &stored).is_some())
            .await
    }

    /// Checks a password against a stored hash and says whether to store a stronger one.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, PasswordError> {
        self.inner.costs.account(stored);
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.blocking(move |inner| inner.verify(&password, &stored))
            .await?
    }

    /// The work of [`PasswordHasher::verify`] for an address that has no account: a dummy hash
    /// at the cost of a real stored one (see the module docs), so that the answer takes as long.
    pub async fn verify_unknown(&self, password: &str, address: &str) -> Result<(), PasswordError> {
        let cost = self.inner.costs.for_address(address);
        let password = password.to_owned();
        self.blocking(move |inner| inner.imitate(&password, cost))
            .await?
    }

    /// A fingerprint of a stored hash for reset tokens (FastAPI Users' `password_fgpt`): an
    /// argon2id PHC string any argon2 verifier reads, at the lowest cost. Its input is a salted
    /// hash, not a password, so a slow hash would protect nothing; and a cheap one keeps the
    /// work after `forgot-password` from showing in the timing of other requests.
    pub async fn fingerprint(&self, stored: &str) -> Result<String, PasswordError> {
        let stored = stored.to_owned();
        self.blocking(move |_| {
            let cheap = Params::new(8, 1, 1, Some(32))
                .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
            hash_with(
                &Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap),
                &stored,
            )
        })
        .await?
    }
}

/// Largest argon2 memory cost accepted in a stored hash (256 MiB): a hostile or corrupt row
/// must not make one login allocate gigabytes.
const MAX_MEMORY_KIB: u32 = 256 * 1024;

thread_local! {
    /// Each hashing thread keeps its argon2 memory from one hash to the next: no allocation per
    /// hash, and resident memory bounded by threads × the largest cost met. (Argon2 writes every
    /// block before reading it, so what a previous hash left there is never used.)
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn argon2_into(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let needed = argon2.params().block_count();
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..needed])
            .is_ok()
    })
}

/// Runs on each hashing thread as it starts: Linux's `SCHED_IDLE` policy, so that a thread
/// serving requests always preempts hashing at once. A storm of logins then takes the spare CPU,
/// not the latency of every other request.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadPriority, ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(error) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            tracing::debug!(?error, "cannot lower the priority of a hashing thread");
        }
    }
}

/// An argon2id PHC string of `password` with these parameters and a fresh 16-byte salt.
fn hash_with(argon2: &Argon2<'_>, password: &str) -> Result<String, PasswordError> {
    let failed = |e: &dyn std::fmt::Display| PasswordError::Hashing(e.to_string());
    let mut salt_bytes = [0u8; Salt::RECOMMENDED_LENGTH];
    rand::fill(&mut salt_bytes);
    let salt = Salt::new(&salt_bytes).map_err(|e| failed(&e))?;
    let mut out = [0u8; 32];
    if !argon2_into(argon2, password.as_bytes(), &salt_bytes, &mut out) {
        return Err(failed(&"invalid input"));
    }
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| failed(&e))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

impl Inner {
    fn hash(&self, password: &str) -> Result<String, PasswordError> {
        hash_with(&self.argon2, password)
    }

    /// As much work as verifying a hash of this cost (the configured one when `None`).
    fn imitate(&self, password: &str, cost: Option<Cost>) -> Result<(), PasswordError> {
        match cost {
            None => self.hash(password).map(drop),
            Some(Cost::Bcrypt(cost)) => {
                let _ = bcrypt::hash_with_salt(password, cost, [0u8; 16]);
                Ok(())
            }
            Some(Cost::Argon2 {
                memory_kib,
                iterations,
                parallelism,
            }) => {
                let params = Params::new(memory_kib, iterations, parallelism, Some(32))
                    .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                hash_with(&argon2, password).map(drop)
            }
        }
    }

    fn verify(&self, password: &str, stored: &str) -> Result<Verified, PasswordError> {
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
        // The algorithm, version and costs come from the stored hash itself.
        let params = Params::try_from(&parsed).ok()?;
        if params.m_cost() > MAX_MEMORY_KIB {
            tracing::warn!(
                memory_kib = params.m_cost(),
                "stored password hash asks for too much memory; refused"
            );
            return None;
        }
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
        let version = parsed
            .version
            .map_or(Ok(Version::V0x13), Version::try_from)
            .ok()?;
        let (expected, salt) = (parsed.hash?, parsed.salt?);
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params);
        if !argon2_into(&argon2, password.as_bytes(), &salt, &mut out) {
            return None;
        }
        // `Output` compares in constant time.
        (Output::new(&out).ok()? == expected).then(|| self.is_weaker(&parsed))
    }

    /// Weaker than configured: another argon2 variant or version, or less memory or fewer
    /// iterations. Stronger hashes (e.g. FastAPI Users' m=65536,t=3,p=4 under our OWASP
    /// default) are kept as they are.
    fn is_weaker(&self, parsed: &PasswordHash) -> bool {
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
    async fn unknown_addresses_imitate_the_costs_met_at_logins() {
        let hasher = fast();
        assert_eq!(hasher.inner.costs.for_address("a@b.co"), None);
        // A database of FastAPI Users hashes: the dummy hash takes their cost.
        let fastapi = PasswordHasher::new(Argon2Params {
            memory_kib: 2048,
            iterations: 3,
            parallelism: 4,
        })
        .unwrap();
        let stored = fastapi.hash("guinevere").await.unwrap();
        hasher.verify("wrong", &stored).await.unwrap();
        let migrated = Cost::Argon2 {
            memory_kib: 2048,
            iterations: 3,
            parallelism: 4,
        };
        assert_eq!(
            hasher.inner.costs.for_address("nobody@b.co"),
            Some(migrated)
        );
        hasher.verify_unknown("wrong", "nobody@b.co").await.unwrap();
        // Two costs met as often: addresses spread over both, each address always the same.
        let bcrypt = bcrypt::hash("guinevere", 4).unwrap();
        hasher.verify("wrong", &bcrypt).await.unwrap();
        let picks: Vec<Option<Cost>> = (0..200)
            .map(|i| hasher.inner.costs.for_address(&format!("user{i}@b.co")))
            .collect();
        assert!(picks.contains(&Some(migrated)) && picks.contains(&Some(Cost::Bcrypt(4))));
        for (i, pick) in picks.iter().enumerate() {
            let again = hasher.inner.costs.for_address(&format!("USER{i}@B.CO"));
            assert_eq!(again, *pick, "the same address, the same cost");
        }
        // Bounded: more costs than kept replace the rarest.
        for memory_kib in 100..120 {
            hasher.inner.costs.record(Cost::Argon2 {
                memory_kib,
                iterations: 1,
                parallelism: 1,
            });
        }
        assert_eq!(hasher.inner.costs.seen().len(), MAX_COSTS);
    }

    #[tokio::test]
    async fn reset_fingerprints_are_cheap_argon2_strings() {
        let hasher = fast();
        let stored = hasher.hash("guinevere").await.unwrap();
        let fingerprint = hasher.fingerprint(&stored).await.unwrap();
        assert!(
            fingerprint.starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
            "{fingerprint}"
        );
        assert!(hasher.matches(&stored, &fingerprint).await.unwrap());
        assert!(!hasher.matches("other", &fingerprint).await.unwrap());
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
            // A cost no login should pay (1 GiB): refused before anything is allocated.
            "$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert_eq!(
                hasher.verify("x", stored).await.unwrap(),
                Verified::No,
                "{stored}"
            );
        }
    }
}
