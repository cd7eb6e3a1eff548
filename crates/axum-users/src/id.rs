//! User ids as FastAPI Users writes and reads them: UUIDs, parsed the way Python's
//! `uuid.UUID(str)` parses them.

use uuid::Uuid;

/// Parses an id the way Python's `uuid.UUID(str)` does: any letter case, hyphens optional,
/// `{...}` and `urn:uuid:` accepted.
pub(crate) fn parse_id(value: &str) -> Option<Uuid> {
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

#[cfg(test)]
mod tests {
    use super::parse_id;

    #[test]
    fn reads_what_python_reads() {
        let id = "52c7bd65-6d03-4bc2-8db7-f36615b94aa0";
        assert_eq!(
            parse_id("52C7BD656D034BC28DB7F36615B94AA0").map(|u| u.to_string()),
            Some(id.to_owned())
        );
        assert_eq!(
            parse_id("urn:uuid:{52c7bd65-6d03-4bc2-8db7-f36615b94aa0}").map(|u| u.to_string()),
            Some(id.to_owned())
        );
        assert!(parse_id("me").is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = parse_id(&text);
        }
    }
}
