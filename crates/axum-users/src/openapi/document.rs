//! The parts of the OpenAPI document, one function per router, and the JSON shapes FastAPI
//! writes them with.

use serde_json::{json, Map, Value};

use crate::transport::Transport;
use crate::user::FieldKind;

use super::{title, BEARER_EXAMPLE};

pub(super) fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub(super) fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

pub(super) fn error_response(description: &str) -> Value {
    json!({"description": description, "content": json_content(schema_ref("ErrorModel"))})
}

pub(super) fn validation_response() -> Value {
    json!({"description": "Validation Error", "content": json_content(schema_ref("HTTPValidationError"))})
}

pub(super) fn bad_request(examples: &[(&str, &str, Value)]) -> Value {
    let mut map = Map::new();
    for (name, summary, value) in examples {
        map.insert((*name).into(), json!({"summary": summary, "value": value}));
    }
    json!({"description": "Bad Request", "content": {"application/json": {
        "schema": schema_ref("ErrorModel"), "examples": map}}})
}

pub(super) fn code(code: &str) -> Value {
    json!({"detail": code})
}

pub(super) fn code_reason(code: &str) -> Value {
    json!({"detail": {"code": code, "reason": "Password should be at least 8 characters"}})
}

pub(super) fn field_schema(kind: FieldKind, nullable: bool) -> Value {
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

pub(super) fn operation(
    op_id: &str,
    summary: &str,
    tags: &[&str],
    responses: Value,
) -> Map<String, Value> {
    let mut op = Map::new();
    op.insert("tags".into(), json!(tags));
    op.insert("summary".into(), Value::from(summary));
    op.insert("operationId".into(), Value::from(op_id));
    op.insert("responses".into(), responses);
    op
}

/// The document under construction: its component schemas (each operation adds those it
/// names), and the security requirement every protected operation carries (one entry per kind
/// of backend). Each route's operations are written by the functions below, which the route
/// table calls where the route is declared.
#[derive(Default)]
pub(crate) struct Document {
    pub(super) schemas: Map<String, Value>,
    security: Vec<Value>,
}

impl Document {
    /// The security schemes of the backends (answered), and the requirement protected
    /// operations carry (kept).
    pub(super) fn security_schemes(&mut self, backends: &[crate::Backend]) -> Map<String, Value> {
        let mut schemes = Map::new();
        for backend in backends {
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
            if !self.security.contains(&entry) {
                self.security.push(entry);
            }
        }
        schemes
    }

    /// An operation that needs a signed-in caller.
    pub(super) fn secured(&self, mut op: Map<String, Value>) -> Value {
        op.insert("security".into(), Value::from(self.security.clone()));
        Value::Object(op)
    }

    /// `POST /auth/{backend}/login`; `refresh` when it answers a refresh token too, `mfa` when
    /// it may answer the second factor's challenge.
    pub(crate) fn login(&mut self, backend: &crate::Backend, refresh: bool, mfa: bool) -> Value {
        let name = backend.name();
        let body_name = format!("Body_auth_{name}_login_auth_{name}_login_post");
        self.schemas.insert(body_name.clone(), json!({
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
        // FastAPI Users' entries (its 200s are FastAPI's defaults), then the 204 the routes
        // answer where FastAPI Users' document does not say so.
        let mut responses = match backend.transport() {
            Transport::Bearer(_) if refresh => {
                self.session_schemas();
                json!({"200": {"description": "Successful Response", "content": {"application/json": {
                    "schema": schema_ref("BearerRefreshResponse"),
                    "example": {"access_token": BEARER_EXAMPLE, "token_type": "bearer",
                                "refresh_token": "Wm9.0.aDk3c2Fs"}}}}})
            }
            Transport::Bearer(_) => {
                json!({"200": {"description": "Successful Response", "content": {"application/json": {
                    "schema": schema_ref("BearerResponse"),
                    "example": {"access_token": BEARER_EXAMPLE, "token_type": "bearer"}}}}})
            }
            Transport::Cookie(cookie) => {
                let mut no_content = json!({"description": "No Content"});
                if refresh {
                    no_content["description"] = Value::from(format!(
                        "Sets the auth cookie and the refresh cookie `{}`.",
                        cookie.refresh_name()
                    ));
                }
                json!({"200": {"description": "Successful Response", "content": json_content(json!({}))},
                       "204": no_content})
            }
        };
        responses["400"] = login_bad;
        if matches!(backend.transport(), Transport::Cookie(_)) {
            responses["403"] = error_response(
                "A login from a page of a site that is not allowed (CSRF_ORIGIN_NOT_ALLOWED).",
            );
        }
        responses["422"] = validation_response();
        if mfa {
            responses["401"] = self.mfa_required();
        }
        let mut login = operation(
            &format!("auth_{name}_login_auth_{name}_login_post"),
            &format!("Auth:{}.Login", title(name)),
            &["auth"],
            responses,
        );
        // As FastAPI describes it: the urlencoded form only (the route reads multipart too;
        // two content types make generated clients take the body as optional).
        login.insert(
            "requestBody".into(),
            json!({"required": true, "content": {
            "application/x-www-form-urlencoded": {"schema": schema_ref(&body_name)}}}),
        );
        Value::Object(login)
    }

    /// `POST /auth/{backend}/logout`.
    pub(crate) fn logout(&mut self, backend: &crate::Backend) -> Value {
        let name = backend.name();
        let logout = operation(
            &format!("auth_{name}_logout_auth_{name}_logout_post"),
            &format!("Auth:{}.Logout", title(name)),
            &["auth"],
            json!({"200": {"description": "Successful Response", "content": json_content(json!({}))},
                   "204": {"description": "No Content"},
                   "401": error_response("Missing token or inactive user.")}),
        );
        self.secured(logout)
    }

    /// `POST /auth/register`.
    pub(crate) fn register(&mut self) -> Value {
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
        Value::Object(register)
    }

    /// The verify and reset routes: JSON bodies of embedded fields, named as FastAPI names
    /// them (`Body_<operation id>`).
    fn account_operation(
        &mut self,
        op_id: &str,
        summary: &str,
        properties: Value,
        required: &[&str],
        responses: Value,
    ) -> Value {
        let body_name = format!("Body_{op_id}");
        self.schemas.insert(
            body_name.clone(),
            json!({"type": "object", "title": body_name,
            "properties": properties, "required": required}),
        );
        let mut op = operation(op_id, summary, &["auth"], responses);
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": json_content(schema_ref(&body_name))}),
        );
        Value::Object(op)
    }

    /// `POST /auth/forgot-password`.
    pub(crate) fn forgot_password(&mut self) -> Value {
        self.account_operation(
            "reset_forgot_password_auth_forgot_password_post",
            "Reset:Forgot Password",
            json!({"email": email_property()}),
            &["email"],
            json!({"202": {"description": "Successful Response", "content": json_content(json!({}))}, "422": validation_response()}),
        )
    }

    /// `POST /auth/reset-password`.
    pub(crate) fn reset_password(&mut self) -> Value {
        self.account_operation(
            "reset_reset_password_auth_reset_password_post",
            "Reset:Reset Password",
            json!({"token": string_property("Token"), "password": string_property("Password")}),
            &["token", "password"],
            json!({"200": {"description": "Successful Response", "content": json_content(json!({}))},
                "400": bad_request(&[
                    ("RESET_PASSWORD_BAD_TOKEN", "Bad or expired token.", code("RESET_PASSWORD_BAD_TOKEN")),
                    ("RESET_PASSWORD_INVALID_PASSWORD", "Password validation failed.", code_reason("RESET_PASSWORD_INVALID_PASSWORD")),
                ]),
                "422": validation_response()}),
        )
    }

    /// `POST /auth/request-verify-token`.
    pub(crate) fn request_verify_token(&mut self) -> Value {
        self.account_operation(
            "verify_request_token_auth_request_verify_token_post",
            "Verify:Request-Token",
            json!({"email": email_property()}),
            &["email"],
            json!({"202": {"description": "Successful Response", "content": json_content(json!({}))}, "422": validation_response()}),
        )
    }

    /// `POST /auth/verify`.
    pub(crate) fn verify(&mut self) -> Value {
        self.account_operation(
            "verify_verify_auth_verify_post",
            "Verify:Verify",
            json!({"token": string_property("Token")}),
            &["token"],
            json!({"200": {"description": "Successful Response", "content": json_content(schema_ref("UserRead"))},
                "400": bad_request(&[
                    ("VERIFY_USER_BAD_TOKEN", "Bad token, not existing user or not the e-mail currently set for the user.", code("VERIFY_USER_BAD_TOKEN")),
                    ("VERIFY_USER_ALREADY_VERIFIED", "The user is already verified.", code("VERIFY_USER_ALREADY_VERIFIED")),
                ]),
                "422": validation_response()}),
        )
    }

    /// `GET /auth/verify?token=`: the verification as a link (beyond FastAPI Users), an answer
    /// for a browser.
    pub(crate) fn verify_link(&mut self) -> Value {
        let html = |description: &str| json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}});
        let mut link = operation(
            "verify_verify_link_auth_verify_get",
            "Verify:Verify Link",
            &["auth"],
            json!({
                "200": html("The e-mail address is verified (a page saying so)."),
                "303": {"description": "With a configured redirect: to it, with `status` (`verified` or the error code) in its query."},
                "400": html("A bad or expired token, or an address verified already (a page saying so)."),
                "422": validation_response()
            }),
        );
        link.insert("parameters".into(), json!([{"name": "token", "in": "query", "required": true, "schema": {"type": "string", "title": "Token"}}]));
        Value::Object(link)
    }

    /// `POST /auth/logout-everywhere`.
    pub(crate) fn logout_everywhere(&mut self) -> Value {
        let everywhere = operation(
            "sessions_logout_everywhere_auth_logout_everywhere_post",
            "Sessions:Logout Everywhere",
            &["auth"],
            json!({"204": {"description": "Every session of the user ended: JWTs minted before are refused, database and Redis tokens deleted, auth cookies cleared."},
                "401": error_response("Missing token or inactive user.")}),
        );
        self.secured(everywhere)
    }

    /// `GET /users/me`.
    pub(crate) fn current_user(&mut self) -> Value {
        let op = operation(
            "users_current_user_users_me_get",
            "Users:Current User",
            &["users"],
            json!({"200": user_ok(), "401": unauthorized()}),
        );
        self.secured(op)
    }

    /// `PATCH /users/me`.
    pub(crate) fn patch_current_user(&mut self) -> Value {
        let mut op = operation(
            "users_patch_current_user_users_me_patch",
            "Users:Patch Current User",
            &["users"],
            json!({"200": user_ok(), "401": unauthorized(), "400": update_bad(), "422": validation_response()}),
        );
        op.insert("requestBody".into(), update_body());
        self.secured(op)
    }

    /// `GET /users/{id}`.
    pub(crate) fn user(&mut self) -> Value {
        let mut op = operation(
            "users_user_users__id__get",
            "Users:User",
            &["users"],
            json!({"200": user_ok(), "401": unauthorized(), "403": forbidden(), "404": missing(), "422": validation_response()}),
        );
        op.insert("parameters".into(), id_parameter());
        self.secured(op)
    }

    /// `PATCH /users/{id}`.
    pub(crate) fn patch_user(&mut self) -> Value {
        let mut op = operation(
            "users_patch_user_users__id__patch",
            "Users:Patch User",
            &["users"],
            json!({"200": user_ok(), "401": unauthorized(), "403": forbidden(), "404": missing(), "400": update_bad(), "422": validation_response()}),
        );
        op.insert("parameters".into(), id_parameter());
        op.insert("requestBody".into(), update_body());
        self.secured(op)
    }

    /// `DELETE /users/{id}`.
    pub(crate) fn delete_user(&mut self) -> Value {
        let mut op = operation(
            "users_delete_user_users__id__delete",
            "Users:Delete User",
            &["users"],
            json!({"204": {"description": "Successful Response"}, "401": unauthorized(), "403": forbidden(), "404": missing(), "422": validation_response()}),
        );
        op.insert("parameters".into(), id_parameter());
        self.secured(op)
    }

    /// `GET /users` (beyond FastAPI Users): a page of users, searched and filtered, pages up to
    /// `max_page` of up to `max_size` users.
    pub(crate) fn list_users(&mut self, max_page: u64, max_size: u64) -> Value {
        self.schemas.insert(
            "Page_UserRead_".into(),
            json!({
            "type": "object", "title": "Page[UserRead]",
            "required": ["items", "total", "page", "size", "pages"],
            "properties": {
                "items": {"type": "array", "items": schema_ref("UserRead"), "title": "Items"},
                "total": {"type": "integer", "minimum": 0, "title": "Total"},
                "page": {"type": "integer", "minimum": 1, "title": "Page"},
                "size": {"type": "integer", "minimum": 1, "title": "Size"},
                "pages": {"type": "integer", "minimum": 0, "title": "Pages"}
            }}),
        );
        // (No `title` beside an `anyOf`: utoipa's model has no place for it.)
        let flag = |name: &str| json!({"name": name, "in": "query", "required": false, "schema": {"anyOf": [{"type": "boolean"}, {"type": "null"}]}});
        let mut list = operation(
            "users_list_users_users_get",
            "Users:List Users",
            &["users"],
            json!({
                "200": {"description": "Successful Response", "content": json_content(schema_ref("Page_UserRead_"))},
                "401": unauthorized(), "403": forbidden(), "422": validation_response()
            }),
        );
        list.insert("description".into(), Value::from(
            "Superusers only. Users ordered by e-mail; `email` matches a part of the address in \
             any letter case; each custom field of the schema filters by equality when given."));
        list.insert("parameters".into(), json!([
            {"name": "page", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": max_page, "default": 1, "title": "Page"}},
            {"name": "size", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": max_size, "default": 50, "title": "Size"}},
            {"name": "email", "in": "query", "required": false, "schema": {"anyOf": [{"type": "string", "maxLength": 320}, {"type": "null"}]}},
            flag("is_active"),
            flag("is_verified"),
            flag("is_superuser"),
            {"name": "created_after", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time", "title": "Created After"},
             "description": "Created at or after (users from before axum-users kept creation times match neither bound)."},
            {"name": "created_before", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time", "title": "Created Before"}},
            {"name": "sort", "in": "query", "required": false, "schema": {"enum": ["email", "-email"], "type": "string", "default": "email", "title": "Sort"}}
        ]));
        self.secured(list)
    }

    /// `POST /users` (beyond FastAPI Users).
    pub(crate) fn create_user(&mut self) -> Value {
        let mut create = operation(
            "users_create_user_users_post",
            "Users:Create User",
            &["users"],
            json!({
                "201": {"description": "Successful Response", "content": json_content(schema_ref("UserRead"))},
                "400": bad_request(&[
                    ("REGISTER_USER_ALREADY_EXISTS", "A user with this email already exists.", code("REGISTER_USER_ALREADY_EXISTS")),
                    ("REGISTER_INVALID_PASSWORD", "Password validation failed.", code_reason("REGISTER_INVALID_PASSWORD")),
                ]),
                "401": unauthorized(), "403": forbidden(), "422": validation_response()
            }),
        );
        create.insert("description".into(), Value::from(
            "Superusers only. The flags are applied as given. Without a `password` the user gets \
             one nobody knows and a reset e-mail to choose their own."));
        create.insert(
            "requestBody".into(),
            json!({"required": true, "content": json_content(schema_ref("UserCreateByAdmin"))}),
        );
        self.secured(create)
    }

    /// `POST /users/{id}/reset-password` (beyond FastAPI Users).
    pub(crate) fn send_reset_password(&mut self) -> Value {
        let mut reset = operation(
            "users_reset_password_users__id__reset_password_post",
            "Users:Reset Password",
            &["users"],
            json!({
                "202": {"description": "Successful Response", "content": json_content(json!({}))},
                "401": unauthorized(), "403": forbidden(), "404": missing(), "422": validation_response()
            }),
        );
        reset.insert("description".into(), Value::from(
            "Superusers only. Mails the user a reset link after the answer (an inactive user gets none)."));
        reset.insert("parameters".into(), id_parameter());
        self.secured(reset)
    }

    /// FastAPI Users' `GET /auth/{provider}/authorize` (or with `associate`,
    /// `/auth/associate/{provider}/authorize`), with its operation ids
    /// (`oauth:{provider}.{backend}.authorize` ...).
    #[cfg(feature = "oauth")]
    pub(crate) fn oauth_authorize(&mut self, name: &str, backend: &str, associate: bool) -> Value {
        self.schemas.insert("OAuth2AuthorizeResponse".into(), json!({"type": "object", "title": "OAuth2AuthorizeResponse",
            "required": ["authorization_url"], "properties": {"authorization_url": {"type": "string", "title": "Authorization Url"}}}));
        let (t, tb) = (title(name), title(backend));
        let (op_id, summary) = if associate {
            (
                format!("oauth_associate_{name}_authorize_auth_associate_{name}_authorize_get"),
                format!("Oauth-Associate:{t}.Authorize"),
            )
        } else {
            (
                format!("oauth_{name}_{backend}_authorize_auth_{name}_authorize_get"),
                format!("Oauth:{t}.{tb}.Authorize"),
            )
        };
        let mut authorize = operation(
            &op_id,
            &summary,
            &["auth"],
            json!({"200": {"description": "Successful Response", "content": json_content(schema_ref("OAuth2AuthorizeResponse"))}, "422": validation_response()}),
        );
        authorize.insert("parameters".into(), json!([{"name": "scopes", "in": "query", "required": false,
            "schema": {"type": "array", "items": {"type": "string"}, "default": [], "title": "Scopes"}}]));
        if associate {
            self.secured(authorize)
        } else {
            Value::Object(authorize)
        }
    }

    /// FastAPI Users' `GET /auth/{provider}/callback` (or with `associate`,
    /// `/auth/associate/{provider}/callback`).
    #[cfg(feature = "oauth")]
    pub(crate) fn oauth_callback(&mut self, name: &str, backend: &str, associate: bool) -> Value {
        let optional = |name: &str, title: &str| {
            json!({"name": name, "in": "query", "required": false,
            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": title}})
        };
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
        let (t, tb) = (title(name), title(backend));
        let (op_id, summary, ok) = if associate {
            (
                format!("oauth_associate_{name}_callback_auth_associate_{name}_callback_get"),
                format!("Oauth-Associate:{t}.Callback"),
                json_content(schema_ref("UserRead")),
            )
        } else {
            (
                format!("oauth_{name}_{backend}_callback_auth_{name}_callback_get"),
                format!("Oauth:{t}.{tb}.Callback"),
                json_content(json!({})),
            )
        };
        let mut callback = operation(
            &op_id,
            &summary,
            &["auth"],
            json!({"200": {"description": "Successful Response", "content": ok},
                "400": callback_bad, "422": validation_response(), "502": provider_down}),
        );
        callback.insert(
            "parameters".into(),
            json!([
                optional("code", "Code"),
                optional("code_verifier", "Code Verifier"),
                optional("state", "State"),
                optional("error", "Error")
            ]),
        );
        if associate {
            self.secured(callback)
        } else {
            Value::Object(callback)
        }
    }
}

fn email_property() -> Value {
    json!({"type": "string", "format": "email", "title": "Email"})
}

fn string_property(title: &str) -> Value {
    json!({"type": "string", "title": title})
}

pub(super) fn unauthorized() -> Value {
    error_response("Missing token or inactive user.")
}

pub(super) fn forbidden() -> Value {
    error_response("Not a superuser.")
}

pub(super) fn missing() -> Value {
    error_response("The user does not exist.")
}

pub(super) fn id_parameter() -> Value {
    json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "title": "Id"}}])
}

fn user_ok() -> Value {
    json!({"description": "Successful Response", "content": json_content(schema_ref("UserRead"))})
}

fn update_body() -> Value {
    json!({"required": true, "content": json_content(schema_ref("UserUpdate"))})
}

fn update_bad() -> Value {
    bad_request(&[
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
    ])
}

/// An error answer that may carry any of these codes.
pub(super) fn code_error(codes: &str) -> Value {
    error_response(&format!("One of: {codes}."))
}

/// A required JSON body of this schema.
pub(super) fn body(schema: &str) -> Value {
    json!({"required": true, "content": json_content(schema_ref(schema))})
}

/// A JSON answer of this schema.
pub(super) fn ok(schema: &str, description: &str) -> Value {
    json!({"description": description, "content": json_content(schema_ref(schema))})
}
