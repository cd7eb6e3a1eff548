//! The OpenAPI 3.1 document of the routes mounted by [`AxumUsers::router`], with FastAPI's
//! operation ids, summaries, response lists and schemas, so that generated clients match.

use serde_json::{json, Map, Value};

use crate::AxumUsers;

mod document;
mod events;
mod mfa;
#[cfg(feature = "passkeys")]
mod passkeys;
mod sessions;

pub(crate) use document::Document;
use document::{error_response, field_schema, schema_ref};

/// An operation of the OpenAPI document, written when the document is (the routers never
/// call it). It may add the component schemas it names to the [`Document`].
pub(crate) type Operation = std::sync::Arc<dyn Fn(&mut Document) -> Value + Send + Sync>;

/// One operation of the route table: its path, method, how it is written, and whether a rate
/// limit guards it.
pub(crate) struct Declared<'a> {
    pub(crate) path: &'a str,
    pub(crate) method: &'a http::Method,
    pub(crate) operation: &'a Operation,
    pub(crate) limited: bool,
}

impl AxumUsers {
    /// The document of the route table's operations (see [`AxumUsers::openapi`]), each as its
    /// route declares it, with the answers every route may give beyond FastAPI Users' own.
    pub(crate) fn document<'a>(&self, operations: impl IntoIterator<Item = Declared<'a>>) -> Value {
        let mut doc = Document::default();
        let schemes = doc.security_schemes(self.backends());
        let mut paths = Map::new();
        for declared in operations {
            let mut op = (declared.operation)(&mut doc);
            add_protection_responses(declared.method, &mut op, declared.limited);
            let item = paths
                .entry(declared.path.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            item[declared.method.as_str().to_ascii_lowercase()] = op;
        }
        self.user_schemas(&mut doc.schemas);
        // `POST /users` takes `UserCreate` with the password optional.
        let mut by_admin = doc.schemas["UserCreate"].clone();
        by_admin["title"] = Value::from("UserCreateByAdmin");
        if let Some(required) = by_admin["required"].as_array_mut() {
            required.retain(|name| name != "password");
        }
        by_admin["properties"]["password"] =
            json!({"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Password"});
        doc.schemas.insert("UserCreateByAdmin".into(), by_admin);
        json!({
            "openapi": "3.1.0",
            "info": {"title": self.openapi_title(), "version": "0.1.0"},
            "paths": paths,
            "components": {"schemas": doc.schemas, "securitySchemes": schemes}
        })
    }

    /// The document of [`AxumUsers::router`] nested under `prefix` (e.g. `/api`), for merging
    /// into the application's own document served at its root: every path starts with the
    /// prefix, and so does the relative token URL of the Bearer login, so that Swagger UI signs
    /// in at `<prefix>/auth/jwt/login`. (The `/openapi.json` that the router serves under a
    /// prefix needs none of this: it says where it is mounted in `servers`.)
    ///
    /// ```
    /// # async fn doc(users: axum_users::AxumUsers) {
    /// let document = users.openapi_at("/api");
    /// assert!(document["paths"].get("/api/users/me").is_some());
    /// # }
    /// ```
    pub fn openapi_at(&self, prefix: &str) -> Value {
        let prefix = prefix.trim_end_matches('/');
        let mut document = self.openapi();
        if prefix.is_empty() {
            return document;
        }
        if let Some(paths) = document["paths"].as_object_mut() {
            *paths = std::mem::take(paths)
                .into_iter()
                .map(|(path, item)| (format!("{prefix}{path}"), item))
                .collect();
        }
        let relative = prefix.trim_start_matches('/');
        if let Some(flows) =
            document.pointer_mut("/components/securitySchemes/OAuth2PasswordBearer/flows/password")
        {
            if let Some(url) = flows["tokenUrl"].as_str().filter(|u| !u.contains("://")) {
                let url = match url.strip_prefix('/') {
                    Some(absolute) => format!("{prefix}/{absolute}"),
                    None => format!("{relative}/{url}"),
                };
                flows["tokenUrl"] = Value::from(url);
            }
        }
        document
    }

    /// [`AxumUsers::openapi_at`] as utoipa's [`OpenApi`](utoipa::openapi::OpenApi) (feature
    /// `utoipa`), to [`merge`](utoipa::openapi::OpenApi::merge) into the application's own.
    /// Paths and operations come through whole; utoipa's model drops the `title` and `format`
    /// that FastAPI writes beside an `anyOf` (nullable fields), which no generated client uses.
    ///
    /// ```
    /// # async fn doc(users: axum_users::AxumUsers) -> Result<(), serde_json::Error> {
    /// let mut document = utoipa::openapi::OpenApiBuilder::new().build(); // the application's
    /// document.merge(users.openapi_utoipa("/api")?);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "utoipa")]
    #[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
    pub fn openapi_utoipa(
        &self,
        prefix: &str,
    ) -> Result<utoipa::openapi::OpenApi, serde_json::Error> {
        let mut document = self.openapi_at(prefix);
        mark_typeless(&mut document, false);
        serde_json::from_value(document)
    }

    fn user_schemas(&self, schemas: &mut Map<String, Value>) {
        let nullable_bool = |t: &str, default: bool| json!({"anyOf": [{"type": "boolean"}, {"type": "null"}], "title": t, "default": default});
        // FastAPI Users' `UserRead` with `id: UUID4` or, for `IntegerIDMixin`, `id: int`.
        let id = match self.manager().id_kind() {
            crate::IdKind::Integer => json!({"type": "integer", "title": "Id"}),
            _ => json!({"type": "string", "format": "uuid", "title": "Id"}),
        };
        let mut read = json!({
            "id": id,
            "email": {"type": "string", "format": "email", "title": "Email"},
            "is_active": {"type": "boolean", "title": "Is Active", "default": true},
            "is_superuser": {"type": "boolean", "title": "Is Superuser", "default": false},
            "is_verified": {"type": "boolean", "title": "Is Verified", "default": false}
        });
        let mut create = json!({
            "email": {"type": "string", "format": "email", "title": "Email"},
            "password": {"type": "string", "title": "Password"},
            "is_active": nullable_bool("Is Active", true),
            "is_superuser": nullable_bool("Is Superuser", false),
            "is_verified": nullable_bool("Is Verified", false)
        });
        let nullable =
            |base: Value, t: &str| json!({"anyOf": [base, {"type": "null"}], "title": t});
        // FastAPI Users' schema: every field may be null. A null leaves the field as it is (as
        // FastAPI Users does for the password; it fails with a 500 for the others).
        let mut update = json!({
            "password": nullable(json!({"type": "string"}), "Password"),
            "email": nullable(json!({"type": "string", "format": "email"}), "Email"),
            "is_active": nullable(json!({"type": "boolean"}), "Is Active"),
            "is_superuser": nullable(json!({"type": "boolean"}), "Is Superuser"),
            "is_verified": nullable(json!({"type": "boolean"}), "Is Verified")
        });
        let mut read_required = vec!["id", "email"];
        let mut create_required = vec!["email", "password"];
        for field in self.manager().schema().fields() {
            let name = field.name.as_str();
            read[name] = field_schema(field.kind, !field.required);
            create[name] = field_schema(field.kind, !field.required);
            update[name] = field_schema(field.kind, !field.required);
            if field.required {
                read_required.push(name);
                create_required.push(name);
            }
        }
        schemas.insert("UserRead".into(), json!({"type": "object", "title": "UserRead", "properties": read, "required": read_required}));
        schemas.insert("UserCreate".into(), json!({"type": "object", "title": "UserCreate", "properties": create, "required": create_required}));
        schemas.insert(
            "UserUpdate".into(),
            json!({"type": "object", "title": "UserUpdate", "properties": update}),
        );
        schemas.insert("ErrorModel".into(), json!({"type": "object", "title": "ErrorModel", "required": ["detail"],
            "properties": {"detail": {"anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}], "title": "Detail"}}}));
        schemas.insert("BearerResponse".into(), json!({"type": "object", "title": "BearerResponse", "required": ["access_token", "token_type"],
            "properties": {"access_token": {"type": "string", "title": "Access Token"}, "token_type": {"type": "string", "title": "Token Type"}}}));
        schemas.insert("HTTPValidationError".into(), json!({"type": "object", "title": "HTTPValidationError",
            "properties": {"detail": {"type": "array", "items": schema_ref("ValidationError"), "title": "Detail"}}}));
        schemas.insert("ValidationError".into(), json!({"type": "object", "title": "ValidationError", "required": ["loc", "msg", "type"],
            "properties": {
                "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "title": "Location"},
                "msg": {"type": "string", "title": "Message"},
                "type": {"type": "string", "title": "Error Type"},
                "input": {"title": "Input"},
                "ctx": {"type": "object", "title": "Context"}}}));
    }
}

/// utoipa writes a schema of any type (FastAPI's `{}`) without `type`, but reads one only with
/// `"type": null`: mark every typeless schema so (it is written back without `type`).
#[cfg(feature = "utoipa")]
fn mark_typeless(value: &mut Value, is_schema: bool) {
    match value {
        Value::Object(map) => {
            if is_schema
                && !["type", "$ref", "anyOf", "oneOf", "allOf"]
                    .iter()
                    .any(|key| map.contains_key(*key))
            {
                map.insert("type".into(), Value::Null);
            }
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "schema" | "items" => mark_typeless(child, true),
                    "properties" | "schemas" => {
                        if let Value::Object(members) = child {
                            for member in members.values_mut() {
                                mark_typeless(member, true);
                            }
                        }
                    }
                    "anyOf" | "oneOf" | "allOf" => {
                        if let Value::Array(items) = child {
                            for item in items {
                                mark_typeless(item, true);
                            }
                        }
                    }
                    _ => mark_typeless(child, false),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mark_typeless(item, false)),
        _ => {}
    }
}

/// The answers every route may give beyond FastAPI Users' own, appended after them: an
/// oversized (413) or too slow (408) body, a rate limit (429, on `limited` routes), a
/// cross-site cookie request (403), an unreachable database or Redis (503).
fn add_protection_responses(method: &http::Method, op: &mut Value, limited: bool) {
    let retry_after = json!({"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}});
    let Some(op) = op.as_object_mut() else {
        return;
    };
    let has_body = op.contains_key("requestBody");
    let secured = op.contains_key("security");
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    if secured && method != http::Method::GET && !responses.contains_key("403") {
        responses.insert(
            "403".into(),
            error_response("A cookie-authenticated request from a site that is not allowed (CSRF_ORIGIN_NOT_ALLOWED)."),
        );
    }
    if has_body && !responses.contains_key("400") {
        responses.insert(
            "400".into(),
            error_response("The body is not UTF-8, or nested too deeply (There was an error parsing the body)."),
        );
    }
    if has_body {
        responses.insert(
            "408".into(),
            error_response("The request body did not arrive in time."),
        );
        responses.insert(
            "413".into(),
            error_response("The request body is over 64 KiB."),
        );
    }
    if limited {
        let mut too_many = error_response("Too many requests (TOO_MANY_REQUESTS).");
        too_many["headers"] = retry_after.clone();
        responses.insert("429".into(), too_many);
    }
    let mut unavailable =
        error_response("The database or Redis cannot be reached (SERVICE_UNAVAILABLE).");
    unavailable["headers"] = retry_after;
    responses.insert("503".into(), unavailable);
}

/// The example token of FastAPI Users' document.
pub(super) const BEARER_EXAMPLE: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiOTIyMWZmYzktNjQwZi00MzcyLTg2ZDMtY2U2NDJjYmE1NjAzIiwiYXVkIjoiZmFzdGFwaS11c2VyczphdXRoIiwiZXhwIjoxNTcxNTA0MTkzfQ.M10bjOe45I5Ncu_uXvOmVV8QxnL-nZfcH96U90JaocI";

/// FastAPI's summary casing: `jwt` → `Jwt`.
pub(super) fn title(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
