//! The Google side of the simulator: the OAuth2 token endpoint for service-account JWT grants
//! (`grant`), the STS token exchange for AWS workload identity federation (`sts`, signatures
//! checked by [`sigv4`]), service-account impersonation (`impersonate`) and the Data Fusion
//! instance resource (`resource`).

pub(crate) mod grant;
pub(crate) mod impersonate;
pub(crate) mod resource;
pub mod sigv4;
pub(crate) mod sts;

use axum::http::{HeaderMap, header};

/// The scope every token request must ask for.
pub(crate) const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// `http://<Host>`: the origin the caller reached this simulator at.
pub(crate) fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    format!("http://{}", host.unwrap_or("127.0.0.1"))
}

/// True when a space-separated scope list holds the cloud-platform scope.
pub(crate) fn has_cloud_platform<'a>(mut scopes: impl Iterator<Item = &'a str>) -> bool {
    scopes.any(|s| s == CLOUD_PLATFORM)
}
