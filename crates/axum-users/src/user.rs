//! The user model: FastAPI Users' base fields plus the application's own fields (declared by a
//! [`UserSchema`], coerced by their [`FieldKind`] with Pydantic's rules), and the inputs the
//! manager takes to create and update users. Reading them from request bodies is `input.rs`.

// A validation error (a custom field's value refused) is the cold path of a request: its size
// does not matter.
#![allow(clippy::result_large_err)]

use crate::validation::ValidationItem;
use serde_json::{json, Map, Value};

/// A stored user. `Debug` never shows the password hash.
#[derive(Clone, PartialEq)]
pub struct User {
    /// The id: a UUID v4, or an integer in a store of [integer ids](crate::IdKind::Integer).
    pub id: crate::UserId,
    /// The normalised e-mail address (domain lower-cased, local part as typed).
    pub email: String,
    /// A PHC string (argon2id for new hashes; bcrypt accepted).
    pub hashed_password: String,
    /// Inactive users cannot log in nor pass the `active` guard.
    pub is_active: bool,
    /// Superusers may manage other users.
    pub is_superuser: bool,
    /// Whether the e-mail address was verified.
    pub is_verified: bool,
    /// The application's own fields, by column name, in the order of the [`UserSchema`].
    pub fields: Map<String, Value>,
    /// Raised by "log out everywhere" (and, when configured, by a password change): JWTs
    /// minted for an older version are refused. Stores keep it in the `token_version` column
    /// and only ever raise it ([`crate::store::UserPatch::bump_token_version`]).
    pub token_version: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("hashed_password", &"<redacted>")
            .field("is_active", &self.is_active)
            .field("is_superuser", &self.is_superuser)
            .field("is_verified", &self.is_verified)
            .field("fields", &self.fields)
            .field("token_version", &self.token_version)
            .finish()
    }
}

impl User {
    /// A new active, unverified, non-superuser user with a fresh UUID v4 (a store of
    /// integer ids assigns its own on [`create`](crate::UserStore::create)).
    pub fn new(email: impl Into<String>, hashed_password: impl Into<String>) -> Self {
        Self {
            id: crate::UserId::new_uuid(),
            email: email.into(),
            hashed_password: hashed_password.into(),
            is_active: true,
            is_superuser: false,
            is_verified: false,
            fields: Map::new(),
            token_version: 0,
        }
    }

    /// [`Self::to_read`] written straight to JSON, with `pending_email` when given: the answer
    /// of `GET /users/me`, built without an intermediate map.
    pub(crate) fn read_view<'a>(&'a self, pending_email: Option<&'a str>) -> UserReadView<'a> {
        UserReadView {
            user: self,
            pending_email,
        }
    }

    /// The public view every route returns (`UserRead`): base keys first, then custom fields.
    /// Never contains the password hash.
    ///
    /// ```
    /// let user = axum_users::User::new("a@b.co", "$argon2id$...");
    /// let json = serde_json::to_string(&user.to_read()).unwrap();
    /// assert!(json.starts_with(r#"{"id":""#) && !json.contains("argon2"));
    /// ```
    pub fn to_read(&self) -> Value {
        let mut map = Map::with_capacity(5 + self.fields.len());
        map.insert("id".into(), Value::from(self.id));
        map.insert("email".into(), Value::from(self.email.clone()));
        map.insert("is_active".into(), Value::from(self.is_active));
        map.insert("is_superuser".into(), Value::from(self.is_superuser));
        map.insert("is_verified".into(), Value::from(self.is_verified));
        for (key, value) in &self.fields {
            map.insert(key.clone(), value.clone());
        }
        Value::Object(map)
    }

    /// A custom field's value, deserialised into `T`; `None` when absent, null or of another type.
    ///
    /// ```
    /// let mut user = axum_users::User::new("a@b.co", "x");
    /// user.fields.insert("first_name".into(), "Arthur".into());
    /// assert_eq!(user.field::<String>("first_name").as_deref(), Some("Arthur"));
    /// ```
    pub fn field<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.fields
            .get(name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// All the custom fields as the application's own type (serde), e.g. a struct with one
    /// member per [`CustomField`]; a field the store holds as `NULL` reads as `null`, so make
    /// optional ones `Option<_>`.
    ///
    /// ```
    /// #[derive(serde::Deserialize, Debug, PartialEq)]
    /// struct Profile {
    ///     first_name: String,
    ///     age: Option<i64>,
    /// }
    ///
    /// let mut user = axum_users::User::new("a@b.co", "x");
    /// user.fields.insert("first_name".into(), "Arthur".into());
    /// user.fields.insert("age".into(), serde_json::Value::Null);
    /// let profile: Profile = user.fields_as().unwrap();
    /// assert_eq!(profile, Profile { first_name: "Arthur".into(), age: None });
    /// ```
    pub fn fields_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(serde_json::Value::Object(self.fields.clone()))
    }
}

/// The type of a custom field, with Pydantic's (lax) conversion rules for JSON input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// A string, optionally bounded (`VARCHAR(n)`).
    String {
        /// Maximum length in characters.
        max_length: Option<usize>,
    },
    /// A 64-bit integer.
    Integer,
    /// A floating-point number.
    Float,
    /// A boolean.
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
}

impl FieldKind {
    /// The column type used when the store adds the column.
    pub fn sql_type(self) -> String {
        match self {
            Self::String {
                max_length: Some(n),
            } => format!("VARCHAR({n})"),
            Self::String { max_length: None } => "TEXT".into(),
            Self::Integer => "INTEGER".into(),
            Self::Float => "FLOAT".into(),
            Self::Boolean => "BOOLEAN".into(),
            Self::Date => "DATE".into(),
        }
    }

    pub(crate) fn type_error(self, field: &str, input: &Value) -> ValidationItem {
        let (kind, msg) = match self {
            Self::String { .. } => ("string_type", "Input should be a valid string"),
            Self::Integer => ("int_type", "Input should be a valid integer"),
            Self::Float => ("float_type", "Input should be a valid number"),
            Self::Boolean => ("bool_type", "Input should be a valid boolean"),
            Self::Date => ("date_type", "Input should be a valid date"),
        };
        ValidationItem::body_field(kind, field, msg, input.clone())
    }

    /// Converts a JSON input into the stored value, or explains why it cannot be.
    pub fn coerce(self, field: &str, input: &Value) -> Result<Value, ValidationItem> {
        let err = |kind: &'static str, msg: &str| {
            Err(ValidationItem::body_field(kind, field, msg, input.clone()))
        };
        match (self, input) {
            (Self::String { max_length }, Value::String(s)) => match max_length {
                Some(max) if s.chars().count() > max => Err(ValidationItem::body_field(
                    "string_too_long",
                    field,
                    format!("String should have at most {max} character{}", plural(max)),
                    input.clone(),
                )
                .with_ctx(json!({ "max_length": max }))),
                // PostgreSQL refuses NUL in text (FastAPI Users answers a 500 there); refused
                // on every store, so that the rule does not depend on the database.
                _ if s.contains('\0') => {
                    err("value_error", "Value error, NUL characters are not allowed")
                }
                _ => Ok(input.clone()),
            },
            (Self::Integer, Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    Ok(Value::from(i))
                } else {
                    match n.as_f64() {
                        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                            Ok(Value::from(f as i64))
                        }
                        _ => err(
                            "int_from_float",
                            "Input should be a valid integer, got a number with a fractional part",
                        ),
                    }
                }
            }
            (Self::Integer, Value::String(s)) => match s.trim().parse::<i64>() {
                Ok(i) => Ok(Value::from(i)),
                Err(_) => err(
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer",
                ),
            },
            (Self::Float, Value::Number(n)) => Ok(Value::from(n.as_f64().unwrap_or_default())),
            (Self::Float, Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Value::from(f)),
                _ => err(
                    "float_parsing",
                    "Input should be a valid number, unable to parse string as a number",
                ),
            },
            (Self::Boolean, _) => parse_bool(input).map(Value::from).map_err(|kind| {
                let msg = if kind == "bool_type" {
                    "Input should be a valid boolean"
                } else {
                    "Input should be a valid boolean, unable to interpret input"
                };
                ValidationItem::body_field(kind, field, msg, input.clone())
            }),
            (Self::Date, Value::String(s)) => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                match time::Date::parse(s, &format) {
                    Ok(_) => Ok(input.clone()),
                    Err(_) => {
                        let reason = if s.len() < 10 {
                            "input is too short"
                        } else {
                            "invalid date format"
                        };
                        Err(ValidationItem::body_field(
                            "date_from_datetime_parsing",
                            field,
                            format!("Input should be a valid date or datetime, {reason}"),
                            input.clone(),
                        )
                        .with_ctx(json!({ "error": reason })))
                    }
                }
            }
            _ => Err(self.type_error(field, input)),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Pydantic's lax boolean: `true/false`, `0/1`, and the usual words. The error is the Pydantic
/// error type.
fn parse_bool(input: &Value) -> Result<bool, &'static str> {
    match input {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Ok(false),
            Some(1.0) => Ok(true),
            _ => Err("bool_parsing"),
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err("bool_parsing"),
        },
        _ => Err("bool_type"),
    }
}

/// One field of the application's own, stored in a real column of the `user` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomField {
    /// JSON key and column name (`[a-z_][a-z0-9_]*`).
    pub name: String,
    /// Its type.
    pub kind: FieldKind,
    /// Required at registration and never null; otherwise optional and nullable.
    pub required: bool,
}

impl CustomField {
    fn new(name: &str, kind: FieldKind) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            required: false,
        }
    }
    /// An optional string field.
    pub fn string(name: &str) -> Self {
        Self::new(name, FieldKind::String { max_length: None })
    }
    /// An optional integer field.
    pub fn integer(name: &str) -> Self {
        Self::new(name, FieldKind::Integer)
    }
    /// An optional number field.
    pub fn float(name: &str) -> Self {
        Self::new(name, FieldKind::Float)
    }
    /// An optional boolean field.
    pub fn boolean(name: &str) -> Self {
        Self::new(name, FieldKind::Boolean)
    }
    /// An optional date field (`YYYY-MM-DD`).
    pub fn date(name: &str) -> Self {
        Self::new(name, FieldKind::Date)
    }
    /// Makes the field required at registration (and never null).
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Bounds a string field's length.
    #[must_use]
    pub fn max_length(mut self, max: usize) -> Self {
        if let FieldKind::String { max_length } = &mut self.kind {
            *max_length = Some(max);
        }
        self
    }
}

/// Base field names a custom field may not take.
const RESERVED: [&str; 9] = [
    "id",
    "email",
    "password",
    "hashed_password",
    "is_active",
    "is_superuser",
    "is_verified",
    "oauth_accounts",
    "token_version",
];

/// The application's extra user fields, in the order they appear in JSON.
///
/// ```
/// use axum_users::{CustomField, UserSchema};
/// let schema = UserSchema::new()
///     .field(CustomField::string("first_name").max_length(100).required())
///     .field(CustomField::date("birthdate"));
/// assert!(schema.check().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSchema {
    fields: Vec<CustomField>,
}

impl UserSchema {
    /// No custom fields: FastAPI Users' base user.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field.
    #[must_use]
    pub fn field(mut self, field: CustomField) -> Self {
        self.fields.push(field);
        self
    }

    /// The custom fields in order.
    pub fn fields(&self) -> &[CustomField] {
        &self.fields
    }

    /// Checks names: valid SQL identifiers, not reserved, no duplicates.
    pub fn check(&self) -> Result<(), SchemaError> {
        self.check_names().map_err(SchemaError)
    }

    fn check_names(&self) -> Result<(), String> {
        for (index, field) in self.fields.iter().enumerate() {
            let name = field.name.as_str();
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && name.len() <= 63;
            if !valid {
                return Err(format!(
                    "custom field name {name:?} must match [a-z_][a-z0-9_]* (at most 63 characters)"
                ));
            }
            if RESERVED.contains(&name) {
                return Err(format!("custom field name {name:?} is a base user field"));
            }
            if self.fields[..index].iter().any(|f| f.name == name) {
                return Err(format!("custom field {name:?} is declared twice"));
            }
        }
        Ok(())
    }
}

/// A custom field that cannot be a column: its name is not an SQL identifier, is a base field,
/// or is declared twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(String);

/// A validated registration body (`UserCreate`).
#[derive(Clone)]
pub struct UserCreate {
    /// Normalised e-mail.
    pub email: String,
    /// The plain password (never logged: `Debug` hides it).
    pub password: String,
    /// `is_active`, `is_superuser`, `is_verified` when sent and not null (used only in unsafe mode).
    pub flags: Map<String, Value>,
    /// Custom fields that were sent, converted.
    pub fields: Map<String, Value>,
}

impl std::fmt::Debug for UserCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreate")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("flags", &self.flags)
            .field("fields", &self.fields)
            .finish()
    }
}

/// One present key of an update body, in schema order (`exclude_unset` semantics).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UpdateField {
    /// `password` with a string (a `null` password is dropped).
    Password(String),
    /// `email` (normalised).
    Email(String),
    /// `is_active`, `is_superuser` or `is_verified`; `None` for an explicit `null`.
    Flag(&'static str, Option<bool>),
    /// A custom field, converted; `Value::Null` for an explicit `null`.
    Custom(String, Value),
}

/// A validated update body (`UserUpdate`): only the keys that were sent, in schema order.
#[derive(Clone, Default)]
pub struct UserUpdate {
    /// The present fields.
    pub fields: Vec<UpdateField>,
    /// The raw filtered input, as handed to `on_after_update`.
    pub raw: Map<String, Value>,
    /// Parsed in safe mode (the user's own update): written only while the user is active.
    pub safe: bool,
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self.raw.keys().collect();
        f.debug_struct("UserUpdate").field("keys", &keys).finish()
    }
}

/// A user as FastAPI Users' `UserRead` shows it (the keys of [`User::to_read`], in its order),
/// serialised without building a map.
pub(crate) struct UserReadView<'a> {
    user: &'a User,
    pending_email: Option<&'a str>,
}

impl serde::Serialize for UserReadView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let user = self.user;
        let extra = usize::from(self.pending_email.is_some());
        let mut map = serializer.serialize_map(Some(5 + user.fields.len() + extra))?;
        map.serialize_entry("id", &user.id)?;
        map.serialize_entry("email", &user.email)?;
        map.serialize_entry("is_active", &user.is_active)?;
        map.serialize_entry("is_superuser", &user.is_superuser)?;
        map.serialize_entry("is_verified", &user.is_verified)?;
        for (key, value) in &user.fields {
            map.serialize_entry(key, value)?;
        }
        if let Some(pending) = self.pending_email {
            map.serialize_entry("pending_email", pending)?;
        }
        map.end()
    }
}
