//! Request bodies as FastAPI reads them: JSON only under a JSON content type, with CPython's
//! decode errors; form fields from urlencoded and multipart bodies.

use bytes::Bytes;
use http::{header, HeaderMap};
use serde_json::{json, Value};

use crate::validation::{RawBody, ValidationErrors, ValidationItem};

fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    content_type(headers).is_some_and(|ct| {
        ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
    })
}

/// Reads a JSON body as FastAPI does: parsed only under a JSON content type; a malformed
/// document is a 422 `json_invalid` error, reported before anything else about the request.
pub(crate) fn read_json_body(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<RawBody, crate::ApiError> {
    if body.is_empty() {
        return Ok(RawBody::Absent);
    }
    if !is_json_content_type(headers) {
        return Ok(RawBody::Text(String::from_utf8_lossy(body).into_owned()));
    }
    // Python's `json` reads a UTF-8 byte order mark as FastAPI receives it.
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    // FastAPI answers a body that is not UTF-8, or nested past what its parser can take, with
    // this 400 rather than a validation error.
    let unparsable = || crate::ApiError::Custom {
        status: http::StatusCode::BAD_REQUEST,
        detail: Value::from("There was an error parsing the body"),
    };
    if std::str::from_utf8(body).is_err() {
        return Err(unparsable());
    }
    serde_json::from_slice::<Value>(body)
        .map(RawBody::Json)
        .map_err(|err| {
            if err.to_string().starts_with("recursion limit exceeded") {
                unparsable()
            } else {
                ValidationErrors::from(json_decode_error(body, &err)).into()
            }
        })
}

/// Python's `json` module reports a character offset and its own wording; we compute the same
/// offset from serde_json's line and column and translate the common messages.
fn json_decode_error(body: &[u8], err: &serde_json::Error) -> ValidationItem {
    let text = String::from_utf8_lossy(body);
    let message = err.to_string();
    let (offset, python) = if err.is_eof() {
        eof_error(&text)
    } else {
        let mut offset = 0usize;
        for (index, line) in text.split('\n').enumerate() {
            if index + 1 == err.line() {
                offset += err.column().saturating_sub(1).min(line.chars().count());
                break;
            }
            offset += line.chars().count() + 1;
        }
        (offset, python_message(&message))
    };
    ValidationItem {
        kind: "json_invalid",
        loc: vec![Value::from("body"), Value::from(offset)],
        msg: "JSON decode error".into(),
        input: json!({}),
        ctx: Some(json!({ "error": python })),
    }
}

fn python_message(message: &str) -> &'static str {
    if message.starts_with("key must be a string") {
        "Expecting property name enclosed in double quotes"
    } else if message.starts_with("expected `:`") {
        "Expecting ':' delimiter"
    } else if message.starts_with("expected `,` or `}`")
        || message.starts_with("expected `,` or `]`")
    {
        "Expecting ',' delimiter"
    } else if message.starts_with("trailing characters") {
        "Extra data"
    } else if message.starts_with("control character") {
        "Invalid control character at"
    } else if message.starts_with("trailing comma") {
        "Illegal trailing comma before end of object"
    } else {
        "Expecting value"
    }
}

/// A document cut short: Python reports what it expected at the end, or where an unterminated
/// string began. A small scan of the (ASCII) structure tells which.
fn eof_error(text: &str) -> (usize, &'static str) {
    #[derive(Clone, Copy, PartialEq)]
    enum Want {
        Value,
        Key,
        Colon,
        Comma,
    }
    let mut stack: Vec<char> = Vec::new();
    let mut want = Want::Value;
    let mut chars = text.chars().enumerate().peekable();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => {
                let mut closed = false;
                while let Some((_, s)) = chars.next() {
                    if s == '\\' {
                        chars.next();
                    } else if s == '"' {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return (index, "Unterminated string starting at");
                }
                want = if want == Want::Key {
                    Want::Colon
                } else {
                    Want::Comma
                };
            }
            '{' => {
                stack.push('{');
                want = Want::Key;
            }
            '[' => {
                stack.push('[');
                want = Want::Value;
            }
            '}' | ']' => {
                stack.pop();
                want = Want::Comma;
            }
            ':' => want = Want::Value,
            ',' => {
                want = if stack.last() == Some(&'{') {
                    Want::Key
                } else {
                    Want::Value
                };
            }
            c if c.is_whitespace() => {}
            _ => {
                if want == Want::Value {
                    want = Want::Comma;
                }
            }
        }
    }
    let message = match want {
        Want::Value => "Expecting value",
        Want::Key => "Expecting property name enclosed in double quotes",
        Want::Colon => "Expecting ':' delimiter",
        Want::Comma => "Expecting ',' delimiter",
    };
    (text.chars().count(), message)
}

/// The fields of a form body (`application/x-www-form-urlencoded` or `multipart/form-data`).
/// Any other content type yields no fields, as in FastAPI.
#[derive(Debug, Default, Clone)]
pub(crate) struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// Parses the body according to its content type.
    pub async fn parse(headers: &HeaderMap, body: Bytes) -> Result<Self, ValidationErrors> {
        let Some(ct) = content_type(headers) else {
            return Ok(Self::default());
        };
        if ct == "application/x-www-form-urlencoded" {
            return Ok(Self(form_urlencoded::parse(&body).into_owned().collect()));
        }
        if ct == "multipart/form-data" {
            return Self::parse_multipart(headers, body).await;
        }
        Ok(Self::default())
    }

    async fn parse_multipart(headers: &HeaderMap, body: Bytes) -> Result<Self, ValidationErrors> {
        let bad = || {
            ValidationErrors::from(ValidationItem {
                kind: "value_error",
                loc: vec![Value::from("body")],
                msg: "Value error, invalid multipart/form-data body".into(),
                input: Value::Null,
                ctx: Some(json!({"error": {}})),
            })
        };
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| multer::parse_boundary(v).ok())
            .ok_or_else(bad)?;
        let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut fields = Vec::new();
        while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            let value = field.text().await.map_err(|_| bad())?;
            fields.push((name, value));
        }
        Ok(Self(fields))
    }

    /// The last value of a field, with FastAPI's rule that an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

pub(crate) async fn read_body(
    users: &crate::AxumUsers,
    body: axum::body::Body,
) -> Result<Bytes, crate::ApiError> {
    match tokio::time::timeout(
        users.body_timeout(),
        axum::body::to_bytes(body, super::MAX_BODY_BYTES),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(crate::ApiError::Status(http::StatusCode::PAYLOAD_TOO_LARGE)),
        Err(_) => Err(crate::ApiError::Status(http::StatusCode::REQUEST_TIMEOUT)),
    }
}

/// String fields of a JSON object body, as FastAPI reads embedded body parameters: any body
/// that is not a JSON object counts as missing them all; a `required` one missing (or `null`)
/// is a 422 item, and so is a value that is not a string; an optional one missing or `null` is
/// `None`.
pub(crate) async fn string_fields(
    users: &crate::AxumUsers,
    parts: &http::request::Parts,
    body: axum::body::Body,
    names: &[&str],
    required: &[&str],
) -> Result<Vec<Option<String>>, crate::ApiError> {
    let object = object_body(users, parts, body).await?;
    let mut errors = ValidationErrors::default();
    let values = string_values(&object, names, required, &mut errors);
    errors.into_result()?;
    Ok(values)
}

/// A JSON object body (any other body reads as an empty object, as FastAPI's embedded
/// parameters do).
pub(crate) async fn object_body(
    users: &crate::AxumUsers,
    parts: &http::request::Parts,
    body: axum::body::Body,
) -> Result<serde_json::Map<String, Value>, crate::ApiError> {
    let bytes = read_body(users, body).await?;
    Ok(match read_json_body(&parts.headers, &bytes)? {
        RawBody::Json(Value::Object(map)) => map,
        _ => Default::default(),
    })
}

/// [`string_fields`] of an object read already, its 422 items added to `errors`.
pub(crate) fn string_values(
    object: &serde_json::Map<String, Value>,
    names: &[&str],
    required: &[&str],
    errors: &mut ValidationErrors,
) -> Vec<Option<String>> {
    let mut values = Vec::with_capacity(names.len());
    for name in names {
        let needed = required.contains(name);
        match object.get(*name) {
            None if needed => errors.push(ValidationItem::missing(name, Value::Null)),
            None | Some(Value::Null) if !needed => values.push(None),
            Some(Value::String(text)) => values.push(Some(text.clone())),
            Some(other) => errors.push(ValidationItem::body_field(
                "string_type",
                name,
                "Input should be a valid string",
                other.clone(),
            )),
            None => values.push(None),
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_documents_are_reported_as_python_does() {
        // Offsets and messages from CPython's json.loads.
        for (text, offset, message) in [
            ("{\"email\":", 9, "Expecting value"),
            ("{", 1, "Expecting property name enclosed in double quotes"),
            ("[1,", 3, "Expecting value"),
            ("{\"a\":\"bc", 5, "Unterminated string starting at"),
            ("{\"a\"", 4, "Expecting ':' delimiter"),
            ("{\"a\":1", 6, "Expecting ',' delimiter"),
            (
                "{\"a\":1,",
                7,
                "Expecting property name enclosed in double quotes",
            ),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
            let Err(crate::ApiError::Validation(err)) =
                read_json_body(&headers, &Bytes::from(text))
            else {
                panic!("{text}: a validation error");
            };
            let item = &err.0[0];
            assert_eq!(item.loc[1], Value::from(offset), "{text}");
            assert_eq!(item.ctx, Some(json!({"error": message})), "{text}");
        }
    }
}
