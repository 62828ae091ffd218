//! http_layer: the HTTP layer every connector uses, against a small local server started by each
//! test on 127.0.0.1 that counts requests and answers as scripted: throttling with `Retry-After`,
//! server errors, blind replay only of replayable requests, the shared OAuth token cache and its
//! renewal on 401, static tokens never replayed, credentials bound to hosts, and errors that never
//! carry a secret.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use reqwest::Url;
use serde_json::{Value, json};
use shared::TaskError;
use shared::http::{
    Auth, HostBinding, HttpClient, HttpRequest, HttpSettings, OAuthClientCredentials, Part,
    RetryPolicy, SecretString, StaticAuth,
};

/// The client secret the token endpoint accepts.
const CLIENT_SECRET: &str = "client-secret-0f9e";
/// A static bearer token.
const BEARER: &str = "bearer-token-7c1d";

/// A scripted reply.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: json!({"message": format!("scripted {status}")}).to_string(),
            delay: Duration::ZERO,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: impl Into<String>) -> Reply {
        self.body = body.into();
        self
    }

    fn slow(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request the server received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    body: String,
}

#[derive(Default)]
struct World {
    scripts: HashMap<String, VecDeque<Reply>>,
    seen: Vec<Seen>,
    tokens_issued: u32,
}

/// The local server: `/token` issues `token-<n>` for [`CLIENT_SECRET`]; any other path answers
/// its next scripted reply, or 200 with `{"ok": true}`.
#[derive(Clone, Default)]
struct Server {
    world: Arc<Mutex<World>>,
    origin: String,
}

impl Server {
    async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let server = Server {
            world: Arc::default(),
            origin,
        };
        let app = Router::new().fallback(answer).with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Scripts the next replies of `path`.
    fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        let mut world = self.world.lock().unwrap();
        world
            .scripts
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    /// Every request received at `path`.
    fn seen(&self, path: &str) -> Vec<Seen> {
        let world = self.world.lock().unwrap();
        world
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    fn count(&self) -> usize {
        self.world.lock().unwrap().seen.len()
    }
}

async fn answer(
    State(server): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body = String::from_utf8_lossy(&body).to_string();
    let (scripted, token) = {
        let mut world = server.world.lock().unwrap();
        world.seen.push(Seen {
            method: method.to_string(),
            path: path.clone(),
            authorization: headers
                .get("authorization")
                .map(|v| v.to_str().unwrap_or("").to_string()),
            body: body.clone(),
        });
        let scripted = world.scripts.get_mut(&path).and_then(VecDeque::pop_front);
        let token = (scripted.is_none()
            && path == "/token"
            && body.contains(&format!("client_secret={CLIENT_SECRET}")))
        .then(|| {
            world.tokens_issued += 1;
            format!("token-{}", world.tokens_issued)
        });
        (scripted, token)
    };
    let reply = match (scripted, path.as_str()) {
        (Some(reply), _) => reply,
        (None, "/token") => match token {
            Some(token) => Reply::status(200)
                .body(json!({"access_token": token, "expires_in": 300}).to_string()),
            None => Reply::status(401).body(json!({"error": "unauthorized_client"}).to_string()),
        },
        (None, _) => Reply::status(200).body(json!({"ok": true}).to_string()),
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap(),
        [("content-type", "application/json")],
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// 3 attempts, 10 ms backoff, waits up to 2 s for a 429.
fn fast() -> HttpSettings {
    HttpSettings::new(Duration::from_secs(5)).with_retry(RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_wait: Duration::from_secs(2),
    })
}

const SECRET_NAME: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/sesam";
const FIELD: &str = "target.sesam.auth_secret_arn";

/// A binding with `hosts`, for a platform whose own domains are `*.sesam.cloud`.
fn binding(hosts: &[&str]) -> HostBinding {
    HostBinding::new(
        SECRET_NAME,
        FIELD,
        hosts.iter().map(|h| h.to_string()).collect(),
        &["*.sesam.cloud"],
    )
}

fn client(settings: HttpSettings, auth: Option<Arc<dyn Auth>>, hosts: &[&str]) -> HttpClient {
    HttpClient::new(settings, auth, binding(hosts), "Sesam").unwrap()
}

fn bearer() -> Arc<dyn Auth> {
    Arc::new(StaticAuth::bearer(&SecretString::from(BEARER)))
}

fn oauth(server: &Server, secret: &str) -> Arc<dyn Auth> {
    Arc::new(
        OAuthClientCredentials::new(
            &server.url("/token"),
            "token_url",
            "ferry",
            SecretString::from(secret),
        )
        .unwrap(),
    )
}

fn get(server: &Server, path: &str) -> HttpRequest {
    HttpRequest::get(server.url(path), "read pipe", "node-1")
}

fn post(server: &Server, path: &str) -> HttpRequest {
    HttpRequest::post(server.url(path), "start job", "node-1").json(&json!({"job": 1}))
}

/// `Display` and `Debug` of `err` hold none of the secrets.
fn assert_no_secret(err: &TaskError) {
    let text = format!("{err} {err:?}");
    for secret in [CLIENT_SECRET, BEARER, "token-1", "token-2", "token-3"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn a_throttled_request_waits_for_retry_after_then_succeeds() {
    let server = Server::start().await;
    server.script("/pipes", [Reply::status(429).header("retry-after", "1")]);
    let client = client(fast(), Some(bearer()), &[]);

    let started = Instant::now();
    let value: Value = client.json(get(&server, "/pipes")).await.unwrap();

    assert_eq!(value, json!({"ok": true}));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the 1 s asked"
    );
    assert_eq!(server.seen("/pipes").len(), 2);
}

#[tokio::test]
async fn a_wait_beyond_max_wait_is_throttled_with_the_seconds_carried() {
    let server = Server::start().await;
    let client = client(fast(), Some(bearer()), &[]);
    server.script("/pipes", [Reply::status(429).header("retry-after", "30")]);

    let started = Instant::now();
    let err = client.send(get(&server, "/pipes")).await.unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(2), "no wait inside");
    assert_eq!(err.error_type(), "Throttled", "{err}");
    assert_eq!(err.retry_after_seconds(), Some(30));
    let message = err.to_string();
    assert!(message.contains("HTTP 429"), "{message}");
    assert!(message.contains("wait 30 s"), "{message}");
    assert_eq!(server.seen("/pipes").len(), 1);

    // An HTTP date, and x-retry-after.
    let at = SystemTime::now() + Duration::from_secs(120);
    server.script(
        "/dated",
        [Reply::status(429).header("retry-after", httpdate(at))],
    );
    let err = client.send(get(&server, "/dated")).await.unwrap_err();
    let seconds = err.retry_after_seconds().unwrap();
    assert!((110..=121).contains(&seconds), "{seconds}");
    server.script(
        "/custom",
        [Reply::status(429).header("x-retry-after", "45")],
    );
    let err = client.send(get(&server, "/custom")).await.unwrap_err();
    assert_eq!(err.retry_after_seconds(), Some(45));
}

/// `at` as an IMF-fixdate.
fn httpdate(at: SystemTime) -> String {
    let seconds = at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        months[(month - 1) as usize]
    )
}

#[tokio::test]
async fn server_errors_are_retried_then_surface_as_retryable() {
    let server = Server::start().await;
    let client = client(fast(), Some(bearer()), &[]);
    server.script("/once", [Reply::status(503)]);
    assert!(client.send(get(&server, "/once")).await.is_ok());
    assert_eq!(server.seen("/once").len(), 2);

    server.script("/down", vec![Reply::status(500); 5]);
    let err = client.send(get(&server, "/down")).await.unwrap_err();

    assert_eq!(err.error_type(), "Retryable", "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("Sesam read pipe on node-1 failed: HTTP 500: scripted 500"),
        "{message}"
    );
    assert_eq!(server.seen("/down").len(), 3, "three attempts");
}

#[tokio::test]
async fn a_post_not_marked_replayable_is_sent_once_and_its_outcome_unknown() {
    let server = Server::start().await;
    let quick = client(fast(), Some(bearer()), &[]);
    server.script("/jobs", [Reply::status(500)]);

    let err = quick.send(post(&server, "/jobs")).await.unwrap_err();

    assert_eq!(err.error_type(), "Retryable", "{err}");
    let message = err.to_string();
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(message.contains("the outcome is unknown"), "{message}");
    assert_eq!(server.seen("/jobs").len(), 1, "never sent again blind");

    // No answer before the timeout: the same.
    let slow = client(
        HttpSettings::new(Duration::from_millis(500)).with_retry(fast().retry),
        Some(bearer()),
        &[],
    );
    server.script(
        "/slow",
        [Reply::status(200).slow(Duration::from_millis(1500))],
    );
    let err = slow.send(post(&server, "/slow")).await.unwrap_err();
    let message = err.to_string();
    assert_eq!(err.error_type(), "Retryable", "{err}");
    assert!(
        message.contains("no answer before the request timeout"),
        "{message}"
    );
    assert!(message.contains("the outcome is unknown"), "{message}");
    assert!(!message.contains(&server.origin), "no URL: {message}");
    assert_eq!(server.seen("/slow").len(), 1);
}

#[tokio::test]
async fn a_post_marked_replayable_is_retried_with_its_body() {
    let server = Server::start().await;
    let client = client(fast(), Some(bearer()), &[]);
    server.script("/lookup", [Reply::status(502)]);

    let value: Value = client
        .json(post(&server, "/lookup").replayable(true))
        .await
        .unwrap();

    assert_eq!(value, json!({"ok": true}));
    let seen = server.seen("/lookup");
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.method == "POST" && s.body == r#"{"job":1}"#)
    );
}

#[tokio::test]
async fn oauth_tokens_are_shared_by_clients_and_renewed_once_on_401() {
    let server = Server::start().await;
    let first = client(fast(), Some(oauth(&server, CLIENT_SECRET)), &[]);
    // Another client of the same credentials: a later invocation of a warm function.
    let second = client(fast(), Some(oauth(&server, CLIENT_SECRET)), &[]);
    first.send(get(&server, "/a")).await.unwrap();
    second.send(get(&server, "/a")).await.unwrap();
    assert_eq!(server.seen("/token").len(), 1, "one token for two clients");

    // A refused token: a new one, and the multipart upload sent again whole.
    server.script("/upload", [Reply::status(401)]);
    let upload = HttpRequest::post(server.url("/upload"), "upload", "node-1").multipart(vec![
        Part::file("file", "p.zip", "application/zip", b"PK-package".to_vec()),
        Part::text("meta", "{}"),
    ]);
    first.send(upload).await.unwrap();

    let seen = server.seen("/upload");
    let auth: Vec<&str> = seen
        .iter()
        .map(|s| s.authorization.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(auth, ["Bearer token-1", "Bearer token-2"]);
    assert!(seen.iter().all(|s| s.body.contains("PK-package")));
    assert_eq!(server.seen("/token").len(), 2);
    second.send(get(&server, "/a")).await.unwrap();
    assert_eq!(
        server.seen("/a").last().unwrap().authorization.as_deref(),
        Some("Bearer token-2"),
        "the other client uses the renewed token"
    );

    // Refused again with a fresh token: the credentials are wrong, not stale.
    server.script("/b", [Reply::status(401), Reply::status(401)]);
    let err = first.send(get(&server, "/b")).await.unwrap_err();
    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    assert_eq!(server.seen("/b").len(), 2, "one renewal only");
    assert_eq!(server.seen("/token").len(), 3);
    assert_no_secret(&err);

    // A wrong client secret: Unauthorized, never asked twice, no API call.
    let wrong = client(fast(), Some(oauth(&server, "not-the-secret")), &[]);
    let err = wrong.send(get(&server, "/c")).await.unwrap_err();
    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    assert!(err.to_string().contains("client 'ferry'"), "{err}");
    assert!(!format!("{err} {err:?}").contains("not-the-secret"));
    assert!(server.seen("/c").is_empty());
    assert_eq!(server.seen("/token").len(), 4);
}

#[tokio::test]
async fn a_refused_static_token_is_not_replayed() {
    let server = Server::start().await;
    let client = client(fast(), Some(bearer()), &[]);
    server.script(
        "/pipes",
        [Reply::status(401).body(format!("token Bearer {BEARER} is not valid"))],
    );

    let err = client.send(get(&server, "/pipes")).await.unwrap_err();

    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    assert_eq!(server.seen("/pipes").len(), 1);
    assert_eq!(
        server.seen("/pipes")[0].authorization.as_deref(),
        Some(format!("Bearer {BEARER}").as_str())
    );
    assert_no_secret(&err);
}

#[tokio::test]
async fn credentials_go_only_to_hosts_their_secret_is_bound_to() {
    let server = Server::start().await;

    // Bound elsewhere: refused before anything reaches the server.
    let bound = client(fast(), Some(bearer()), &["datahub-1.sesam.cloud"]);
    let err = bound.send(get(&server, "/pipes")).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "invalid input (1 problem): {FIELD}: secret '{SECRET_NAME}' is not bound to host '127.0.0.1' (it may be sent to: datahub-1.sesam.cloud); add the host to the secret's \"hosts\""
        )
    );
    assert!(bound.check_host(&server.url("/")).is_err());
    // The token endpoint of OAuth credentials is checked when the client is built.
    let err = HttpClient::new(
        fast(),
        Some(oauth(&server, CLIENT_SECRET)),
        binding(&["datahub-1.sesam.cloud"]),
        "Sesam",
    )
    .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert_no_secret(&err);
    assert_eq!(server.count(), 0, "nothing was sent");

    // A request without credentials may go anywhere, and carries none.
    bound
        .send(get(&server, "/public").anonymous())
        .await
        .unwrap();
    assert_eq!(server.seen("/public")[0].authorization, None);

    // A secret naming no hosts: the platform's domains and loopback.
    let unbound = client(fast(), Some(bearer()), &[]);
    unbound.send(get(&server, "/pipes")).await.unwrap();
    assert_eq!(server.seen("/pipes").len(), 1);
    let url = |text: &str| Url::parse(text).unwrap();
    let platform = binding(&[]);
    assert!(platform.allows(&url("https://datahub-9.sesam.cloud/api")));
    assert!(!platform.allows(&url("https://sesam.cloud.evil.example/api")));
    assert!(!platform.allows(&url("https://evil.example/api")));

    // Wildcards cover subdomains, not the domain itself, over https.
    let wildcard = binding(&["*.example.org"]);
    assert!(wildcard.allows(&url("https://node.example.org/api")));
    assert!(wildcard.allows(&url("https://a.node.example.org/api")));
    assert!(!wildcard.allows(&url("https://example.org/api")));
    assert!(!wildcard.allows(&url("http://node.example.org/api")));
    assert!(!wildcard.allows(&url("https://node.example.org.evil.example/api")));
}

#[tokio::test]
async fn accepted_statuses_are_replies_and_others_are_classified() {
    let server = Server::start().await;
    let client = client(fast(), Some(bearer()), &[]);
    server.script("/absent", [Reply::status(404), Reply::status(404)]);
    let response = client
        .send(get(&server, "/absent").accept(&[reqwest::StatusCode::NOT_FOUND]))
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND);
    let err = client.send(get(&server, "/absent")).await.unwrap_err();
    assert_eq!(err.error_type(), "NotFound", "{err}");

    let long = "x".repeat(1000);
    server.script("/bad", [Reply::status(400).body(long), Reply::status(409)]);
    let err = client.send(get(&server, "/bad")).await.unwrap_err();
    assert_eq!(err.error_type(), "ApiRejected", "{err}");
    assert!(err.to_string().len() < 400, "an excerpt: {err}");
    let err = client.send(get(&server, "/bad")).await.unwrap_err();
    assert_eq!(err.error_type(), "Conflict", "{err}");
    assert_eq!(server.seen("/bad").len(), 2, "4xx are not retried");
}

#[tokio::test]
async fn no_error_carries_a_secret() {
    let server = Server::start().await;
    let keys: Arc<dyn Auth> = Arc::new(StaticAuth::header(
        "x-api-key",
        SecretString::from(CLIENT_SECRET),
    ));
    let client = client(fast(), Some(keys), &[]);
    let echo = format!("{{\"message\": \"key {CLIENT_SECRET} refused\"}}");
    server.script(
        "/echo",
        [
            Reply::status(403).body(echo.clone()),
            Reply::status(500).body(echo.clone()),
            Reply::status(500).body(echo.clone()),
            Reply::status(500).body(echo),
        ],
    );
    let refused = client.send(get(&server, "/echo")).await.unwrap_err();
    assert_eq!(refused.error_type(), "Unauthorized");
    let failed = client.send(get(&server, "/echo")).await.unwrap_err();
    assert_eq!(failed.error_type(), "Retryable");
    for err in [&refused, &failed] {
        assert_no_secret(err);
        assert!(err.to_string().contains("<redacted>"), "{err}");
    }
    let bearer = StaticAuth::bearer(&SecretString::from(BEARER));
    assert!(!format!("{bearer:?}").contains(BEARER));
    let oauth = oauth(&server, CLIENT_SECRET);
    assert!(!format!("{oauth:?}").contains(CLIENT_SECRET));
}
