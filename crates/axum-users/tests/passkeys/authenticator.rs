//! A software authenticator for the tests: an ES256 key pair per credential, answering
//! WebAuthn's registration ("none" attestation) and assertion ceremonies as a browser would
//! hand them over (`PublicKeyCredential.toJSON()`), with knobs to break each check.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// One discoverable credential on the authenticator.
#[derive(Clone)]
pub struct Credential {
    pub id: Vec<u8>,
    key: SigningKey,
    pub user_handle: Vec<u8>,
    pub counter: u32,
}

/// What the authenticator does differently from a good one.
#[derive(Clone, Default)]
pub struct Quirks {
    /// The origin the "browser" reports (default `http://localhost:8000`).
    pub origin: Option<String>,
    /// Answer without the user-verified flag (a tap, no PIN or biometric).
    pub no_user_verification: bool,
    /// Sign with another key than the registered one.
    pub wrong_key: bool,
    /// Answer for another challenge than the one asked.
    pub wrong_challenge: bool,
}

pub const ORIGIN: &str = "http://localhost:8000";
pub const RP_ID: &str = "localhost";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

// Minimal CBOR (RFC 8949) for what WebAuthn needs: small maps, text, bytes, integers.
fn cbor_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | u8::try_from(value).unwrap()),
        24..=0xff => out.extend([major | 24, u8::try_from(value).unwrap()]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend(u16::try_from(value).unwrap().to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend(u32::try_from(value).unwrap().to_be_bytes());
        }
    }
}

fn cbor_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        cbor_head(out, 0, value.unsigned_abs());
    } else {
        cbor_head(out, 1, (-1 - value).unsigned_abs());
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len() as u64);
    out.extend(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len() as u64);
    out.extend(text.as_bytes());
}

impl Credential {
    fn new(user_handle: Vec<u8>) -> Self {
        let mut seed = [0u8; 32];
        let mut id = vec![0u8; 32];
        getrandom(&mut seed);
        getrandom(&mut id);
        Self {
            id,
            key: SigningKey::from_slice(&seed).unwrap(),
            user_handle,
            counter: 0,
        }
    }

    /// COSE_Key of the public key (EC2, ES256, P-256).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_bytes();
        let mut out = Vec::new();
        cbor_head(&mut out, 5, 5);
        for (label, value) in [(1, 2), (3, -7), (-1, 1)] {
            cbor_int(&mut out, label);
            cbor_int(&mut out, value);
        }
        cbor_int(&mut out, -2);
        cbor_bytes(&mut out, &point[1..33]);
        cbor_int(&mut out, -3);
        cbor_bytes(&mut out, &point[33..65]);
        out
    }
}

fn getrandom(bytes: &mut [u8]) {
    // Tests need no cryptographic randomness, only distinct keys: a hash of time and a counter.
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{:?}{}",
        std::time::SystemTime::now(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let digest = Sha256::digest(seed.as_bytes());
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = digest[i % 32];
    }
}

fn client_data(kind: &str, challenge: &str, quirks: &Quirks) -> Vec<u8> {
    let challenge = if quirks.wrong_challenge {
        b64(b"another challenge entirely")
    } else {
        challenge.to_owned()
    };
    json!({
        "type": kind,
        "challenge": challenge,
        "origin": quirks.origin.as_deref().unwrap_or(ORIGIN),
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}

fn flags(quirks: &Quirks, attested: bool) -> u8 {
    // User present, user verified, attested credential data included.
    let mut flags = 0x01;
    if !quirks.no_user_verification {
        flags |= 0x04;
    }
    if attested {
        flags |= 0x40;
    }
    flags
}

/// Creates a credential for the options a registration's begin answered (`publicKey`), and
/// the `credential` its finish takes.
pub fn register(options: &Value, quirks: &Quirks) -> (Credential, Value) {
    let handle = unb64(options["publicKey"]["user"]["id"].as_str().unwrap());
    let credential = Credential::new(handle);
    let json = attest(&credential, options, quirks);
    (credential, json)
}

/// A registration answer for a credential registered before (what `excludeCredentials` tells a
/// good authenticator not to give).
pub fn register_again(credential: &Credential, options: &Value) -> Value {
    attest(credential, options, &Quirks::default())
}

fn attest(credential: &Credential, options: &Value, quirks: &Quirks) -> Value {
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], RP_ID);
    let challenge = public_key["challenge"].as_str().unwrap();
    let client_data = client_data("webauthn.create", challenge, quirks);
    let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
    auth_data.push(flags(quirks, true));
    auth_data.extend(credential.counter.to_be_bytes());
    auth_data.extend([0u8; 16]);
    auth_data.extend(u16::try_from(credential.id.len()).unwrap().to_be_bytes());
    auth_data.extend(&credential.id);
    auth_data.extend(credential.cose_key());
    let mut attestation = Vec::new();
    cbor_head(&mut attestation, 5, 3);
    cbor_text(&mut attestation, "fmt");
    cbor_text(&mut attestation, "none");
    cbor_text(&mut attestation, "attStmt");
    cbor_head(&mut attestation, 5, 0);
    cbor_text(&mut attestation, "authData");
    cbor_bytes(&mut attestation, &auth_data);
    json!({
        "id": b64(&credential.id),
        "rawId": b64(&credential.id),
        "type": "public-key",
        "response": {
            "attestationObject": b64(&attestation),
            "clientDataJSON": b64(&client_data),
            "transports": ["internal"],
        },
        "clientExtensionResults": {},
        "authenticatorAttachment": "platform",
    })
}

/// Signs in with `credential` for the options a sign-in's begin answered; the counter moves
/// on as a hardware key's does.
pub fn assert(credential: &mut Credential, options: &Value, quirks: &Quirks) -> Value {
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rpId"], RP_ID);
    let challenge = public_key["challenge"].as_str().unwrap();
    let client_data = client_data("webauthn.get", challenge, quirks);
    credential.counter += 1;
    let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
    auth_data.push(flags(quirks, false));
    auth_data.extend(credential.counter.to_be_bytes());
    let mut signed = auth_data.clone();
    signed.extend(Sha256::digest(&client_data));
    let key = if quirks.wrong_key {
        Credential::new(Vec::new()).key
    } else {
        credential.key.clone()
    };
    let signature: Signature = key.sign(&signed);
    json!({
        "id": b64(&credential.id),
        "rawId": b64(&credential.id),
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&auth_data),
            "clientDataJSON": b64(&client_data),
            "signature": b64(signature.to_der().as_bytes()),
            "userHandle": b64(&credential.user_handle),
        },
        "clientExtensionResults": {},
        "authenticatorAttachment": "platform",
    })
}
