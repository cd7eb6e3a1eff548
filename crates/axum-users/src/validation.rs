//! Validation failures in the Pydantic v2 shape (`{"detail":[{"type","loc","msg","input","ctx"}]}`),
//! so that clients written for FastAPI Users parse our 422 answers unchanged, and the body as
//! FastAPI sees it before schema validation.

use serde_json::{Map, Value};

/// One Pydantic-style validation error.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationItem {
    /// Pydantic error type, e.g. `missing`, `string_type`, `value_error`.
    pub kind: &'static str,
    /// Location, e.g. `["body", "email"]`.
    pub loc: Vec<Value>,
    /// Human-readable message.
    pub msg: String,
    /// The offending input.
    pub input: Value,
    /// Optional context object.
    pub ctx: Option<Value>,
}

impl ValidationItem {
    /// A field-level error at `["body", field]`.
    pub fn body_field(
        kind: &'static str,
        field: &str,
        msg: impl Into<String>,
        input: Value,
    ) -> Self {
        Self {
            kind,
            loc: vec![Value::from("body"), Value::from(field)],
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    /// `{"type":"missing","loc":["body",field],"msg":"Field required","input":input}`.
    pub fn missing(field: &str, input: Value) -> Self {
        Self::body_field("missing", field, "Field required", input)
    }

    /// Adds a `ctx` object.
    #[must_use]
    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("type".into(), Value::from(self.kind));
        map.insert("loc".into(), Value::Array(self.loc.clone()));
        map.insert("msg".into(), Value::from(self.msg.clone()));
        map.insert("input".into(), self.input.clone());
        if let Some(ctx) = &self.ctx {
            map.insert("ctx".into(), ctx.clone());
        }
        Value::Object(map)
    }
}

/// A non-empty list of validation errors: answered as 422.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationErrors(pub Vec<ValidationItem>);

impl ValidationErrors {
    /// The `detail` array.
    pub fn to_value(&self) -> Value {
        Value::Array(self.0.iter().map(ValidationItem::to_value).collect())
    }

    /// Adds one error.
    pub fn push(&mut self, item: ValidationItem) {
        self.0.push(item);
    }

    /// `Ok(())` when empty, the errors otherwise.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl From<ValidationItem> for ValidationErrors {
    fn from(item: ValidationItem) -> Self {
        Self(vec![item])
    }
}

/// The body as FastAPI sees it before schema validation.
#[derive(Debug, Clone, PartialEq)]
pub enum RawBody {
    /// No body (or an empty one).
    Absent,
    /// A body that was not declared as JSON: kept as text, never parsed.
    Text(String),
    /// A parsed JSON document.
    Json(Value),
}
