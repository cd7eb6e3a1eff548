//! The document's entries for passkeys (beyond FastAPI Users): registration, the list,
//! rename and delete, and the discoverable sign-in.

use serde_json::{json, Value};

use super::document::{
    body, code_error, error_response, id_parameter, json_content, ok, operation, schema_ref,
    unauthorized, validation_response, Document,
};

impl Document {
    /// The schemas the passkey routes name.
    fn passkey_schemas(&mut self) {
        let string = |title: &str| json!({"type": "string", "title": title});
        let time = |title: &str| json!({"type": "string", "format": "date-time", "title": title});
        let options = |title: &str, description: &str| {
            json!({"type": "object", "title": title, "description": description,
                   "additionalProperties": true})
        };
        self.schemas.insert("PasskeyRead".into(), json!({
            "type": "object", "title": "PasskeyRead", "required": ["id", "name", "created_at", "last_used_at"],
            "properties": {"id": string("Id"), "name": string("Name"), "created_at": time("Created At"),
                           "last_used_at": {"anyOf": [time("Last Used At"), {"type": "null"}], "title": "Last Used At"}}}));
        self.schemas.insert("PasskeyRename".into(), json!({
            "type": "object", "title": "PasskeyRename", "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64, "title": "Name"}}}));
        self.schemas.insert("PasskeyRegistrationOptions".into(), json!({
            "type": "object", "title": "PasskeyRegistrationOptions", "required": ["ceremony_id", "publicKey"],
            "properties": {"ceremony_id": string("Ceremony Id"),
                           "publicKey": options("Publickey", "PublicKeyCredentialCreationOptions in WebAuthn's JSON form (PublicKeyCredential.parseCreationOptionsFromJSON).")}}));
        self.schemas.insert("PasskeyLoginOptions".into(), json!({
            "type": "object", "title": "PasskeyLoginOptions", "required": ["ceremony_id", "publicKey"],
            "properties": {"ceremony_id": string("Ceremony Id"),
                           "publicKey": options("Publickey", "PublicKeyCredentialRequestOptions in WebAuthn's JSON form (PublicKeyCredential.parseRequestOptionsFromJSON).")}}));
        self.schemas.insert("PasskeyRegistration".into(), json!({
            "type": "object", "title": "PasskeyRegistration", "required": ["ceremony_id", "credential"],
            "properties": {"ceremony_id": string("Ceremony Id"),
                           "credential": options("Credential", "The new credential's toJSON()."),
                           "name": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 64}, {"type": "null"}], "title": "Name"}}}));
    }

    /// `GET /auth/passkeys`.
    pub(crate) fn passkeys_list(&mut self) -> Value {
        self.passkey_schemas();
        let list = operation(
            "passkeys_list_auth_passkeys_get",
            "Passkeys:List",
            &["auth"],
            json!({"200": {"description": "The signed-in user's passkeys, oldest first.",
                           "content": json_content(json!({"type": "array", "items": schema_ref("PasskeyRead"), "title": "Response Passkeys List Auth Passkeys Get"}))},
                   "401": unauthorized()}),
        );
        self.secured(list)
    }

    /// `PATCH /auth/passkeys/{id}`.
    pub(crate) fn passkey_rename(&mut self) -> Value {
        self.passkey_schemas();
        let mut rename = operation(
            "passkeys_rename_auth_passkeys__id__patch",
            "Passkeys:Rename",
            &["auth"],
            json!({"200": ok("PasskeyRead", "Renamed."), "401": unauthorized(),
                   "404": not_found(), "422": validation_response()}),
        );
        rename.insert("parameters".into(), id_parameter());
        rename.insert("requestBody".into(), body("PasskeyRename"));
        self.secured(rename)
    }

    /// `DELETE /auth/passkeys/{id}`.
    pub(crate) fn passkey_delete(&mut self) -> Value {
        let mut delete = operation(
            "passkeys_delete_auth_passkeys__id__delete",
            "Passkeys:Delete",
            &["auth"],
            json!({"204": {"description": "The passkey no longer signs in."}, "401": unauthorized(),
                   "404": not_found()}),
        );
        delete.insert("parameters".into(), id_parameter());
        self.secured(delete)
    }

    /// `POST /auth/passkeys/register/begin`.
    pub(crate) fn passkey_register_begin(&mut self) -> Value {
        self.passkey_schemas();
        let begin = operation(
            "passkeys_register_begin_auth_passkeys_register_begin_post",
            "Passkeys:Register Begin",
            &["auth"],
            json!({"200": ok("PasskeyRegistrationOptions", "Options for navigator.credentials.create(); the ceremony lasts 5 minutes and finishes once."),
                   "400": code_error("PASSKEY_LIMIT_REACHED"), "401": unauthorized()}),
        );
        self.secured(begin)
    }

    /// `POST /auth/passkeys/register/finish`.
    pub(crate) fn passkey_register_finish(&mut self) -> Value {
        self.passkey_schemas();
        let mut finish = operation(
            "passkeys_register_finish_auth_passkeys_register_finish_post",
            "Passkeys:Register Finish",
            &["auth"],
            json!({"201": ok("PasskeyRead", "The passkey is registered."),
                   "400": code_error("PASSKEY_CEREMONY_INVALID, PASSKEY_INVALID, PASSKEY_ALREADY_REGISTERED, PASSKEY_LIMIT_REACHED"),
                   "401": unauthorized(), "422": validation_response()}),
        );
        finish.insert("requestBody".into(), body("PasskeyRegistration"));
        self.secured(finish)
    }

    /// `POST /auth/passkeys/login/begin`.
    pub(crate) fn passkey_login_begin(&mut self) -> Value {
        self.passkey_schemas();
        Value::Object(operation(
            "passkeys_login_begin_auth_passkeys_login_begin_post",
            "Passkeys:Login Begin",
            &["auth"],
            json!({"200": ok("PasskeyLoginOptions", "Options for navigator.credentials.get() (no user name: the authenticator offers its passkeys); 429 while too many sign-ins wait.")}),
        ))
    }

    /// `POST /auth/passkeys/login/finish`; `backends` are the names a sign-in may answer
    /// through.
    pub(crate) fn passkey_login_finish(&mut self, backends: &[String]) -> Value {
        let string = |title: &str| json!({"type": "string", "title": title});
        let options = |title: &str, description: &str| {
            json!({"type": "object", "title": title, "description": description,
                   "additionalProperties": true})
        };
        let backend_names: Vec<Value> = backends
            .iter()
            .map(|name| Value::from(name.as_str()))
            .collect();
        self.schemas.insert("PasskeyLogin".into(), json!({
            "type": "object", "title": "PasskeyLogin", "required": ["ceremony_id", "credential"],
            "properties": {"ceremony_id": string("Ceremony Id"),
                           "credential": options("Credential", "The assertion's toJSON()."),
                           "backend": {"anyOf": [{"type": "string", "enum": backend_names}, {"type": "null"}], "title": "Backend",
                                       "description": "The backend whose login answer to give (default: the first)."}}}));

        let mut login_finish = operation(
            "passkeys_login_finish_auth_passkeys_login_finish_post",
            "Passkeys:Login Finish",
            &["auth"],
            json!({"200": {"description": "The backend's login answer (a cookie backend: 204 and the cookie).",
                           "content": json_content(schema_ref("BearerResponse"))},
                   "204": {"description": "A cookie backend's login: the auth cookie is set."},
                   "400": code_error("PASSKEY_CEREMONY_INVALID, PASSKEY_INVALID, LOGIN_BAD_CREDENTIALS, LOGIN_USER_NOT_VERIFIED"),
                   "422": validation_response()}),
        );
        login_finish.insert("description".into(), Value::from(
            "Signs the passkey's owner in. User verification is required, so no TOTP challenge follows."));
        login_finish.insert("requestBody".into(), body("PasskeyLogin"));
        Value::Object(login_finish)
    }
}

fn not_found() -> Value {
    error_response("No passkey of yours has this id.")
}
