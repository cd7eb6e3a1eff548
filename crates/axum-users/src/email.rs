//! E-mail validation and normalisation with the rules of Pydantic's `EmailStr`
//! (email-validator, no deliverability check), so that the stored value and every 422 message
//! match FastAPI Users: whitespace trimmed, display-name form reduced, IDNA domains shown in
//! Unicode, domain lower-cased, local part kept as typed but in Unicode NFC, unsafe characters
//! (invisible, bidirectional, private-use, unassigned) refused.
//!
//! [`email_key`] is what makes two addresses one account: the stores keep it unique and look
//! addresses up by it.

use unicode_general_category::{get_general_category, GeneralCategory};
use unicode_normalization::UnicodeNormalization as _;

/// Longest input Pydantic looks at.
const MAX_INPUT_CHARS: usize = 2048;
/// Longest local part (RFC 5321 §4.5.3.1.1), in characters.
const LOCAL_PART_MAX_CHARS: usize = 64;
/// Domains that cannot receive mail (email-validator's special-use list).
const SPECIAL_USE: [&str; 6] = ["arpa", "invalid", "local", "localhost", "onion", "test"];

/// An e-mail address that email-validator (and so FastAPI Users) refuses; it displays the
/// reason, the text that follows `value is not a valid email address: ` in the 422 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(String);

impl InvalidEmail {
    /// Why, in email-validator's words.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

/// Validates and normalises an e-mail address as email-validator does for FastAPI Users.
///
/// ```
/// use axum_users::normalize_email;
/// assert_eq!(normalize_email(" King.Arthur@Camelot.BT ").unwrap(), "King.Arthur@camelot.bt");
/// assert_eq!(normalize_email("Arthur <arthur@camelot.bt>").unwrap(), "arthur@camelot.bt");
/// assert!(normalize_email("user@localhost").is_err());
/// ```
pub fn normalize_email(input: &str) -> Result<String, InvalidEmail> {
    normalize(input).map_err(InvalidEmail)
}

/// [`normalize_email`] with the reason as text.
pub(crate) fn normalize(input: &str) -> Result<String, String> {
    if input.chars().count() > MAX_INPUT_CHARS {
        return Err(format!(
            "Length must not exceed {MAX_INPUT_CHARS} characters"
        ));
    }
    let address = strip_display_name(input).trim();
    if address.contains(['\r', '\n']) {
        return Err("Carriage return and line feed characters are not allowed".into());
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err("An email address must have an @-sign.".into());
    };
    if local.is_empty() {
        return Err("There must be something before the @-sign.".into());
    }
    if domain.is_empty() {
        return Err("There must be something after the @-sign.".into());
    }
    check_local_part(local)?;
    let local = if local.is_ascii() {
        local.to_owned()
    } else {
        // RFC 6532 §3.1, as email-validator: the local part is kept in NFC.
        let normal: String = local.nfc().collect();
        if normal != local {
            check_local_part(&normal).map_err(|e| format!("After Unicode normalization: {e}"))?;
        }
        normal
    };
    let domain = normalize_domain(domain)?;
    Ok(format!("{local}@{domain}"))
}

/// The form that two addresses share when they are one mailbox for a person: compatibility
/// normalisation (fullwidth letters, ligatures such as `ﬃ`, the Kelvin sign), then lower case
/// over all of Unicode (`É`, `İ`, Greek final sigma as sigma), normalised again. Uniqueness is
/// enforced on it and look-ups compare it; the address itself is stored as the user typed it.
///
/// ```
/// use axum_users::email_key;
/// assert_eq!(email_key("King.Arthur@camelot.bt"), "king.arthur@camelot.bt");
/// assert_eq!(email_key("ＪＯＨＮ@example.com"), email_key("john@example.com"));
/// assert_eq!(email_key("ÜNÏ@example.com"), email_key("ünï@example.com"));
/// assert_eq!(email_key("e\u{301}@example.com"), email_key("\u{e9}@example.com"));
/// ```
pub fn email_key(email: &str) -> String {
    if email.is_ascii() {
        return email.to_ascii_lowercase();
    }
    let lowered = email
        .nfkc()
        .collect::<String>()
        .to_lowercase()
        .replace('ς', "σ");
    lowered.nfkc().collect()
}

/// How email-validator names a character in a message: printable ones quoted, others by their
/// Unicode name (or code point).
fn display_char(c: char) -> String {
    if c == '\\' {
        return "\"\\\"".into();
    }
    if matches!(category_class(c), 'L' | 'N' | 'P' | 'S') {
        return if c == '\'' {
            "\"'\"".into()
        } else {
            format!("'{c}'")
        };
    }
    match unicode_names2::name(c) {
        Some(name) if !c.is_control() => name.to_string(),
        _ if (c as u32) < 0xFFFF => format!("U+{:04X}", c as u32),
        _ => format!("U+{:08X}", c as u32),
    }
}

/// The first letter of a character's general category (`L`, `M`, `N`, `P`, `S`, `Z`, `C`).
fn category_class(c: char) -> char {
    use GeneralCategory as G;
    match get_general_category(c) {
        G::UppercaseLetter
        | G::LowercaseLetter
        | G::TitlecaseLetter
        | G::ModifierLetter
        | G::OtherLetter => 'L',
        G::NonspacingMark | G::SpacingMark | G::EnclosingMark => 'M',
        G::DecimalNumber | G::LetterNumber | G::OtherNumber => 'N',
        G::ConnectorPunctuation
        | G::DashPunctuation
        | G::OpenPunctuation
        | G::ClosePunctuation
        | G::InitialPunctuation
        | G::FinalPunctuation
        | G::OtherPunctuation => 'P',
        G::MathSymbol | G::CurrencySymbol | G::ModifierSymbol | G::OtherSymbol => 'S',
        G::SpaceSeparator | G::LineSeparator | G::ParagraphSeparator => 'Z',
        _ => 'C',
    }
}

/// email-validator's `check_unsafe_chars`: letters, numbers, punctuation and symbols are fine, a
/// combining mark only after something; spaces, separators, controls, format characters
/// (zero-width, soft hyphen, bidirectional), private-use and unassigned code points are not.
fn check_unsafe(text: &str) -> Result<(), String> {
    let mut bad: Vec<char> = text
        .chars()
        .enumerate()
        .filter(|&(i, c)| match category_class(c) {
            'L' | 'N' | 'P' | 'S' => false,
            'M' => i == 0,
            _ => true,
        })
        .map(|(_, c)| c)
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    bad.sort_unstable();
    bad.dedup();
    let names: Vec<String> = bad.into_iter().map(display_char).collect();
    Err(format!(
        "The email address contains unsafe characters: {}.",
        names.join(", ")
    ))
}

/// `Name <address>` and `"Name" <address>` are reduced to the address, as Pydantic does.
fn strip_display_name(input: &str) -> &str {
    let trimmed = input.trim();
    let Some(inner) = trimmed.strip_suffix('>') else {
        return input;
    };
    let Some(open) = inner.find('<') else {
        return input;
    };
    let name = inner[..open].trim();
    let quoted = name.len() >= 2 && name.starts_with('"') && name.ends_with('"');
    let plain = name
        .chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_!#$%&'*+-/=?^`{|}~".contains(c));
    if quoted || plain {
        &inner[open + 1..]
    } else {
        input
    }
}

fn invalid_chars(text: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    let mut bad: Vec<char> = text.chars().filter(|&c| !allowed(c)).collect();
    if bad.is_empty() {
        return None;
    }
    bad.sort_unstable();
    bad.dedup();
    Some(
        bad.into_iter()
            .map(display_char)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn check_local_part(local: &str) -> Result<(), String> {
    if local.starts_with('"') {
        return Err("Quoting the part before the @-sign is not allowed here.".into());
    }
    let atext =
        |c: char| c.is_ascii_alphanumeric() || "_!#$%&'*+-/=?^`{|}~.".contains(c) || !c.is_ascii();
    if let Some(bad) = invalid_chars(local, atext) {
        return Err(format!(
            "The email address contains invalid characters before the @-sign: {bad}."
        ));
    }
    if local.starts_with('.') {
        return Err("An email address cannot start with a period.".into());
    }
    if local.ends_with('.') {
        return Err("An email address cannot have a period immediately before the @-sign.".into());
    }
    if local.contains("..") {
        return Err("An email address cannot have two periods in a row.".into());
    }
    let length = local.chars().count();
    if length > LOCAL_PART_MAX_CHARS {
        let over = length - LOCAL_PART_MAX_CHARS;
        let plural = if over == 1 { "" } else { "s" };
        return Err(format!(
            "The email address is too long before the @-sign ({over} character{plural} too many)."
        ));
    }
    if !local.is_ascii() {
        check_unsafe(local)?;
    }
    Ok(())
}

fn normalize_domain(domain: &str) -> Result<String, String> {
    if domain.starts_with('[') {
        return Err("A bracketed IP address after the @-sign is not allowed here.".into());
    }
    let hostname = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || !c.is_ascii();
    if let Some(bad) = invalid_chars(domain, hostname) {
        return Err(format!(
            "The part after the @-sign contains invalid characters: {bad}."
        ));
    }
    if !domain.is_ascii() {
        check_unsafe(domain)?;
    }
    if domain.starts_with('.') {
        return Err("An email address cannot have a period immediately after the @-sign.".into());
    }
    if domain.ends_with('.') {
        return Err("An email address cannot end with a period.".into());
    }
    if domain.contains("..") {
        return Err("An email address cannot have two periods in a row.".into());
    }
    if domain.starts_with('-') {
        return Err("An email address cannot have a hyphen immediately after the @-sign.".into());
    }
    if domain.contains(".-") || domain.contains("-.") || domain.ends_with('-') {
        return Err(
            "An email address cannot have a period and a hyphen next to each other.".into(),
        );
    }
    let ascii = idna::domain_to_ascii(domain).map_err(|_| {
        "The part after the @-sign contains invalid characters (IDNA conversion failed).".to_owned()
    })?;
    for label in ascii.split('.') {
        let len = label.chars().count();
        if len > 63 {
            let over = len - 63;
            let plural = if over == 1 { "" } else { "s" };
            return Err(format!(
                "After the @-sign, periods cannot be separated by so many characters ({over} character{plural} too many)."
            ));
        }
    }
    if ascii.len() > 253 {
        return Err("The email address is too long after the @-sign.".into());
    }
    let Some((_, tld)) = ascii.rsplit_once('.') else {
        return Err("The part after the @-sign is not valid. It should have a period.".into());
    };
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(
            "The part after the @-sign is not valid. It is not within a valid top-level domain."
                .into(),
        );
    }
    if SPECIAL_USE
        .iter()
        .any(|s| ascii == *s || ascii.ends_with(&format!(".{s}")))
    {
        return Err("The part after the @-sign is a special-use or reserved name that cannot be used with email.".into());
    }
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    result.map_err(|_| "The part after the @-sign is invalid.".to_owned())?;
    Ok(unicode)
}

#[cfg(test)]
mod tests {
    use super::{normalize, normalize_email};

    #[test]
    fn normalizes_like_email_validator() {
        let ok = [
            ("Arthur Pendragon <arthur@Camelot.bt>", "arthur@camelot.bt"),
            ("  Spaced@Example.COM ", "Spaced@example.com"),
            ("user@xn--bcher-kva.de", "user@bücher.de"),
            ("Ünï@example.com", "Ünï@example.com"),
            ("user+tag@Example.com", "user+tag@example.com"),
            ("a@localhost.localdomain", "a@localhost.localdomain"),
            ("a@x.example", "a@x.example"),
            ("e\u{301}@example.com", "\u{e9}@example.com"),
            (
                "\u{ff4a}\u{ff4f}hn@example.com",
                "\u{ff4a}\u{ff4f}hn@example.com",
            ),
            ("\u{212a}elvin@example.com", "Kelvin@example.com"),
            ("x@ex\u{430}mple.com", "x@ex\u{430}mple.com"),
        ];
        for (input, expected) in ok {
            assert_eq!(normalize(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn rejects_with_email_validator_reasons() {
        let bad = [
            ("not-an-email", "An email address must have an @-sign."),
            ("a@localhost", "The part after the @-sign is not valid. It should have a period."),
            ("a@x.local", "The part after the @-sign is a special-use or reserved name that cannot be used with email."),
            ("a@x.home.arpa", "The part after the @-sign is a special-use or reserved name that cannot be used with email."),
            ("\"q\"@x.com", "Quoting the part before the @-sign is not allowed here."),
            ("a@[1.2.3.4]", "A bracketed IP address after the @-sign is not allowed here."),
            ("a..b@x.com", "An email address cannot have two periods in a row."),
            (".a@x.com", "An email address cannot start with a period."),
            ("a.@x.com", "An email address cannot have a period immediately before the @-sign."),
            ("a\r\n@x.com", "Carriage return and line feed characters are not allowed"),
            ("@x.com", "There must be something before the @-sign."),
            ("a@", "There must be something after the @-sign."),
            ("a@b@c.com", "The part after the @-sign contains invalid characters: '@'."),
            ("a b@x.com", "The email address contains invalid characters before the @-sign: SPACE."),
            ("ab(c)@x.com", "The email address contains invalid characters before the @-sign: '(', ')'."),
            ("a@x_y.com", "The part after the @-sign contains invalid characters: '_'."),
            ("a@x.123", "The part after the @-sign is not valid. It is not within a valid top-level domain."),
            ("a@-x.com", "An email address cannot have a hyphen immediately after the @-sign."),
            ("a@x.com.", "An email address cannot end with a period."),
            ("a@.x.com", "An email address cannot have a period immediately after the @-sign."),
        ];
        for (input, reason) in bad {
            assert_eq!(normalize(input), Err(reason.to_owned()), "{input:?}");
        }
        // Unicode: the messages of email-validator 2.3 (through Pydantic 2.14), observed.
        let unicode = [
            (
                "jo\u{200b}hn@example.com",
                "The email address contains unsafe characters: ZERO WIDTH SPACE.",
            ),
            (
                "jo\u{ad}hn@example.com",
                "The email address contains unsafe characters: SOFT HYPHEN.",
            ),
            (
                "\u{301}a@example.com",
                "The email address contains unsafe characters: COMBINING ACUTE ACCENT.",
            ),
            (
                "a\u{202e}b@example.com",
                "The email address contains unsafe characters: RIGHT-TO-LEFT OVERRIDE.",
            ),
            (
                "\u{e0001}a@x.com",
                "The email address contains unsafe characters: LANGUAGE TAG.",
            ),
            (
                "a\u{2028}b@x.com",
                "The email address contains unsafe characters: LINE SEPARATOR.",
            ),
            (
                "a\u{a0}b@x.com",
                "The email address contains unsafe characters: NO-BREAK SPACE.",
            ),
            (
                "a\u{e000}b@x.com",
                "The email address contains unsafe characters: U+E000.",
            ),
            (
                "ab\u{0}c@x.com",
                "The email address contains invalid characters before the @-sign: U+0000.",
            ),
            (
                "a\tb@x.com",
                "The email address contains invalid characters before the @-sign: U+0009.",
            ),
            (
                "a@exa\u{200b}mple.com",
                "The email address contains unsafe characters: ZERO WIDTH SPACE.",
            ),
        ];
        for (input, reason) in unicode {
            assert_eq!(normalize(input), Err(reason.to_owned()), "{input:?}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(
            normalize(&long),
            Err(
                "The email address is too long before the @-sign (1 character too many)."
                    .to_owned()
            )
        );
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(64))).is_ok());
        let long = format!("a@{}.com", "b".repeat(64));
        assert_eq!(
            normalize(&long),
            Err("After the @-sign, periods cannot be separated by so many characters (1 character too many).".to_owned())
        );
    }
}
