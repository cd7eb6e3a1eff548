//! JSON Web Tokens as FastAPI Users (PyJWT) writes and reads them: header `{"alg","typ"}`,
//! claims in the order given, `aud` required on read (a string or a list), `exp` checked when
//! present with no leeway, only the configured algorithm accepted, unknown `crit` refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{json, Map, Value};

/// Signing and verification keys for one algorithm.
#[derive(Clone)]
pub struct JwtKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The signature and claims are fine but `exp` has passed.
    #[error("token expired")]
    Expired,
    /// Anything else: malformed, bad signature, wrong algorithm or audience.
    #[error("invalid token")]
    Invalid,
}

/// Keys that cannot sign or verify: a PEM file that is not a key of the algorithm, or a key
/// that fails to sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JwtKeyError(String);

impl JwtKeys {
    /// HS256 with a shared secret (FastAPI Users' default). An empty secret would let anyone
    /// sign tokens: it is replaced by a random one (tokens then die with the process), with an
    /// error in the log.
    pub fn hs256(secret: &[u8]) -> Self {
        let random;
        let secret = if secret.is_empty() {
            tracing::error!(
                "empty JWT secret: a random one is used instead, so tokens die with the \
                 process and other instances refuse them; configure a long random secret"
            );
            random = rand::random::<[u8; 32]>();
            &random[..]
        } else {
            secret
        };
        // A non-empty secret is all an HMAC key needs; the fallback keeps a key either way.
        match (
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        ) {
            (Ok(encoding), Ok(decoding)) => Self {
                algorithm: Algorithm::HS256,
                encoding,
                decoding,
            },
            _ => unreachable!("jsonwebtoken refuses only empty HMAC secrets"),
        }
    }

    /// An asymmetric algorithm (RS256/384/512, PS*, ES256/384, EdDSA) from a PEM key pair: the
    /// private key signs, the public key verifies.
    pub fn from_pem(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, JwtKeyError> {
        use Algorithm::*;
        let keys = match algorithm {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => (
                EncodingKey::from_rsa_pem(private_pem),
                DecodingKey::from_rsa_pem(public_pem),
            ),
            ES256 | ES384 => (
                EncodingKey::from_ec_pem(private_pem),
                DecodingKey::from_ec_pem(public_pem),
            ),
            EdDSA => (
                EncodingKey::from_ed_pem(private_pem),
                DecodingKey::from_ed_pem(public_pem),
            ),
            _ => {
                return Err(JwtKeyError(format!(
                    "{algorithm:?} takes a secret, not a key pair"
                )));
            }
        };
        match keys {
            (Ok(encoding), Ok(decoding)) => Ok(Self {
                algorithm,
                encoding,
                decoding,
            }),
            (Err(e), _) => Err(JwtKeyError(format!(
                "the private key is not a valid {algorithm:?} PEM key: {e}"
            ))),
            (_, Err(e)) => Err(JwtKeyError(format!(
                "the public key is not a valid {algorithm:?} PEM key: {e}"
            ))),
        }
    }

    /// The algorithm these keys sign with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Signs the claims (kept in the order given).
    pub fn encode(&self, claims: &Map<String, Value>) -> Result<String, JwtKeyError> {
        let alg = format!("{:?}", self.algorithm);
        let header = json!({"alg": alg, "typ": "JWT"});
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, self.algorithm)
                .map_err(|e| JwtKeyError(format!("JWT signing failed: {e}")))?;
        Ok(format!("{message}.{signature}"))
    }

    /// Verifies a token and returns its claims. `audience`: the token's `aud` must contain one.
    pub fn decode(&self, token: &str, audience: &[&str]) -> Result<Map<String, Value>, JwtError> {
        let claims: Map<String, Value> = self.decode_with(token, &self.validation(audience))?;
        let whole = |name: &str| claims.get(name).map(|value| value.as_i64());
        check_times(whole("exp"), whole("nbf"), whole("iat"))?;
        Ok(claims)
    }

    /// What [`Self::decode`] checks the signature, algorithm and audience with: build it once
    /// for tokens read again and again, and give it to [`Self::decode_with`].
    pub(crate) fn validation(&self, audience: &[&str]) -> Validation {
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = 0;
        validation.required_spec_claims = ["aud".to_owned()].into_iter().collect();
        validation.set_audience(audience);
        validation
    }

    /// The claims as `T`, the signature, algorithm, audience and a present `exp` checked
    /// (`nbf`, `iat` and PyJWT's whole-second rule are the caller's: [`check_times`]), and no
    /// `crit` in the header (PyJWT >= 2.12 refuses a token whose header names critical
    /// extensions it does not know; it knows none).
    pub(crate) fn decode_with<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, JwtError> {
        /// The header's `crit`, present (even `null`) or not; nothing else is kept.
        #[derive(serde::Deserialize)]
        struct Critical {
            #[serde(default, deserialize_with = "present")]
            crit: Option<serde::de::IgnoredAny>,
        }
        let header_b64 = token.split('.').next().ok_or(JwtError::Invalid)?;
        let header = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| JwtError::Invalid)?;
        // A `crit` member is spelt `crit` or with a `\u` escape: a header with neither cannot
        // hold one (jsonwebtoken parses it whole below), so only those are parsed here.
        if header.windows(4).any(|w| w == b"crit") || header.contains(&b'\\') {
            let parsed: Critical =
                serde_json::from_slice(&header).map_err(|_| JwtError::Invalid)?;
            if parsed.crit.is_some() {
                return Err(JwtError::Invalid);
            }
        }
        jsonwebtoken::decode::<T>(token, &self.decoding, validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid,
            })
    }
}

/// Seconds since the Unix epoch with their fraction, as PyJWT compares claims with it.
fn now_precise() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// Seconds since the Unix epoch, as PyJWT writes `exp` (whole seconds).
pub fn now_unix() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

/// PyJWT compares whole-second claims with the current time to the microsecond, leeway 0: a
/// token whose `exp` is this second has expired, one whose `nbf` or `iat` is later than now is
/// not valid yet. Each claim: absent (`None`), a whole number (`Some(Some(_))`) or anything
/// else (`Some(None)`, refused).
pub(crate) fn check_times(
    exp: Option<Option<i64>>,
    nbf: Option<Option<i64>>,
    iat: Option<Option<i64>>,
) -> Result<(), JwtError> {
    let now = now_precise();
    match exp {
        Some(Some(exp)) if (exp as f64) <= now => return Err(JwtError::Expired),
        Some(None) => return Err(JwtError::Invalid),
        _ => {}
    }
    for claim in [nbf, iat] {
        match claim {
            Some(Some(at)) if (at as f64) > now => return Err(JwtError::Invalid),
            Some(None) => return Err(JwtError::Invalid),
            _ => {}
        }
    }
    Ok(())
}

/// For `#[serde(default, deserialize_with = "present")]`: a member that is there, even as
/// `null`, is `Some`; only a missing one is `None`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"SECRET";

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn reads_pyjwt_tokens() {
        // jwt.encode({"sub":"abc","aud":["fastapi-users:auth"]}, "SECRET", "HS256") in PyJWT.
        let keys = JwtKeys::hs256(SECRET);
        let token = keys
            .encode(&claims(json!({"sub":"abc","aud":["fastapi-users:auth"]})))
            .unwrap();
        assert!(
            token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."),
            "{token}"
        );
        let decoded = keys.decode(&token, &["fastapi-users:auth"]).unwrap();
        assert_eq!(decoded["sub"], "abc");
    }

    #[test]
    fn audience_rules() {
        let keys = JwtKeys::hs256(SECRET);
        let plain = keys
            .encode(&claims(json!({"sub":"a","aud":"fastapi-users:auth"})))
            .unwrap();
        assert!(keys.decode(&plain, &["fastapi-users:auth"]).is_ok());
        let none = keys.encode(&claims(json!({"sub":"a"}))).unwrap();
        assert_eq!(
            keys.decode(&none, &["fastapi-users:auth"]),
            Err(JwtError::Invalid)
        );
        let other = keys
            .encode(&claims(json!({"sub":"a","aud":"fastapi-users:reset"})))
            .unwrap();
        assert_eq!(
            keys.decode(&other, &["fastapi-users:auth"]),
            Err(JwtError::Invalid)
        );
    }

    #[test]
    fn expiry_and_signature() {
        let keys = JwtKeys::hs256(SECRET);
        let expired = keys
            .encode(&claims(json!({"aud":"x","exp": now_unix() - 1})))
            .unwrap();
        assert_eq!(keys.decode(&expired, &["x"]), Err(JwtError::Expired));
        let forged = JwtKeys::hs256(b"OTHER")
            .encode(&claims(json!({"aud":"x"})))
            .unwrap();
        assert_eq!(keys.decode(&forged, &["x"]), Err(JwtError::Invalid));
        assert_eq!(keys.decode("garbage", &["x"]), Err(JwtError::Invalid));
    }

    #[test]
    fn refuses_alg_none_and_crit() {
        let keys = JwtKeys::hs256(SECRET);
        let payload = URL_SAFE_NO_PAD.encode(r#"{"aud":"x"}"#);
        let none = format!(
            "{}.{payload}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
        );
        assert_eq!(keys.decode(&none, &["x"]), Err(JwtError::Invalid));
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT","crit":["b64"]}"#);
        let message = format!("{header}.{payload}");
        let sig = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(SECRET).unwrap(),
            Algorithm::HS256,
        )
        .unwrap();
        assert_eq!(
            keys.decode(&format!("{message}.{sig}"), &["x"]),
            Err(JwtError::Invalid)
        );
    }
}
