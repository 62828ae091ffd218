//! The process environment, read in this one module: the state machine ARNs a deployment may
//! name (`FERRY_<MACHINE>_STATE_MACHINE_ARN`), `USER` (who approves when AWS cannot say) and the
//! endpoint overrides that make S3 path-style and polls quicker against a local endpoint. The AWS
//! SDK reads its own variables (`AWS_ENDPOINT_URL_SFN`, `AWS_ENDPOINT_URL`, credentials, region)
//! itself; nothing here overrides them.
#![allow(clippy::disallowed_methods)] // the command's one reader of the process environment

/// Answers a variable's value; `None` when unset, blank or not Unicode.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the process environment.
pub fn process(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether S3 must be addressed by path: an endpoint override points at a server of its own.
pub fn s3_path_style(var: Lookup<'_>) -> bool {
    ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
        .iter()
        .any(|name| var(name).is_some())
}

/// Whether Step Functions is reached on this machine (a local endpoint): polls can be quicker.
pub fn local_step_functions(var: Lookup<'_>) -> bool {
    ["AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| var(name))
        .is_some_and(|url| is_loopback_url(&url))
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().map_or(host, |h| &h[1..])
    } else {
        host.split(':').next().unwrap_or(host)
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_loopback_step_functions_endpoint_is_local() {
        let local = vars(&[("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:8083")]);
        assert!(local_step_functions(&local));
        let local = vars(&[("AWS_ENDPOINT_URL", "http://localhost:5000/")]);
        assert!(local_step_functions(&local));
        let ipv6 = vars(&[("AWS_ENDPOINT_URL", "http://[::1]:5000")]);
        assert!(local_step_functions(&ipv6));
    }

    #[test]
    fn aws_or_a_remote_endpoint_is_not_local() {
        assert!(!local_step_functions(&vars(&[])));
        let remote = vars(&[("AWS_ENDPOINT_URL_SFN", "https://states.example.org")]);
        assert!(!local_step_functions(&remote));
        // The service's own override wins over the general one.
        let both = vars(&[
            ("AWS_ENDPOINT_URL_SFN", "https://states.example.org"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]);
        assert!(!local_step_functions(&both));
    }

    #[test]
    fn any_endpoint_override_makes_s3_path_style() {
        assert!(s3_path_style(&vars(&[(
            "AWS_ENDPOINT_URL",
            "http://127.0.0.1:5000"
        )])));
        assert!(!s3_path_style(&vars(&[(
            "AWS_ENDPOINT_URL_SFN",
            "http://127.0.0.1:1"
        )])));
    }
}
