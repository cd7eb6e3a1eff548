//! The document's entries for the second factor (beyond FastAPI Users): enrolment, the login
//! challenge's completion, a superuser's reset, and the challenge answer of every login.

use serde_json::{json, Value};

use super::document::{
    body, code_error, forbidden, id_parameter, json_content, missing, ok, operation, schema_ref,
    unauthorized, validation_response, Document,
};

impl Document {
    /// The schemas the second factor's routes name.
    fn mfa_schemas(&mut self) {
        let string = |title: &str| json!({"type": "string", "title": title});
        self.schemas.insert("MfaStatus".into(), json!({
            "type": "object", "title": "MfaStatus", "required": ["totp_enabled", "recovery_codes_left"],
            "properties": {"totp_enabled": {"type": "boolean", "title": "Totp Enabled"},
                           "recovery_codes_left": {"type": "integer", "minimum": 0, "title": "Recovery Codes Left"}}}));
        self.schemas.insert("TotpSetup".into(), json!({
            "type": "object", "title": "TotpSetup", "required": ["secret", "otpauth_url", "qr_svg"],
            "properties": {"secret": string("Secret"), "otpauth_url": string("Otpauth Url"),
                           "qr_svg": {"type": "string", "title": "Qr Svg", "description": "The otpauth URL as a QR code, an SVG document."}}}));
        self.schemas.insert("RecoveryCodes".into(), json!({
            "type": "object", "title": "RecoveryCodes", "required": ["recovery_codes"],
            "properties": {"recovery_codes": {"type": "array", "items": {"type": "string"}, "title": "Recovery Codes",
                           "description": "Single-use codes, shown this once."}}}));
        self.schemas.insert(
            "TotpCode".into(),
            json!({
            "type": "object", "title": "TotpCode", "required": ["code"],
            "properties": {"code": string("Code")}}),
        );
        self.schemas.insert("MfaProof".into(), json!({
            "type": "object", "title": "MfaProof",
            "description": "A current code (or a recovery code), or the password.",
            "properties": {"code": string("Code"), "password": {"type": "string", "format": "password", "title": "Password"}}}));
        self.schemas.insert("MfaVerify".into(), json!({
            "type": "object", "title": "MfaVerify", "required": ["mfa_token", "code"],
            "properties": {"mfa_token": string("Mfa Token"),
                           "code": {"type": "string", "title": "Code", "description": "The current TOTP code, or a recovery code."}}}));
        self.schemas.insert("MfaRequired".into(), json!({
            "type": "object", "title": "MfaRequired", "required": ["detail", "mfa_token"],
            "properties": {"detail": {"type": "string", "enum": ["LOGIN_MFA_REQUIRED"], "title": "Detail"},
                           "mfa_token": string("Mfa Token")}}));
    }

    /// The challenge every login may answer for a user with a second factor.
    pub(super) fn mfa_required(&mut self) -> Value {
        self.mfa_schemas();
        json!({"description": "The user has a second factor: complete the login at /auth/mfa/verify.",
            "content": json_content(schema_ref("MfaRequired"))})
    }

    /// `GET /auth/mfa`.
    pub(crate) fn mfa_status(&mut self) -> Value {
        self.mfa_schemas();
        let status = operation(
            "mfa_status_auth_mfa_get",
            "Mfa:Status",
            &["auth"],
            json!({"200": ok("MfaStatus", "Successful Response"), "401": unauthorized()}),
        );
        self.secured(status)
    }

    /// `POST /auth/mfa/totp/setup`.
    pub(crate) fn totp_setup(&mut self) -> Value {
        self.mfa_schemas();
        let setup = operation(
            "mfa_totp_setup_auth_mfa_totp_setup_post",
            "Mfa:Totp Setup",
            &["auth"],
            json!({"200": ok("TotpSetup", "A new secret, in force once `enable` confirms it with a code."),
                   "400": code_error("MFA_ALREADY_ENABLED"), "401": unauthorized()}),
        );
        self.secured(setup)
    }

    /// `POST /auth/mfa/totp/enable`.
    pub(crate) fn totp_enable(&mut self) -> Value {
        self.mfa_schemas();
        let mut enable = operation(
            "mfa_totp_enable_auth_mfa_totp_enable_post",
            "Mfa:Totp Enable",
            &["auth"],
            json!({"200": ok("RecoveryCodes", "TOTP is on; the recovery codes, shown once."),
                   "400": code_error("MFA_NOT_SET_UP, MFA_ALREADY_ENABLED, MFA_INVALID_CODE"),
                   "401": unauthorized(), "422": validation_response()}),
        );
        enable.insert("requestBody".into(), body("TotpCode"));
        self.secured(enable)
    }

    /// `POST /auth/mfa/totp/disable`.
    pub(crate) fn totp_disable(&mut self) -> Value {
        self.mfa_schemas();
        let mut disable = operation(
            "mfa_totp_disable_auth_mfa_totp_disable_post",
            "Mfa:Totp Disable",
            &["auth"],
            json!({"204": {"description": "TOTP is off, its recovery codes void."},
                   "400": code_error("MFA_NOT_ENABLED, MFA_INVALID_CODE"),
                   "401": unauthorized(), "422": validation_response()}),
        );
        disable.insert("requestBody".into(), body("MfaProof"));
        self.secured(disable)
    }

    /// `POST /auth/mfa/recovery-codes`.
    pub(crate) fn recovery_codes(&mut self) -> Value {
        self.mfa_schemas();
        let mut regenerate = operation(
            "mfa_recovery_codes_auth_mfa_recovery_codes_post",
            "Mfa:Recovery Codes",
            &["auth"],
            json!({"200": ok("RecoveryCodes", "New recovery codes, shown once; the old ones are void."),
                   "400": code_error("MFA_NOT_ENABLED, MFA_INVALID_CODE"),
                   "401": unauthorized(), "422": validation_response()}),
        );
        regenerate.insert("requestBody".into(), body("MfaProof"));
        self.secured(regenerate)
    }

    /// `POST /auth/mfa/verify`: the login challenge's completion.
    pub(crate) fn mfa_verify(&mut self) -> Value {
        self.mfa_schemas();
        let mut verify = operation(
            "mfa_verify_auth_mfa_verify_post",
            "Mfa:Verify",
            &["auth"],
            json!({"200": {"description": "The login's answer, as the backend's login gives it (a cookie backend: 204 and the cookie).",
                           "content": json_content(schema_ref("BearerResponse"))},
                   "204": {"description": "A cookie backend's login: the auth cookie is set."},
                   "400": code_error("MFA_TOKEN_INVALID, MFA_INVALID_CODE"),
                   "422": validation_response()}),
        );
        verify.insert("description".into(), Value::from(
            "Completes a login that answered LOGIN_MFA_REQUIRED, through the same backend. Each \
             code works once; five wrong codes end the token (log in again)."));
        verify.insert("requestBody".into(), body("MfaVerify"));
        Value::Object(verify)
    }

    /// A superuser's `DELETE /users/{id}/mfa`.
    pub(crate) fn reset_user_mfa(&mut self) -> Value {
        let mut reset = operation(
            "users_reset_user_mfa_users__id__mfa_delete",
            "Users:Reset User Mfa",
            &["users"],
            json!({"204": {"description": "The user's second factor is removed."},
                   "401": unauthorized(), "403": forbidden(), "404": missing()}),
        );
        reset.insert("parameters".into(), id_parameter());
        self.secured(reset)
    }
}
