//! The OpenAPI 3.1 document of the routes mounted by [`AxumUsers::router`], with FastAPI's
//! operation ids, summaries, response lists and schemas, so that generated clients match.

use serde_json::{json, Map, Value};

use crate::transport::Transport;
use crate::user::FieldKind;
use crate::AxumUsers;

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": json_content(schema_ref("ErrorModel"))})
}

fn validation_response() -> Value {
    json!({"description": "Validation Error", "content": json_content(schema_ref("HTTPValidationError"))})
}

fn bad_request(examples: &[(&str, &str, Value)]) -> Value {
    let mut map = Map::new();
    for (name, summary, value) in examples {
        map.insert((*name).into(), json!({"summary": summary, "value": value}));
    }
    json!({"description": "Bad Request", "content": {"application/json": {
        "schema": schema_ref("ErrorModel"), "examples": map}}})
}

fn code(code: &str) -> Value {
    json!({"detail": code})
}

fn code_reason(code: &str) -> Value {
    json!({"detail": {"code": code, "reason": "Password should be at least 8 characters"}})
}

fn field_schema(kind: FieldKind, nullable: bool) -> Value {
    let base = match kind {
        FieldKind::String {
            max_length: Some(n),
        } => json!({"type": "string", "maxLength": n}),
        FieldKind::String { max_length: None } => json!({"type": "string"}),
        FieldKind::Integer => json!({"type": "integer"}),
        FieldKind::Float => json!({"type": "number"}),
        FieldKind::Boolean => json!({"type": "boolean"}),
        FieldKind::Date => json!({"type": "string", "format": "date"}),
    };
    if nullable {
        json!({"anyOf": [base, {"type": "null"}]})
    } else {
        base
    }
}

fn operation(op_id: &str, summary: &str, tags: &[&str], responses: Value) -> Map<String, Value> {
    let mut op = Map::new();
    op.insert("tags".into(), json!(tags));
    op.insert("summary".into(), Value::from(summary));
    op.insert("operationId".into(), Value::from(op_id));
    op.insert("responses".into(), responses);
    op
}

impl AxumUsers {
    /// The OpenAPI document for the conventional layout of [`AxumUsers::router`]:
    /// `/auth/register`, `/auth/{backend}/login|logout`, the verify and reset routes under
    /// `/auth`, `/users/...`.
    pub fn openapi(&self) -> Value {
        let mut paths = Map::new();
        let mut schemes = Map::new();
        let mut security = Vec::new();
        let mut schemas = Map::new();
        for backend in self.backends() {
            let scheme = match backend.transport() {
                Transport::Bearer(bearer) => {
                    schemes.insert(
                        "OAuth2PasswordBearer".into(),
                        json!({"type": "oauth2",
                        "flows": {"password": {"scopes": {}, "tokenUrl": bearer.token_url}}}),
                    );
                    "OAuth2PasswordBearer"
                }
                Transport::Cookie(cookie) => {
                    schemes.insert(
                        "APIKeyCookie".into(),
                        json!({"type": "apiKey", "in": "cookie", "name": cookie.name}),
                    );
                    "APIKeyCookie"
                }
            };
            let entry = json!({ scheme: [] });
            if !security.contains(&entry) {
                security.push(entry);
            }
        }
        let secured = |mut op: Map<String, Value>| {
            op.insert("security".into(), Value::from(security.clone()));
            Value::Object(op)
        };

        for backend in self.backends() {
            let name = backend.name();
            let body_name = format!("Body_auth_{name}_login_auth_{name}_login_post");
            schemas.insert(body_name.clone(), json!({
                "type": "object", "title": body_name, "required": ["username", "password"],
                "properties": {
                    "grant_type": {"type": "string", "pattern": "^password$", "title": "Grant Type"},
                    "username": {"type": "string", "minLength": 1, "title": "Username"},
                    "password": {"type": "string", "minLength": 1, "format": "password", "title": "Password"},
                    "scope": {"type": "string", "title": "Scope", "default": ""},
                    "client_id": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Client Id"},
                    "client_secret": {"anyOf": [{"type": "string"}, {"type": "null"}], "format": "password", "title": "Client Secret"}
                }}));
            let login_bad = bad_request(&[
                (
                    "LOGIN_BAD_CREDENTIALS",
                    "Bad credentials or the user is inactive.",
                    code("LOGIN_BAD_CREDENTIALS"),
                ),
                (
                    "LOGIN_USER_NOT_VERIFIED",
                    "The user is not verified.",
                    code("LOGIN_USER_NOT_VERIFIED"),
                ),
            ]);
            let (login_ok, logout_ok) = match backend.transport() {
                // FastAPI Users' entries (its 200s are FastAPI's defaults), then the 204 the
                // routes answer where FastAPI Users' document does not say so.
                Transport::Bearer(_) => (
                    json!({"200": {"description": "Successful Response", "content": {"application/json": {
                        "schema": schema_ref("BearerResponse"),
                        "example": {"access_token": BEARER_EXAMPLE, "token_type": "bearer"}}}}}),
                    json!({"200": {"description": "Successful Response", "content": json_content(json!({}))},
                           "204": {"description": "No Content"}}),
                ),
                Transport::Cookie(_) => (
                    json!({"200": {"description": "Successful Response", "content": json_content(json!({}))},
                           "204": {"description": "No Content"}}),
                    json!({"200": {"description": "Successful Response", "content": json_content(json!({}))},
                           "204": {"description": "No Content"}}),
                ),
            };
            let mut login_responses = login_ok.as_object().cloned().unwrap_or_default();
            login_responses.insert("400".into(), login_bad);
            if matches!(backend.transport(), Transport::Cookie(_)) {
                login_responses.insert(
                    "403".into(),
                    error_response("A login from a page of a site that is not allowed (CSRF_ORIGIN_NOT_ALLOWED)."),
                );
            }
            login_responses.insert("422".into(), validation_response());
            let mut login = operation(
                &format!("auth_{name}_login_auth_{name}_login_post"),
                &format!("Auth:{}.Login", title(name)),
                &["auth"],
                Value::Object(login_responses),
            );
            // As FastAPI describes it: the urlencoded form only (the route reads multipart too;
            // two content types make generated clients take the body as optional).
            login.insert(
                "requestBody".into(),
                json!({"required": true, "content": {
                "application/x-www-form-urlencoded": {"schema": schema_ref(&body_name)}}}),
            );
            paths.insert(format!("/auth/{name}/login"), json!({"post": login}));
            let mut logout_responses = logout_ok.as_object().cloned().unwrap_or_default();
            logout_responses.insert(
                "401".into(),
                error_response("Missing token or inactive user."),
            );
            let logout = operation(
                &format!("auth_{name}_logout_auth_{name}_logout_post"),
                &format!("Auth:{}.Logout", title(name)),
                &["auth"],
                Value::Object(logout_responses),
            );
            paths.insert(
                format!("/auth/{name}/logout"),
                json!({"post": secured(logout)}),
            );
        }

        let mut register = operation(
            "register_register_auth_register_post",
            "Register:Register",
            &["auth"],
            json!({
                "201": {"description": "Successful Response", "content": json_content(schema_ref("UserRead"))},
                "400": bad_request(&[
                    ("REGISTER_USER_ALREADY_EXISTS", "A user with this email already exists.", code("REGISTER_USER_ALREADY_EXISTS")),
                    ("REGISTER_INVALID_PASSWORD", "Password validation failed.", code_reason("REGISTER_INVALID_PASSWORD")),
                ]),
                "422": validation_response()
            }),
        );
        register.insert(
            "requestBody".into(),
            json!({"required": true, "content": json_content(schema_ref("UserCreate"))}),
        );
        paths.insert("/auth/register".into(), json!({"post": register}));

        // The verify and reset routers: JSON bodies of embedded fields.
        let string_prop = |t: &str| json!({"type": "string", "title": t});
        let email_prop = json!({"type": "string", "format": "email", "title": "Email"});
        let account_routes = [
            (
                "/auth/forgot-password",
                "reset_forgot_password_auth_forgot_password_post",
                "Reset:Forgot Password",
                json!({"email": email_prop}),
                vec!["email"],
                json!({"202": {"description": "Successful Response", "content": json_content(json!({}))}, "422": validation_response()}),
            ),
            (
                "/auth/reset-password",
                "reset_reset_password_auth_reset_password_post",
                "Reset:Reset Password",
                json!({"token": string_prop("Token"), "password": string_prop("Password")}),
                vec!["token", "password"],
                json!({"200": {"description": "Successful Response", "content": json_content(json!({}))},
                    "400": bad_request(&[
                        ("RESET_PASSWORD_BAD_TOKEN", "Bad or expired token.", code("RESET_PASSWORD_BAD_TOKEN")),
                        ("RESET_PASSWORD_INVALID_PASSWORD", "Password validation failed.", code_reason("RESET_PASSWORD_INVALID_PASSWORD")),
                    ]),
                    "422": validation_response()}),
            ),
            (
                "/auth/request-verify-token",
                "verify_request_token_auth_request_verify_token_post",
                "Verify:Request-Token",
                json!({"email": email_prop}),
                vec!["email"],
                json!({"202": {"description": "Successful Response", "content": json_content(json!({}))}, "422": validation_response()}),
            ),
            (
                "/auth/verify",
                "verify_verify_auth_verify_post",
                "Verify:Verify",
                json!({"token": string_prop("Token")}),
                vec!["token"],
                json!({"200": {"description": "Successful Response", "content": json_content(schema_ref("UserRead"))},
                    "400": bad_request(&[
                        ("VERIFY_USER_BAD_TOKEN", "Bad token, not existing user or not the e-mail currently set for the user.", code("VERIFY_USER_BAD_TOKEN")),
                        ("VERIFY_USER_ALREADY_VERIFIED", "The user is already verified.", code("VERIFY_USER_ALREADY_VERIFIED")),
                    ]),
                    "422": validation_response()}),
            ),
        ];
        for (path, op_id, summary, properties, required, responses) in account_routes {
            let body_name = format!("Body_{op_id}");
            schemas.insert(
                body_name.clone(),
                json!({"type": "object", "title": body_name,
                "properties": properties, "required": required}),
            );
            let mut op = operation(op_id, summary, &["auth"], responses);
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": json_content(schema_ref(&body_name))}),
            );
            paths.insert(path.into(), json!({"post": op}));
        }

        let everywhere = operation(
            "sessions_logout_everywhere_auth_logout_everywhere_post",
            "Sessions:Logout Everywhere",
            &["auth"],
            json!({"204": {"description": "Every session of the user ended: JWTs minted before are refused, database and Redis tokens deleted, auth cookies cleared."},
                "401": error_response("Missing token or inactive user.")}),
        );
        paths.insert(
            "/auth/logout-everywhere".into(),
            json!({"post": secured(everywhere)}),
        );

        let update_bad = bad_request(&[
            (
                "UPDATE_USER_EMAIL_ALREADY_EXISTS",
                "A user with this email already exists.",
                code("UPDATE_USER_EMAIL_ALREADY_EXISTS"),
            ),
            (
                "UPDATE_USER_INVALID_PASSWORD",
                "Password validation failed.",
                code_reason("UPDATE_USER_INVALID_PASSWORD"),
            ),
        ]);
        let user_ok = json!({"description": "Successful Response", "content": json_content(schema_ref("UserRead"))});
        let unauthorized = error_response("Missing token or inactive user.");
        let forbidden = error_response("Not a superuser.");
        let missing = error_response("The user does not exist.");
        let update_body =
            json!({"required": true, "content": json_content(schema_ref("UserUpdate"))});
        let id_param = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "title": "Id"}}]);

        let me_get = operation(
            "users_current_user_users_me_get",
            "Users:Current User",
            &["users"],
            json!({"200": user_ok, "401": unauthorized}),
        );
        let mut me_patch = operation(
            "users_patch_current_user_users_me_patch",
            "Users:Patch Current User",
            &["users"],
            json!({"200": user_ok, "401": unauthorized, "400": update_bad, "422": validation_response()}),
        );
        me_patch.insert("requestBody".into(), update_body.clone());
        paths.insert(
            "/users/me".into(),
            json!({"get": secured(me_get), "patch": secured(me_patch)}),
        );

        let mut user_get = operation(
            "users_user_users__id__get",
            "Users:User",
            &["users"],
            json!({"200": user_ok, "401": unauthorized, "403": forbidden, "404": missing, "422": validation_response()}),
        );
        user_get.insert("parameters".into(), id_param.clone());
        let mut user_patch = operation(
            "users_patch_user_users__id__patch",
            "Users:Patch User",
            &["users"],
            json!({"200": user_ok, "401": unauthorized, "403": forbidden, "404": missing, "400": update_bad, "422": validation_response()}),
        );
        user_patch.insert("parameters".into(), id_param.clone());
        user_patch.insert("requestBody".into(), update_body);
        let mut user_delete = operation(
            "users_delete_user_users__id__delete",
            "Users:Delete User",
            &["users"],
            json!({"204": {"description": "Successful Response"}, "401": unauthorized, "403": forbidden, "404": missing, "422": validation_response()}),
        );
        user_delete.insert("parameters".into(), id_param);
        paths.insert("/users/{id}".into(), json!({"get": secured(user_get), "patch": secured(user_patch), "delete": secured(user_delete)}));

        #[cfg(feature = "oauth")]
        self.oauth_paths(&mut paths, &mut schemas, &secured);
        self.user_schemas(&mut schemas);
        add_protection_responses(&mut paths);
        json!({
            "openapi": "3.1.0",
            "info": {"title": self.openapi_title(), "version": "0.1.0"},
            "paths": paths,
            "components": {"schemas": schemas, "securitySchemes": schemes}
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

    /// FastAPI Users' OAuth routes, one pair per provider (and the associate pair), with its
    /// operation ids (`oauth:{provider}.{backend}.authorize` ...).
    #[cfg(feature = "oauth")]
    fn oauth_paths(
        &self,
        paths: &mut Map<String, Value>,
        schemas: &mut Map<String, Value>,
        secured: &dyn Fn(Map<String, Value>) -> Value,
    ) {
        let Some(oauth) = self.oauth() else {
            return;
        };
        schemas.insert("OAuth2AuthorizeResponse".into(), json!({"type": "object", "title": "OAuth2AuthorizeResponse",
            "required": ["authorization_url"], "properties": {"authorization_url": {"type": "string", "title": "Authorization Url"}}}));
        let backend = oauth
            .settings
            .backend
            .clone()
            .or_else(|| self.backends().first().map(|b| b.name().to_owned()))
            .unwrap_or_default();
        let optional = |name: &str, title: &str| {
            json!({"name": name, "in": "query", "required": false,
            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": title}})
        };
        let scopes = json!([{"name": "scopes", "in": "query", "required": false,
            "schema": {"type": "array", "items": {"type": "string"}, "default": [], "title": "Scopes"}}]);
        let callback_params = json!([
            optional("code", "Code"),
            optional("code_verifier", "Code Verifier"),
            optional("state", "State"),
            optional("error", "Error")
        ]);
        let authorize_ok = json!({"200": {"description": "Successful Response", "content": json_content(schema_ref("OAuth2AuthorizeResponse"))}, "422": validation_response()});
        let callback_bad = bad_request(&[
            (
                "INVALID_STATE_TOKEN",
                "Invalid state token.",
                code("ACCESS_TOKEN_DECODE_ERROR"),
            ),
            (
                "OAUTH_INVALID_STATE",
                "The CSRF cookie does not match the state.",
                code("OAUTH_INVALID_STATE"),
            ),
            (
                "OAUTH_NOT_AVAILABLE_EMAIL",
                "The OAuth provider does not share the e-mail.",
                code("OAUTH_NOT_AVAILABLE_EMAIL"),
            ),
            (
                "OAUTH_USER_ALREADY_EXISTS",
                "A user with this e-mail already exists.",
                code("OAUTH_USER_ALREADY_EXISTS"),
            ),
            (
                "LOGIN_BAD_CREDENTIALS",
                "The user is inactive.",
                code("LOGIN_BAD_CREDENTIALS"),
            ),
        ]);
        let provider_down = error_response("The OAuth provider failed (OAUTH_PROVIDER_ERROR).");
        for provider in &oauth.providers {
            let name = provider.name();
            let (t, tb) = (title(name), title(&backend));
            let mut authorize = operation(
                &format!("oauth_{name}_{backend}_authorize_auth_{name}_authorize_get"),
                &format!("Oauth:{t}.{tb}.Authorize"),
                &["auth"],
                authorize_ok.clone(),
            );
            authorize.insert("parameters".into(), scopes.clone());
            paths.insert(format!("/auth/{name}/authorize"), json!({"get": authorize}));
            let mut callback = operation(
                &format!("oauth_{name}_{backend}_callback_auth_{name}_callback_get"),
                &format!("Oauth:{t}.{tb}.Callback"),
                &["auth"],
                json!({"200": {"description": "Successful Response", "content": json_content(json!({}))},
                    "400": callback_bad.clone(), "422": validation_response(), "502": provider_down.clone()}),
            );
            callback.insert("parameters".into(), callback_params.clone());
            paths.insert(format!("/auth/{name}/callback"), json!({"get": callback}));
            let mut associate = operation(
                &format!("oauth_associate_{name}_authorize_auth_associate_{name}_authorize_get"),
                &format!("Oauth-Associate:{t}.Authorize"),
                &["auth"],
                authorize_ok.clone(),
            );
            associate.insert("parameters".into(), scopes.clone());
            paths.insert(
                format!("/auth/associate/{name}/authorize"),
                json!({"get": secured(associate)}),
            );
            let mut associate_callback = operation(
                &format!("oauth_associate_{name}_callback_auth_associate_{name}_callback_get"),
                &format!("Oauth-Associate:{t}.Callback"),
                &["auth"],
                json!({"200": {"description": "Successful Response", "content": json_content(schema_ref("UserRead"))},
                    "400": callback_bad.clone(), "422": validation_response(), "502": provider_down.clone()}),
            );
            associate_callback.insert("parameters".into(), callback_params.clone());
            paths.insert(
                format!("/auth/associate/{name}/callback"),
                json!({"get": secured(associate_callback)}),
            );
        }
    }

    fn user_schemas(&self, schemas: &mut Map<String, Value>) {
        let nullable_bool = |t: &str, default: bool| json!({"anyOf": [{"type": "boolean"}, {"type": "null"}], "title": t, "default": default});
        let mut read = json!({
            "id": {"type": "string", "format": "uuid", "title": "Id"},
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

/// The answers every route may give beyond FastAPI Users' own, appended after them: an
/// oversized (413) or too slow (408) body, a rate limit (429), a cross-site cookie request
/// (403), an unreachable database or Redis (503).
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

fn add_protection_responses(paths: &mut Map<String, Value>) {
    let retry_after = json!({"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}});
    let limited = |path: &str| {
        path.ends_with("/login")
            || [
                "/auth/register",
                "/auth/forgot-password",
                "/auth/request-verify-token",
                "/auth/reset-password",
                "/auth/verify",
            ]
            .contains(&path)
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let has_body = op.contains_key("requestBody");
            let secured = op.contains_key("security");
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            if secured && method != "get" && !responses.contains_key("403") {
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
            if limited(path) {
                let mut too_many = error_response("Too many requests (TOO_MANY_REQUESTS).");
                too_many["headers"] = retry_after.clone();
                responses.insert("429".into(), too_many);
            }
            let mut unavailable =
                error_response("The database or Redis cannot be reached (SERVICE_UNAVAILABLE).");
            unavailable["headers"] = json!({"Retry-After": retry_after["Retry-After"].clone()});
            responses.insert("503".into(), unavailable);
        }
    }
}

/// The example token of FastAPI Users' document.
const BEARER_EXAMPLE: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiOTIyMWZmYzktNjQwZi00MzcyLTg2ZDMtY2U2NDJjYmE1NjAzIiwiYXVkIjoiZmFzdGFwaS11c2VyczphdXRoIiwiZXhwIjoxNTcxNTA0MTkzfQ.M10bjOe45I5Ncu_uXvOmVV8QxnL-nZfcH96U90JaocI";

/// FastAPI's summary casing: `jwt` → `Jwt`.
fn title(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
