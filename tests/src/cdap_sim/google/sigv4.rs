//! AWS Signature Version 4 as workload identity federation uses it: the signed
//! `GetCallerIdentity` request an AWS workload presents to Google STS as its subject token.
//! The simulator recomputes the signature to check it; [`subject_token`] builds one the way
//! google-cloud-auth's AWS source does (JSON `{url, method, headers: [{key, value}], body}`,
//! URL-encoded), so tests can present a correctly or wrongly signed request.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The signing algorithm named in the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &str) -> String {
    hex(&Sha256::digest(data.as_bytes()))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The key derived from a secret for one day, region and service.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let chain = [date, region, service, "aws4_request"];
    chain
        .iter()
        .fold(format!("AWS4{secret}").into_bytes(), |key, part| {
            hmac(&key, part)
        })
}

/// `text` encoded as `application/x-www-form-urlencoded` does (space as `+`).
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `text` decoded from `application/x-www-form-urlencoded`; `None` when not valid UTF-8 or a
/// `%` escape is malformed.
pub fn form_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let pair = [input.next()?, input.next()?];
                let digits = std::str::from_utf8(&pair).ok()?;
                bytes.push(u8::from_str_radix(digits, 16).ok()?);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// The query as SigV4 canonicalizes it: pairs sorted by name, form-encoded.
fn canonical_query(query: &str) -> Option<String> {
    let mut pairs = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.insert(form_decode(name)?, form_decode(value)?);
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect();
    Some(encoded.join("&"))
}

/// What one signature covers.
pub struct Signing<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    /// Lowercase header names and values: exactly the signed headers.
    pub headers: &'a BTreeMap<String, String>,
    /// The request body.
    pub body: &'a str,
    /// `x-amz-date`, `YYYYMMDDThhmmssZ`.
    pub amz_date: &'a str,
    /// The AWS region.
    pub region: &'a str,
    /// The AWS service (`sts`).
    pub service: &'a str,
}

/// The hex signature of a request to path `/` under `secret`; `None` for a malformed query or date.
pub fn signature(secret: &str, s: &Signing<'_>) -> Option<String> {
    let canonical_headers: String = s
        .headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = s.headers.keys().map(String::as_str).collect();
    let canonical = [
        s.method.to_string(),
        "/".to_string(),
        canonical_query(s.query)?,
        canonical_headers,
        signed.join(";"),
        sha256_hex(s.body),
    ]
    .join("\n");
    let date = s.amz_date.get(..8)?;
    let scope = format!("{date}/{}/{}/aws4_request", s.region, s.service);
    let to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        s.amz_date,
        sha256_hex(&canonical)
    );
    Some(hex(&hmac(
        &signing_key(secret, date, s.region, s.service),
        &to_sign,
    )))
}

/// A subject token as google-cloud-auth's AWS source builds it: the `GetCallerIdentity` request
/// for `region`, signed at `amz_date` with the key (`x-goog-cloud-target-resource` =
/// `audience`), as URL-encoded JSON.
pub fn subject_token(
    audience: &str,
    region: &str,
    key_id: &str,
    secret: &str,
    amz_date: &str,
) -> String {
    let host = format!("sts.{region}.amazonaws.com");
    let query = "Action=GetCallerIdentity&Version=2011-06-15";
    let headers = BTreeMap::from([
        ("host".to_string(), host.clone()),
        ("x-amz-date".to_string(), amz_date.to_string()),
        (
            "x-goog-cloud-target-resource".to_string(),
            audience.to_string(),
        ),
    ]);
    let signing = Signing {
        method: "POST",
        query,
        headers: &headers,
        body: "",
        amz_date,
        region,
        service: "sts",
    };
    let signature = signature(secret, &signing).unwrap_or_default();
    let date = amz_date.get(..8).unwrap_or_default();
    let signed: Vec<&str> = headers.keys().map(String::as_str).collect();
    let authorization = format!(
        "{ALGORITHM} Credential={key_id}/{date}/{region}/sts/aws4_request, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    );
    let mut listed: Vec<_> = headers
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    listed.push(json!({"key": "Authorization", "value": authorization}));
    let request = json!({"url": format!("https://{host}/?{query}"), "method": "POST", "headers": listed, "body": ""});
    form_encode(&request.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of AWS's Signature Version 4 documentation (IAM `ListUsers`).
    #[test]
    fn the_documented_example_signs_to_the_documented_signature() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let key = signing_key(secret, "20150830", "us-east-1", "iam");
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let headers = BTreeMap::from([
            (
                "content-type".to_string(),
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            ),
            ("host".to_string(), "iam.amazonaws.com".to_string()),
            ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
        ]);
        let signing = Signing {
            method: "GET",
            query: "Version=2010-05-08&Action=ListUsers",
            headers: &headers,
            body: "",
            amz_date: "20150830T123600Z",
            region: "us-east-1",
            service: "iam",
        };
        let expected = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
        assert_eq!(signature(secret, &signing).as_deref(), Some(expected));
    }

    #[test]
    fn form_encoding_round_trips() {
        let text = r#"{"url": "https://x/?a=b&c=d", "k": "é"}"#;
        let encoded = form_encode(text);
        assert!(!encoded.contains(['{', ' ', '&', '"']), "{encoded}");
        assert_eq!(form_decode(&encoded).as_deref(), Some(text));
        assert_eq!(form_decode("%zz"), None);
    }
}
