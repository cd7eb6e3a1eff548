//! The superusers' routes beyond FastAPI Users (whose users ask for them): `GET /users` lists,
//! searches and filters the users a page at a time (in fastapi-pagination's shape: `items`,
//! `total`, `page`, `size`, `pages`); `POST /users` creates one, and without a password mails
//! a link to choose one; `POST /users/{id}/reset-password` mails a reset link.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use super::body::{read_body, read_json_body};
use crate::input::parse_create;
use crate::json::json_response;
use crate::store::UserQuery;
use crate::validation::RawBody;
use crate::validation::{ValidationErrors, ValidationItem};
use crate::{ApiError, AxumUsers};

/// Pages beyond this are refused: deep pages cost the database a scan of every user before
/// them (narrow the search instead).
pub(crate) const MAX_PAGE: u64 = 1000;
/// Users per page at most.
pub(crate) const MAX_SIZE: u64 = 100;
/// The longest e-mail fragment searched for (an e-mail address is at most 320 characters).
const MAX_EMAIL: usize = 320;

pub(crate) async fn list_users(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    users.caller(&parts, true).await?;
    let (query, page, size) = read_query(&users, parts.uri.query().unwrap_or(""))?;
    let found = users.manager().list(&query).await?;
    let items: Vec<Value> = found.users.iter().map(crate::User::to_read).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "items": items,
            "total": found.total,
            "page": page,
            "size": size,
            "pages": found.total.div_ceil(size),
        }),
    ))
}

/// The query string as a [`UserQuery`], with FastAPI's 422 items for what does not parse.
fn read_query(users: &AxumUsers, raw: &str) -> Result<(UserQuery, u64, u64), ApiError> {
    let mut errors = ValidationErrors::default();
    let mut query = UserQuery::default();
    let (mut page, mut size) = (1, 50);
    let schema = users.manager().schema();
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        let input = Value::from(value.as_ref());
        let item = |kind, msg: String| ValidationItem {
            kind,
            loc: vec![Value::from("query"), Value::from(name.as_ref())],
            msg,
            input: input.clone(),
            ctx: None,
        };
        // No stored text holds NUL, and PostgreSQL refuses it in a parameter.
        if value.contains('\0') {
            errors.push(item(
                "value_error",
                "Value error, NUL characters are not allowed".into(),
            ));
            continue;
        }
        match name.as_ref() {
            "page" | "size" => {
                let (low, high) = if name == "page" {
                    (1, MAX_PAGE)
                } else {
                    (1, MAX_SIZE)
                };
                let number = match value.trim().parse::<i128>() {
                    Ok(n) if n < i128::from(low) => Err(item(
                        "greater_than_equal",
                        format!("Input should be greater than or equal to {low}"),
                    )
                    .with_ctx(json!({ "ge": low }))),
                    Ok(n) if n > i128::from(high) => Err(item(
                        "less_than_equal",
                        format!("Input should be less than or equal to {high}"),
                    )
                    .with_ctx(json!({ "le": high }))),
                    // In range, so it fits.
                    Ok(n) => Ok(u64::try_from(n).unwrap_or(low)),
                    Err(_) => Err(item(
                        "int_parsing",
                        "Input should be a valid integer, unable to parse string as an integer"
                            .into(),
                    )),
                };
                match (number, name.as_ref()) {
                    (Ok(n), "page") => page = n,
                    (Ok(n), _) => size = n,
                    (Err(e), _) => errors.push(e),
                }
            }
            "email" if value.chars().count() > MAX_EMAIL => errors.push(
                item(
                    "string_too_long",
                    format!("String should have at most {MAX_EMAIL} characters"),
                )
                .with_ctx(json!({ "max_length": MAX_EMAIL })),
            ),
            "email" => query.email_contains = Some(value.into_owned()),
            "is_active" | "is_verified" | "is_superuser" => {
                match crate::FieldKind::Boolean.coerce(&name, &input) {
                    Ok(flag) => {
                        let flag = flag.as_bool();
                        match name.as_ref() {
                            "is_active" => query.is_active = flag,
                            "is_verified" => query.is_verified = flag,
                            _ => query.is_superuser = flag,
                        }
                    }
                    Err(mut e) => {
                        e.loc[0] = Value::from("query");
                        errors.push(e);
                    }
                }
            }
            "created_after" | "created_before" => {
                match time::OffsetDateTime::parse(
                    value.trim(),
                    &time::format_description::well_known::Rfc3339,
                ) {
                    Ok(at) if name == "created_after" => {
                        query.created_after = Some(at.unix_timestamp());
                    }
                    Ok(at) => query.created_before = Some(at.unix_timestamp()),
                    Err(_) => errors.push(item(
                        "datetime_from_date_parsing",
                        "Input should be a valid datetime (RFC 3339)".into(),
                    )),
                }
            }
            "sort" => match value.as_ref() {
                "email" => query.descending = false,
                "-email" => query.descending = true,
                _ => errors.push(
                    item(
                        "literal_error",
                        "Input should be 'email' or '-email'".into(),
                    )
                    .with_ctx(json!({ "expected": "'email' or '-email'" })),
                ),
            },
            other => {
                // A custom field filters by equality; other names are ignored, as FastAPI does.
                if let Some(field) = schema.fields().iter().find(|f| f.name == other) {
                    match field.kind.coerce(&field.name, &input) {
                        Ok(value) => {
                            query.fields.insert(field.name.clone(), value);
                        }
                        Err(mut e) => {
                            e.loc[0] = Value::from("query");
                            errors.push(e);
                        }
                    }
                }
            }
        }
    }
    errors.into_result()?;
    query = query.page(page, size);
    Ok((query, page, size))
}

/// `POST /users`: a user with the flags given (`is_active`, `is_superuser`, `is_verified`).
/// Without a `password` (absent or null) the user gets one nobody knows and a reset e-mail to
/// choose their own (inactive users get none, as with forgot-password).
pub(crate) async fn create_user(
    State(users): State<AxumUsers>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let admin = users.caller(&parts, true).await?;
    let bytes = read_body(&users, body).await?;
    let mut raw = read_json_body(&parts.headers, &bytes)?;
    let mut invite = false;
    if let RawBody::Json(Value::Object(fields)) = &mut raw {
        if fields.get("password").is_none_or(Value::is_null) {
            fields.insert(
                "password".into(),
                Value::from(crate::strategy::opaque_token()),
            );
            invite = true;
        }
    }
    let input = parse_create(raw, users.manager().schema())?;
    let user = users
        .manager()
        .create(input, false, Some(&parts))
        .await
        .map_err(super::register::register_error)?;
    users
        .record(
            "user.created",
            Some(user.id),
            Some(admin.id),
            &parts,
            json!({ "invited": invite }),
        )
        .await;
    let response = json_response(StatusCode::CREATED, &user.to_read());
    if invite {
        let job = users.clone();
        users.spawn_background(async move { job.send_reset(&user, Some(&parts)).await });
    }
    Ok(response)
}

/// `POST /users/{id}/reset-password`: mails the user a reset link, after the answer (`202`,
/// as forgot-password; an inactive user gets none); `404` when there is no such user.
pub(crate) async fn send_reset_password(
    State(users): State<AxumUsers>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let (admin, user) = users.named_user_and_caller(&parts, path).await?;
    users
        .record(
            "password.reset_requested",
            Some(user.id),
            Some(admin.id),
            &parts,
            json!({}),
        )
        .await;
    let job = users.clone();
    users.spawn_background(async move { job.send_reset(&user, Some(&parts)).await });
    Ok(json_response(StatusCode::ACCEPTED, &Value::Null))
}
