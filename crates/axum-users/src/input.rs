//! Request bodies turned into the manager's inputs, with Pydantic's rules and error shapes:
//! [`UserCreate`] from a registration body, [`UserUpdate`] from a PATCH body (safe or unsafe),
//! the custom fields coerced by their [`FieldKind`](crate::FieldKind).

// A 422 item carries the offending input, as Pydantic's does; it is built once per refused
// field, on the error path only.
#![allow(clippy::result_large_err)]

use serde_json::{json, Map, Value};

use crate::email::normalize as normalize_email;
use crate::user::{FieldKind, UpdateField, UserCreate, UserSchema, UserUpdate};
use crate::validation::{RawBody, ValidationErrors, ValidationItem};

const FLAGS: [&str; 3] = ["is_active", "is_superuser", "is_verified"];

/// The body must be a JSON object; anything else gets Pydantic's whole-model errors.
fn body_object(raw: RawBody) -> Result<Map<String, Value>, ValidationErrors> {
    let model_error = |input: Value| {
        ValidationErrors::from(ValidationItem {
            kind: "model_attributes_type",
            loc: vec![Value::from("body")],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input,
            ctx: None,
        })
    };
    match raw {
        RawBody::Absent => Err(ValidationErrors::from(ValidationItem {
            kind: "missing",
            loc: vec![Value::from("body")],
            msg: "Field required".into(),
            input: Value::Null,
            ctx: None,
        })),
        RawBody::Text(text) => Err(model_error(Value::from(text))),
        RawBody::Json(Value::Object(map)) => Ok(map),
        RawBody::Json(other) => Err(model_error(other)),
    }
}

pub(crate) fn validate_email_value(field: &str, input: &Value) -> Result<String, ValidationItem> {
    let Value::String(text) = input else {
        return Err(ValidationItem::body_field(
            "string_type",
            field,
            "Input should be a valid string",
            input.clone(),
        ));
    };
    normalize_email(text).map_err(|reason| {
        ValidationItem::body_field(
            "value_error",
            field,
            format!("value is not a valid email address: {reason}"),
            input.clone(),
        )
        .with_ctx(json!({ "reason": reason }))
    })
}

fn validate_string(field: &str, input: &Value) -> Result<String, ValidationItem> {
    match input {
        Value::String(s) => Ok(s.clone()),
        _ => Err(FieldKind::String { max_length: None }.type_error(field, input)),
    }
}

fn validate_flag(field: &str, input: &Value) -> Result<Option<bool>, ValidationItem> {
    if input.is_null() {
        return Ok(None);
    }
    FieldKind::Boolean.coerce(field, input).map(|v| v.as_bool())
}

/// Validates a registration body against `UserCreate` + the custom fields.
pub(crate) fn parse_create(
    raw: RawBody,
    schema: &UserSchema,
) -> Result<UserCreate, ValidationErrors> {
    let body = body_object(raw)?;
    let whole = Value::Object(body.clone());
    let mut errors = ValidationErrors::default();
    let mut collect = |result: Result<Option<Value>, ValidationItem>| match result {
        Ok(value) => value,
        Err(item) => {
            errors.push(item);
            None
        }
    };
    let email = collect(match body.get("email") {
        None => Err(ValidationItem::missing("email", whole.clone())),
        Some(v) => validate_email_value("email", v).map(|e| Some(Value::from(e))),
    });
    let password = collect(match body.get("password") {
        None => Err(ValidationItem::missing("password", whole.clone())),
        Some(v) => validate_string("password", v).map(|p| Some(Value::from(p))),
    });
    let mut flags = Map::new();
    for flag in FLAGS {
        if let Some(v) = body.get(flag) {
            if let Some(b) = collect(validate_flag(flag, v).map(|b| b.map(Value::from))) {
                flags.insert(flag.into(), b);
            }
        }
    }
    let mut fields = Map::new();
    for field in schema.fields() {
        let result = match body.get(&field.name) {
            None if field.required => Err(ValidationItem::missing(&field.name, whole.clone())),
            None => Ok(None),
            Some(Value::Null) if !field.required => Ok(Some(Value::Null)),
            Some(v) => field.kind.coerce(&field.name, v).map(Some),
        };
        if let Some(value) = collect(result) {
            fields.insert(field.name.clone(), value);
        }
    }
    errors.into_result()?;
    match (email, password) {
        (Some(Value::String(email)), Some(Value::String(password))) => Ok(UserCreate {
            email,
            password,
            flags,
            fields,
        }),
        // Both were validated as strings above; this arm only exists to satisfy the types.
        _ => Err(ValidationItem::missing("email", whole).into()),
    }
}

/// Validates an update body against `UserUpdate` + the custom fields. In safe mode the
/// privileged flags are dropped after validation, as FastAPI Users does.
pub(crate) fn parse_update(
    raw: RawBody,
    schema: &UserSchema,
    safe: bool,
) -> Result<UserUpdate, ValidationErrors> {
    let body = body_object(raw)?;
    let mut errors = ValidationErrors::default();
    let mut update = UserUpdate {
        safe,
        ..UserUpdate::default()
    };
    let mut push = |key: &str, result: Result<Option<UpdateField>, ValidationItem>| match result {
        Ok(Some(field)) => {
            update.fields.push(field);
            if let Some(v) = body.get(key) {
                update.raw.insert(key.into(), v.clone());
            }
        }
        Ok(None) => {}
        Err(item) => errors.push(item),
    };
    if let Some(v) = body.get("password") {
        let result = match v {
            Value::Null => Ok(None),
            v => validate_string("password", v).map(|p| Some(UpdateField::Password(p))),
        };
        push("password", result);
    }
    if let Some(v) = body.get("email") {
        // Null leaves the e-mail as it is, as for the password (FastAPI Users writes it into a
        // NOT NULL column: a 500).
        let result = match v {
            Value::Null => Ok(None),
            v => validate_email_value("email", v).map(|e| Some(UpdateField::Email(e))),
        };
        push("email", result);
    }
    for flag in FLAGS {
        if let Some(v) = body.get(flag) {
            let result = validate_flag(flag, v).map(|b| match (safe, b) {
                (false, Some(b)) => Some(UpdateField::Flag(flag, Some(b))),
                // Dropped in safe mode; a null leaves the flag as it is.
                _ => None,
            });
            push(flag, result);
        }
    }
    for field in schema.fields() {
        if let Some(v) = body.get(&field.name) {
            let result = match v {
                Value::Null if field.required => Err(field.kind.type_error(&field.name, v)),
                Value::Null => Ok(Some(UpdateField::Custom(field.name.clone(), Value::Null))),
                v => field
                    .kind
                    .coerce(&field.name, v)
                    .map(|value| Some(UpdateField::Custom(field.name.clone(), value))),
            };
            push(&field.name, result);
        }
    }
    errors.into_result()?;
    Ok(update)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::CustomField;

    #[test]
    fn create_reports_missing_fields_with_the_whole_input() {
        let err = parse_create(RawBody::Json(json!({})), &UserSchema::new()).unwrap_err();
        assert_eq!(
            serde_json::to_string(&err.to_value()).unwrap(),
            r#"[{"type":"missing","loc":["body","email"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","password"],"msg":"Field required","input":{}}]"#
        );
    }

    #[test]
    fn custom_fields_are_coerced_like_pydantic() {
        let schema = UserSchema::new()
            .field(CustomField::string("first_name").required())
            .field(CustomField::integer("age"))
            .field(CustomField::date("birthdate"));
        let ok = parse_create(
            RawBody::Json(json!({"email":"a@b.co","password":"x","first_name":"A","age":"42","birthdate":"2000-01-31"})),
            &schema,
        )
        .unwrap();
        assert_eq!(
            ok.fields,
            json!({"first_name":"A","age":42,"birthdate":"2000-01-31"})
                .as_object()
                .cloned()
                .unwrap()
        );
        let err = parse_create(
            RawBody::Json(json!({"email":"a@b.co","password":"x","age":1.5,"birthdate":"2000"})),
            &schema,
        )
        .unwrap_err();
        let kinds: Vec<&str> = err.0.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            ["missing", "int_from_float", "date_from_datetime_parsing"]
        );
    }

    #[test]
    fn safe_update_drops_flags_after_validating_them() {
        let update = parse_update(
            RawBody::Json(json!({"is_superuser":true,"is_active":null,"password":null})),
            &UserSchema::new(),
            true,
        )
        .unwrap();
        assert!(update.fields.is_empty());
        let err = parse_update(
            RawBody::Json(json!({"is_active":"maybe"})),
            &UserSchema::new(),
            true,
        )
        .unwrap_err();
        assert_eq!(err.0[0].kind, "bool_parsing");
        // A null leaves the flag (and the e-mail) as they are, as for the password.
        let update = parse_update(
            RawBody::Json(json!({"is_active":null,"email":null,"password":null})),
            &UserSchema::new(),
            false,
        )
        .unwrap();
        assert!(update.fields.is_empty());
    }
}
