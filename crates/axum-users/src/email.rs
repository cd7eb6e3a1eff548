//! E-mail validation and normalisation with the rules of Pydantic's `EmailStr`
//! (email-validator, no deliverability check), so that the stored value and every 422 message
//! match FastAPI Users: whitespace trimmed, display-name form reduced, IDNA domains shown in
//! Unicode, domain lower-cased, local part kept as typed.

/// Longest input Pydantic looks at.
const MAX_INPUT_CHARS: usize = 2048;
/// Domains that cannot receive mail (email-validator's special-use list).
const SPECIAL_USE: [&str; 6] = ["arpa", "invalid", "local", "localhost", "onion", "test"];

/// Validates and normalises an e-mail address. On failure the error is the reason text that
/// follows `value is not a valid email address: ` in the 422 message.
///
/// ```
/// use axum_users::email::normalize_email;
/// assert_eq!(normalize_email(" King.Arthur@Camelot.BT ").unwrap(), "King.Arthur@camelot.bt");
/// assert_eq!(normalize_email("Arthur <arthur@camelot.bt>").unwrap(), "arthur@camelot.bt");
/// assert!(normalize_email("user@localhost").is_err());
/// ```
pub fn normalize_email(input: &str) -> Result<String, String> {
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
    let domain = normalize_domain(domain)?;
    Ok(format!("{local}@{domain}"))
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

fn display_char(c: char) -> String {
    match c {
        ' ' => "SPACE".into(),
        c if c.is_control() || c.is_whitespace() => format!("U+{:04X}", c as u32),
        c => format!("'{c}'"),
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
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "_!#$%&'*+-/=?^`{|}~.".contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
    };
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
    Ok(())
}

fn normalize_domain(domain: &str) -> Result<String, String> {
    if domain.starts_with('[') {
        return Err("A bracketed IP address after the @-sign is not allowed here.".into());
    }
    let hostname = |c: char| {
        c.is_ascii_alphanumeric() || c == '-' || c == '.' || (!c.is_ascii() && !c.is_control())
    };
    if let Some(bad) = invalid_chars(domain, hostname) {
        return Err(format!(
            "The part after the @-sign contains invalid characters: {bad}."
        ));
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
    use super::normalize_email;

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
        ];
        for (input, expected) in ok {
            assert_eq!(normalize_email(input).as_deref(), Ok(expected), "{input}");
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
            assert_eq!(normalize_email(input), Err(reason.to_owned()), "{input:?}");
        }
        let long = format!("a@{}.com", "b".repeat(64));
        assert_eq!(
            normalize_email(&long),
            Err("After the @-sign, periods cannot be separated by so many characters (1 character too many).".to_owned())
        );
    }
}
