//! The document's entries for sessions (beyond FastAPI Users): each refresh-token backend's
//! `POST /auth/{backend}/refresh`, the caller's `/auth/sessions` and a superuser's
//! `/users/{id}/sessions`.

use serde_json::{json, Value};

use super::document::{
    error_response, forbidden, id_parameter, json_content, missing, operation, schema_ref,
    unauthorized, Document,
};
use super::title;
use crate::transport::Transport;

const REFRESH_INVALID: &str = "A refresh token that is malformed, forged, expired, already \
     rotated (which also ends its session: present each one once) or whose session has ended \
     (REFRESH_TOKEN_INVALID).";

impl Document {
    /// The schemas the session routes name.
    pub(super) fn session_schemas(&mut self) {
        self.schemas.insert(
            "BearerRefreshResponse".into(),
            json!({
            "type": "object", "title": "BearerRefreshResponse",
            "required": ["access_token", "token_type", "refresh_token"],
            "properties": {
                "access_token": {"type": "string", "title": "Access Token"},
                "token_type": {"type": "string", "title": "Token Type"},
                "refresh_token": {"type": "string", "title": "Refresh Token"}}}),
        );
        self.schemas.insert(
            "RefreshRequest".into(),
            json!({
            "type": "object", "title": "RefreshRequest", "required": ["refresh_token"],
            "properties": {"refresh_token": {"type": "string", "title": "Refresh Token"}}}),
        );
        let nullable = |kind: &str, format: Option<&str>| {
            let mut base = json!({"type": kind});
            if let Some(format) = format {
                base["format"] = Value::from(format);
            }
            json!({"anyOf": [base, {"type": "null"}]})
        };
        self.schemas.insert("SessionRead".into(), json!({
            "type": "object", "title": "SessionRead",
            "required": ["id", "backend", "method", "created_at", "last_used_at", "expires_at",
                         "ip", "user_agent", "refresh", "current"],
            "properties": {
                "id": {"type": "string", "title": "Id"},
                "backend": {"type": "string", "title": "Backend"},
                "method": {"type": "string", "title": "Method",
                           "description": "How the user signed in: `password` or `oauth:<provider>`."},
                "created_at": {"type": "string", "format": "date-time", "title": "Created At"},
                "last_used_at": {"type": "string", "format": "date-time", "title": "Last Used At",
                                 "description": "The last login or refresh."},
                "expires_at": nullable("string", Some("date-time")),
                "ip": nullable("string", None),
                "user_agent": nullable("string", None),
                "refresh": {"type": "boolean", "title": "Refresh"},
                "current": {"type": "boolean", "title": "Current",
                            "description": "Whether the request was made with this session's token."}}}));
    }

    /// `POST /auth/{backend}/refresh` (the login's answer carries the refresh token:
    /// [`Document::login`]).
    pub(crate) fn refresh(&mut self, backend: &crate::Backend) -> Value {
        self.session_schemas();
        let name = backend.name();
        let mut refresh = match backend.transport() {
            Transport::Bearer(_) => {
                let mut op = operation(
                    &format!("auth_{name}_refresh_auth_{name}_refresh_post"),
                    &format!("Auth:{}.Refresh", title(name)),
                    &["auth"],
                    json!({
                        "200": {"description": "A new access token and a new refresh token (the one sent is spent).",
                                "content": json_content(schema_ref("BearerRefreshResponse"))},
                        "401": error_response(REFRESH_INVALID),
                        "422": super::document::validation_response()
                    }),
                );
                op.insert("requestBody".into(), json!({"required": true, "content": json_content(schema_ref("RefreshRequest"))}));
                op
            }
            Transport::Cookie(cookie) => operation(
                &format!("auth_{name}_refresh_auth_{name}_refresh_post"),
                &format!("Auth:{}.Refresh", title(name)),
                &["auth"],
                json!({
                    "204": {"description": format!("Reads the refresh cookie `{}`; sets both cookies anew.", cookie.refresh_name())},
                    "401": error_response(REFRESH_INVALID),
                    "403": error_response("A refresh from a page of a site that is not allowed (CSRF_ORIGIN_NOT_ALLOWED).")
                }),
            ),
        };
        refresh.insert("description".into(), Value::from(
            "Trades a refresh token for a new access token and a new refresh token. Each refresh \
             token works once; presenting one that was already rotated ends its session, except \
             within a few seconds of the rotation, when a retried request gets the same answer."));
        Value::Object(refresh)
    }

    /// `GET /auth/sessions`.
    pub(crate) fn list_sessions(&mut self) -> Value {
        self.session_schemas();
        let list = operation(
            "sessions_list_sessions_auth_sessions_get",
            "Sessions:List Sessions",
            &["auth"],
            json!({"200": sessions_ok(), "401": unauthorized()}),
        );
        self.secured(list)
    }

    /// `DELETE /auth/sessions`.
    pub(crate) fn end_other_sessions(&mut self) -> Value {
        let others = operation(
            "sessions_end_other_sessions_auth_sessions_delete",
            "Sessions:End Other Sessions",
            &["auth"],
            json!({"204": {"description": "Every session of the user but the one making the request ended."}, "401": unauthorized()}),
        );
        self.secured(others)
    }

    /// `DELETE /auth/sessions/{id}`.
    pub(crate) fn end_session(&mut self) -> Value {
        let mut one = operation(
            "sessions_end_session_auth_sessions__id__delete",
            "Sessions:End Session",
            &["auth"],
            json!({"204": ended(), "401": unauthorized(), "404": error_response("No such session of the user.")}),
        );
        one.insert("parameters".into(), id_parameter());
        self.secured(one)
    }

    /// A superuser's `GET /users/{id}/sessions`.
    pub(crate) fn list_user_sessions(&mut self) -> Value {
        self.session_schemas();
        let mut list = operation(
            "users_list_user_sessions_users__id__sessions_get",
            "Users:List User Sessions",
            &["users"],
            json!({"200": sessions_ok(), "401": unauthorized(), "403": forbidden(), "404": missing()}),
        );
        list.insert("parameters".into(), id_parameter());
        self.secured(list)
    }

    /// A superuser's `DELETE /users/{id}/sessions`.
    pub(crate) fn end_user_sessions(&mut self) -> Value {
        let mut all = operation(
            "users_end_user_sessions_users__id__sessions_delete",
            "Users:End User Sessions",
            &["users"],
            json!({"204": {"description": "Every session of the user ended, as their own \"log out everywhere\": JWTs too."},
                   "401": unauthorized(), "403": forbidden(), "404": missing()}),
        );
        all.insert("parameters".into(), id_parameter());
        self.secured(all)
    }

    /// A superuser's `DELETE /users/{id}/sessions/{session_id}`.
    pub(crate) fn end_user_session(&mut self) -> Value {
        let mut one = operation(
            "users_end_user_session_users__id__sessions__session_id__delete",
            "Users:End User Session",
            &["users"],
            json!({"204": ended(), "401": unauthorized(), "403": forbidden(), "404": error_response("No such user, or no such session of theirs.")}),
        );
        one.insert(
            "parameters".into(),
            json!([
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "title": "Id"}},
                {"name": "session_id", "in": "path", "required": true, "schema": {"type": "string", "title": "Session Id"}}
            ]),
        );
        self.secured(one)
    }
}

fn sessions_ok() -> Value {
    json!({"description": "The live sessions, most recently used first.",
        "content": json_content(json!({"type": "array", "items": schema_ref("SessionRead"), "title": "Response"}))})
}

fn ended() -> Value {
    json!({"description": "Ended: its refresh token and its database or Redis token are revoked; a JWT lives out its lifetime."})
}
