//! One request, owned whole so that every attempt rebuilds it: method, URL, extra headers, body,
//! and what the caller says about it (replayable, authenticated, statuses it accepts).

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde_json::Value;

/// A request body, owned so that it can be sent again.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A JSON document (`content-type: application/json`).
    Json(Value),
    /// Raw bytes with their content type.
    Bytes {
        /// The bytes sent.
        bytes: Vec<u8>,
        /// Their `content-type`.
        content_type: String,
    },
    /// `application/x-www-form-urlencoded` fields.
    Form(Vec<(String, String)>),
    /// `multipart/form-data` parts.
    Multipart(Vec<Part>),
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub struct Part {
    name: String,
    content: PartContent,
}

#[derive(Debug, Clone)]
enum PartContent {
    Text(String),
    File {
        bytes: Vec<u8>,
        file_name: String,
        content_type: String,
    },
}

impl Part {
    /// A text field `name`.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Part {
            name: name.into(),
            content: PartContent::Text(value.into()),
        }
    }

    /// A file field `name`: its bytes, file name and content type.
    pub fn file(
        name: impl Into<String>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
        bytes: Vec<u8>,
    ) -> Self {
        Part {
            name: name.into(),
            content: PartContent::File {
                bytes,
                file_name: file_name.into(),
                content_type: content_type.into(),
            },
        }
    }

    fn to_reqwest(&self) -> reqwest::multipart::Part {
        match &self.content {
            PartContent::Text(text) => reqwest::multipart::Part::text(text.clone()),
            PartContent::File {
                bytes,
                file_name,
                content_type,
            } => {
                let part =
                    || reqwest::multipart::Part::bytes(bytes.clone()).file_name(file_name.clone());
                part().mime_str(content_type).unwrap_or_else(|_| part())
            }
        }
    }
}

impl Body {
    /// Puts this body on `builder` (a copy: the body stays for the next attempt).
    pub(crate) fn attach(&self, builder: RequestBuilder) -> RequestBuilder {
        match self {
            Body::Empty => builder,
            Body::Json(value) => builder.json(value),
            Body::Bytes {
                bytes,
                content_type,
            } => builder
                .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                .body(bytes.clone()),
            Body::Form(fields) => builder.form(fields),
            Body::Multipart(parts) => {
                let form = parts
                    .iter()
                    .fold(reqwest::multipart::Form::new(), |form, part| {
                        form.part(part.name.clone(), part.to_reqwest())
                    });
                builder.multipart(form)
            }
        }
    }
}

/// One API call: what it is for (in messages), how to send it, and how the client may treat it.
///
/// GET, HEAD, OPTIONS, PUT and DELETE are replayable by default; POST and PATCH only when
/// [`HttpRequest::replayable`] says so. Requests are authenticated unless
/// [`HttpRequest::anonymous`] is called.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub(crate) operation: &'static str,
    pub(crate) resource: String,
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) replayable: bool,
    pub(crate) authenticated: bool,
    pub(crate) accept: Vec<StatusCode>,
    /// A problem found while building the request, reported by the client without sending it.
    pub(crate) problem: Option<String>,
    /// Values the body carries that a reply quoted in an error must not show.
    pub(crate) hidden: Vec<String>,
}

impl HttpRequest {
    /// `method url`, named `operation` on `resource` in errors ("start export" on "acme").
    pub fn new(
        method: Method,
        url: impl Into<String>,
        operation: &'static str,
        resource: impl Into<String>,
    ) -> Self {
        let replayable = matches!(
            method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
        );
        HttpRequest {
            operation,
            resource: resource.into(),
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: Body::Empty,
            replayable,
            authenticated: true,
            accept: Vec::new(),
            problem: None,
            hidden: Vec::new(),
        }
    }

    /// A GET.
    pub fn get(
        url: impl Into<String>,
        operation: &'static str,
        resource: impl Into<String>,
    ) -> Self {
        HttpRequest::new(Method::GET, url, operation, resource)
    }

    /// A POST (not replayable unless marked so).
    pub fn post(
        url: impl Into<String>,
        operation: &'static str,
        resource: impl Into<String>,
    ) -> Self {
        HttpRequest::new(Method::POST, url, operation, resource)
    }

    /// A PUT.
    pub fn put(
        url: impl Into<String>,
        operation: &'static str,
        resource: impl Into<String>,
    ) -> Self {
        HttpRequest::new(Method::PUT, url, operation, resource)
    }

    /// A PATCH (not replayable unless marked so).
    pub fn patch(
        url: impl Into<String>,
        operation: &'static str,
        resource: impl Into<String>,
    ) -> Self {
        HttpRequest::new(Method::PATCH, url, operation, resource)
    }

    /// A DELETE.
    pub fn delete(
        url: impl Into<String>,
        operation: &'static str,
        resource: impl Into<String>,
    ) -> Self {
        HttpRequest::new(Method::DELETE, url, operation, resource)
    }

    /// Sends `body`, serialised to JSON.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_value(body) {
            Ok(value) => self.body = Body::Json(value),
            Err(e) => self.problem = Some(format!("the request body is not JSON: {e}")),
        }
        self
    }

    /// Sends `body`.
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Sends `bytes` as `content_type`.
    pub fn bytes(self, bytes: Vec<u8>, content_type: impl Into<String>) -> Self {
        self.body(Body::Bytes {
            bytes,
            content_type: content_type.into(),
        })
    }

    /// Sends a multipart form of `parts`.
    pub fn multipart(self, parts: Vec<Part>) -> Self {
        self.body(Body::Multipart(parts))
    }

    /// Adds a (non-secret) header; credentials come from the client's [`super::Auth`] only.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            _ => self.problem = Some(format!("header {name} is not valid")),
        }
        self
    }

    /// Values of the body (credentials) blanked out of any reply quoted in an error.
    pub fn hiding(mut self, values: Vec<String>) -> Self {
        self.hidden = values;
        self
    }

    /// Whether the request may be sent again blind after it was sent and its outcome is unknown
    /// (a timeout or 5xx): say `true` for a POST only when repeating it changes nothing.
    pub fn replayable(mut self, replayable: bool) -> Self {
        self.replayable = replayable;
        self
    }

    /// Sends no credentials (a pre-signed download, a public endpoint).
    pub fn anonymous(mut self) -> Self {
        self.authenticated = false;
        self
    }

    /// Hands these non-2xx statuses back as replies instead of errors (a 404 meaning "absent",
    /// a 400 carrying validation errors).
    pub fn accept(mut self, statuses: &[StatusCode]) -> Self {
        self.accept.extend_from_slice(statuses);
        self
    }

    /// The operation, for the caller's own messages.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The resource, for the caller's own messages.
    pub fn resource(&self) -> &str {
        &self.resource
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_methods_replay_by_default() {
        let url = "https://h/x";
        assert!(HttpRequest::get(url, "read", "r").replayable);
        assert!(HttpRequest::put(url, "write", "r").replayable);
        assert!(HttpRequest::delete(url, "delete", "r").replayable);
        assert!(!HttpRequest::post(url, "start", "r").replayable);
        assert!(!HttpRequest::patch(url, "change", "r").replayable);
        assert!(
            HttpRequest::post(url, "look up", "r")
                .replayable(true)
                .replayable
        );
    }

    #[test]
    fn a_bad_header_is_reported_not_sent() {
        let request = HttpRequest::get("https://h/x", "read", "r").header("x-name", "a\nb");
        assert!(request.problem.is_some());
        assert!(request.headers.is_empty());
    }
}
