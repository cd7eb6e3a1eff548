//! What the examples' tests share: each example's app is served on a real loopback port as its
//! `main` serves it (with connect info, so the rate limits count per client), and driven over
//! HTTP as a client would.

use std::net::SocketAddr;

use axum::Router;
use serde_json::Value;

/// An app served on `127.0.0.1:<free port>` until the test ends.
#[derive(Debug)]
pub struct Served {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: reqwest::Client,
}

/// Serves `app` as the examples' `main` does.
pub async fn serve(app: Router) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("a local address");
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.expect("the server runs");
    });
    Served {
        base: format!("http://{address}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
    }
}

/// An answer: status and body (JSON when it parses, else the text as a JSON string).
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Value,
    /// The `set-cookie` headers.
    pub cookies: Vec<String>,
}

impl Served {
    /// Sends a request with an optional Bearer token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json: Option<Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(json) = json {
            request = request.json(&json);
        }
        reply(request.send().await.expect("the server answers")).await
    }

    /// A form POST (the login form).
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        reply(request.send().await.expect("the server answers")).await
    }

    /// A GET with extra headers (a cookie, say).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send().await.expect("the server answers")).await
    }

    /// Logs in with the Bearer backend at `path` and answers the access token.
    pub async fn login(&self, path: &str, email: &str, password: &str) -> String {
        let reply = self
            .form(path, &[("username", email), ("password", password)])
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        cookies,
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
