//! The document's entries for the audit trail (beyond FastAPI Users).

use serde_json::{json, Value};

use super::document::{
    error_response, json_content, operation, schema_ref, validation_response, Document,
};

impl Document {
    /// `/users/me/events`, `/users/{id}/events`, `/events`.
    pub(super) fn event_routes(&mut self) {
        let nullable =
            |title: &str| json!({"anyOf": [{"type": "string"}, {"type": "null"}], "title": title});
        let types: Vec<Value> = crate::audit::EVENT_TYPES
            .iter()
            .map(|t| Value::from(*t))
            .collect();
        self.schemas.insert("AuditEvent".into(), json!({
            "type": "object", "title": "AuditEvent",
            "required": ["id", "type", "at", "user_id", "actor_id", "ip", "user_agent", "request_id", "detail"],
            "properties": {
                "id": {"type": "string", "title": "Id"},
                "type": {"type": "string", "enum": types, "title": "Type"},
                "at": {"type": "string", "format": "date-time", "title": "At"},
                "user_id": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}], "title": "User Id"},
                "actor_id": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}], "title": "Actor Id",
                             "description": "The superuser who acted, when not the user."},
                "ip": nullable("Ip"), "user_agent": nullable("User Agent"), "request_id": nullable("Request Id"),
                "detail": {"type": "object", "additionalProperties": true, "title": "Detail"}}}));
        self.schemas.insert("AuditEventPage".into(), json!({
            "type": "object", "title": "AuditEventPage", "required": ["items", "next_cursor"],
            "properties": {"items": {"type": "array", "items": schema_ref("AuditEvent"), "title": "Items"},
                           "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Next Cursor",
                                           "description": "Pass as `cursor` for the next (older) page; null on the last."}}}));
        let parameters = json!([
            {"name": "type", "in": "query", "required": false, "style": "form", "explode": true,
             "schema": {"type": "array", "items": {"type": "string", "enum": types.clone()}, "title": "Type"},
             "description": "Event types: the parameter repeated (or comma-separated)."},
            {"name": "since", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time", "title": "Since"}},
            {"name": "until", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time", "title": "Until"}},
            {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50, "title": "Limit"}},
            {"name": "cursor", "in": "query", "required": false,
             "schema": {"type": "string", "pattern": "^([0-9]{1,18}\\.[0-9a-f]{1,64})?$", "title": "Cursor"}},
        ]);
        let ok = json!({"description": "Events, newest first.", "content": json_content(schema_ref("AuditEventPage"))});
        let unauthorized = error_response("Missing token or inactive user.");
        let forbidden = error_response("Not a superuser.");

        let mut own = operation(
            "users_my_events_users_me_events_get",
            "Users:My Events",
            &["users"],
            json!({"200": ok.clone(), "401": unauthorized.clone(), "422": validation_response()}),
        );
        own.insert("parameters".into(), parameters.clone());
        self.paths
            .insert("/users/me/events".into(), json!({"get": self.secured(own)}));
        let mut of_user = operation(
            "users_user_events_users__id__events_get",
            "Users:User Events",
            &["users"],
            json!({"200": ok.clone(), "401": unauthorized.clone(), "403": forbidden.clone(),
                   "404": error_response("Not an id."), "422": validation_response()}),
        );
        let mut with_id = vec![
            json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "title": "Id"}}),
        ];
        with_id.extend(parameters.as_array().cloned().unwrap_or_default());
        of_user.insert("parameters".into(), Value::Array(with_id));
        self.paths.insert(
            "/users/{id}/events".into(),
            json!({"get": self.secured(of_user)}),
        );
        let mut all = operation(
            "events_events_get",
            "Events",
            &["users"],
            json!({"200": ok, "401": unauthorized, "403": forbidden, "422": validation_response()}),
        );
        all.insert("parameters".into(), parameters);
        self.paths
            .insert("/events".into(), json!({"get": self.secured(all)}));
    }
}
