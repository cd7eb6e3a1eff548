//! The document's entries for the audit trail (beyond FastAPI Users).

use serde_json::{json, Value};

use super::document::{
    error_response, forbidden, id_parameter, json_content, operation, schema_ref, unauthorized,
    validation_response, Document,
};

impl Document {
    /// The schemas the event routes name.
    fn event_schemas(&mut self) {
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
    }

    /// `GET /users/me/events`.
    pub(crate) fn my_events(&mut self) -> Value {
        self.event_schemas();
        let mut own = operation(
            "users_my_events_users_me_events_get",
            "Users:My Events",
            &["users"],
            json!({"200": events_ok(), "401": unauthorized(), "422": validation_response()}),
        );
        own.insert("parameters".into(), parameters());
        self.secured(own)
    }

    /// A superuser's `GET /users/{id}/events`.
    pub(crate) fn user_events(&mut self) -> Value {
        self.event_schemas();
        let mut of_user = operation(
            "users_user_events_users__id__events_get",
            "Users:User Events",
            &["users"],
            json!({"200": events_ok(), "401": unauthorized(), "403": forbidden(),
                   "404": error_response("Not an id."), "422": validation_response()}),
        );
        let mut with_id = id_parameter().as_array().cloned().unwrap_or_default();
        with_id.extend(parameters().as_array().cloned().unwrap_or_default());
        of_user.insert("parameters".into(), Value::Array(with_id));
        self.secured(of_user)
    }

    /// A superuser's `GET /events`.
    pub(crate) fn all_events(&mut self) -> Value {
        self.event_schemas();
        let mut all = operation(
            "events_events_get",
            "Events",
            &["users"],
            json!({"200": events_ok(), "401": unauthorized(), "403": forbidden(), "422": validation_response()}),
        );
        all.insert("parameters".into(), parameters());
        self.secured(all)
    }
}

fn events_ok() -> Value {
    json!({"description": "Events, newest first.", "content": json_content(schema_ref("AuditEventPage"))})
}

/// The filters and paging of every event list.
fn parameters() -> Value {
    let types: Vec<Value> = crate::audit::EVENT_TYPES
        .iter()
        .map(|t| Value::from(*t))
        .collect();
    json!([
        {"name": "type", "in": "query", "required": false, "style": "form", "explode": true,
         "schema": {"type": "array", "items": {"type": "string", "enum": types}, "title": "Type"},
         "description": "Event types: the parameter repeated (or comma-separated)."},
        {"name": "since", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time", "title": "Since"}},
        {"name": "until", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time", "title": "Until"}},
        {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50, "title": "Limit"}},
        {"name": "cursor", "in": "query", "required": false,
         "schema": {"type": "string", "pattern": "^([0-9]{1,18}\\.[0-9a-f]{1,64})?$", "title": "Cursor"}},
    ])
}
