//! `GET /users`: superusers list, search and filter the users, a page at a time. Beyond
//! FastAPI Users (whose users ask for it); the page has fastapi-pagination's shape
//! (`items`, `total`, `page`, `size`, `pages`), familiar to FastAPI users.

use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use crate::json::json_response;
use crate::store::{UserQuery, UserStore as _};
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
    let found = users.manager().store.list(&query).await?;
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
