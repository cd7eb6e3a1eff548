//! User ids as FastAPI Users writes and reads them: UUIDs (`UUIDIDMixin`, the default) or
//! integers the database assigns (`IntegerIDMixin`), each parsed the way Python parses it.

use uuid::Uuid;

/// A user's id: a UUID v4 (FastAPI Users' default, `UUIDIDMixin`), or an integer the database
/// assigns (`IntegerIDMixin`). A store holds one kind ([`IdKind`]); on the wire and in a token's
/// `sub` it is what Python's `str(user.id)` gives, and in JSON a string or a number.
///
/// ```
/// use axum_users::{IdKind, UserId};
/// assert_eq!(IdKind::Integer.parse(" 4_2 "), Some(UserId::Int(42)));
/// assert_eq!(UserId::Int(42).to_string(), "42");
/// assert_eq!(serde_json::to_string(&UserId::Int(42)).unwrap(), "42");
/// assert_eq!(IdKind::Uuid.parse("42"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum UserId {
    /// A UUID: canonical lower-case text on the wire, `CHAR(36)` in SQLite, `uuid` in PostgreSQL.
    Uuid(Uuid),
    /// An integer assigned by the database (`INTEGER PRIMARY KEY`, `SERIAL`).
    Int(i64),
}

/// Which ids a store holds, as FastAPI Users' ID mixins: [`IdKind::Uuid`] (the default) or
/// [`IdKind::Integer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdKind {
    /// UUID v4, made by the application (`UUIDIDMixin`).
    #[default]
    Uuid,
    /// Integers made by the database (`IntegerIDMixin`).
    Integer,
}

impl UserId {
    /// A fresh UUID v4. A store of integer ids ignores the id of a user it creates and answers
    /// the one the database assigned.
    pub fn new_uuid() -> Self {
        Self::Uuid(Uuid::new_v4())
    }

    /// The kind of this id.
    pub fn kind(&self) -> IdKind {
        match self {
            Self::Uuid(_) => IdKind::Uuid,
            Self::Int(_) => IdKind::Integer,
        }
    }

    /// An id from a token minted by this server or FastAPI Users (`str(user.id)`): an integer
    /// when the text is one, a UUID otherwise. The store's own kind decides whether it can
    /// name a user (see [`IdKind::parse`] for ids a client typed).
    pub(crate) fn parse_any(value: &str) -> Option<Self> {
        IdKind::Integer
            .parse(value)
            .or_else(|| IdKind::Uuid.parse(value))
    }
}

impl IdKind {
    /// Parses an id the way FastAPI Users' mixin does: `uuid.UUID(value)` (any letter case,
    /// hyphens optional, `{...}` and `urn:uuid:` accepted) or `int(value)` (surrounding
    /// whitespace, a sign and `_` between digits accepted). `None` when it is not one, or is
    /// out of the 64-bit range no store holds beyond.
    pub fn parse(self, value: &str) -> Option<UserId> {
        match self {
            Self::Uuid => parse_uuid(value).map(UserId::Uuid),
            Self::Integer => parse_int(value).map(UserId::Int),
        }
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uuid(id) => id.fmt(f),
            Self::Int(id) => id.fmt(f),
        }
    }
}

impl From<Uuid> for UserId {
    fn from(id: Uuid) -> Self {
        Self::Uuid(id)
    }
}

impl From<i64> for UserId {
    fn from(id: i64) -> Self {
        Self::Int(id)
    }
}

impl From<UserId> for serde_json::Value {
    fn from(id: UserId) -> Self {
        match id {
            UserId::Uuid(id) => Self::from(id.to_string()),
            UserId::Int(id) => Self::from(id),
        }
    }
}

impl serde::Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Uuid(id) => serializer.collect_str(id),
            Self::Int(id) => serializer.serialize_i64(*id),
        }
    }
}

impl<'de> serde::Deserialize<'de> for UserId {
    /// A number is an integer id; a string is either kind (an integer when it reads as one).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Int(i64),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Int(id) => Ok(Self::Int(id)),
            Wire::Text(text) => Self::parse_any(&text)
                .ok_or_else(|| serde::de::Error::custom("not a UUID or an integer id")),
        }
    }
}

/// Python's `uuid.UUID(str)`.
fn parse_uuid(value: &str) -> Option<Uuid> {
    // The forms the uuid crate reads (hyphenated, simple, braced, URN) are all Python's too and
    // mean the same there: most ids take this path, with nothing allocated.
    if let Ok(id) = Uuid::try_parse(value) {
        return Some(id);
    }
    let stripped = value.replace("urn:", "").replace("uuid:", "");
    let hex: String = stripped
        .trim_matches(|c| c == '{' || c == '}')
        .chars()
        .filter(|&c| c != '-')
        .collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Uuid::try_parse(&hex).ok()
}

/// Python's `int(str)` for ASCII digits: whitespace around, one sign, single `_` between digits.
fn parse_int(value: &str) -> Option<i64> {
    let text = value.trim_matches(|c: char| c.is_whitespace());
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let bytes = digits.as_bytes();
    let well_placed = |i: usize| {
        i > 0 && i + 1 < bytes.len() && bytes[i - 1].is_ascii_digit() && bytes[i + 1] != b'_'
    };
    if bytes.is_empty()
        || !bytes
            .iter()
            .enumerate()
            .all(|(i, &b)| b.is_ascii_digit() || (b == b'_' && well_placed(i)))
    {
        return None;
    }
    let plain: String = digits.chars().filter(|&c| c != '_').collect();
    let magnitude: i128 = plain.parse().ok().or_else(|| {
        // More digits than an i128 holds: in range only if they are leading zeros.
        let significant = plain.trim_start_matches('0');
        if significant.is_empty() {
            Some(0)
        } else {
            significant.parse().ok()
        }
    })?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

#[cfg(test)]
mod tests {
    use super::{IdKind, UserId};

    #[test]
    fn reads_uuids_as_python_reads_them() {
        let id = "52c7bd65-6d03-4bc2-8db7-f36615b94aa0";
        let parse = |s: &str| IdKind::Uuid.parse(s).map(|u| u.to_string());
        assert_eq!(
            parse("52C7BD656D034BC28DB7F36615B94AA0"),
            Some(id.to_owned())
        );
        assert_eq!(
            parse("urn:uuid:{52c7bd65-6d03-4bc2-8db7-f36615b94aa0}"),
            Some(id.to_owned())
        );
        assert_eq!(parse("me"), None);
        assert_eq!(parse("42"), None);
    }

    #[test]
    fn reads_integers_as_python_int_reads_them() {
        let parse = |s: &str| IdKind::Integer.parse(s);
        for (text, want) in [
            ("42", Some(42)),
            (" 42\n", Some(42)),
            ("+42", Some(42)),
            ("-7", Some(-7)),
            ("1_000", Some(1000)),
            ("007", Some(7)),
            ("0000000000000000000000000000000000000000000009", Some(9)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("99999999999999999999999999999999999999999999", None),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("+", None),
            ("", None),
            ("1.0", None),
            ("0x10", None),
            ("4 2", None),
            ("52c7bd65-6d03-4bc2-8db7-f36615b94aa0", None),
        ] {
            assert_eq!(parse(text), want.map(UserId::Int), "{text:?}");
        }
    }

    #[test]
    fn a_token_subject_is_an_integer_when_it_reads_as_one() {
        assert_eq!(UserId::parse_any("12"), Some(UserId::Int(12)));
        let uuid = "52c7bd65-6d03-4bc2-8db7-f36615b94aa0";
        assert_eq!(
            UserId::parse_any(uuid).map(|id| id.to_string()).as_deref(),
            Some(uuid)
        );
        assert_eq!(UserId::parse_any("me"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = UserId::parse_any(&text);
        }

        #[test]
        fn integers_read_back(n in proptest::num::i64::ANY) {
            proptest::prop_assert_eq!(IdKind::Integer.parse(&n.to_string()), Some(UserId::Int(n)));
        }
    }
}
