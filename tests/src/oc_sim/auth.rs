//! Who may call: the `Authorization` header of the platform API, exactly
//! `User <user secret>, Organization <organization secret>` (scheme names as written, one comma and
//! one space between the parts, no other part), matched against the organizations; and how the
//! request log classifies the credentials a request presents.

use axum::http::{HeaderMap, header};

use super::state::State;

/// The secrets a well-formed header presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Secrets<'a> {
    pub user: &'a str,
    pub organization: &'a str,
}

/// True for a secret the header form can carry: not empty, no whitespace, no comma.
pub(crate) fn valid_secret(secret: &str) -> bool {
    !secret.is_empty() && !secret.chars().any(|c| c.is_whitespace() || c == ',')
}

/// The secrets of `User <u>, Organization <o>`; `None` for any other form.
pub(crate) fn parse(value: &str) -> Option<Secrets<'_>> {
    let rest = value.strip_prefix("User ")?;
    let (user, organization) = rest.split_once(", Organization ")?;
    (valid_secret(user) && valid_secret(organization)).then_some(Secrets { user, organization })
}

fn secrets(headers: &HeaderMap) -> Option<Secrets<'_>> {
    parse(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// The organization (by name) whose secrets the request presents, both matching.
pub(crate) fn caller(s: &State, headers: &HeaderMap) -> Option<String> {
    let presented = secrets(headers)?;
    let org = s.org_by_secret(presented.organization)?;
    (org.user_secret == presented.user).then(|| org.name.clone())
}

/// The organization whose organization secret appears as a word of a header value, however
/// malformed the rest.
fn named_org(s: &State, value: &str) -> Option<String> {
    let mut words = value.split([' ', ',']).filter(|w| !w.is_empty());
    let org = words.find_map(|word| s.org_by_secret(word))?;
    Some(org.name.clone())
}

/// How the request log classifies a request: the organization whose organization secret it
/// names (even in a malformed header), and `valid`, `invalid` or `none`.
pub(crate) fn presented(s: &State, headers: &HeaderMap) -> (Option<String>, &'static str) {
    if !headers.contains_key(header::AUTHORIZATION) {
        return (None, "none");
    }
    let named = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|value| named_org(s, value));
    let auth = if caller(s, headers).is_some() {
        "valid"
    } else {
        "invalid"
    };
    (named, auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_two_part_form_parses() {
        let ok = parse("User u+/=1, Organization o2").unwrap();
        assert_eq!((ok.user, ok.organization), ("u+/=1", "o2"));
        for bad in [
            "Organization o, User u",
            "User u,Organization o",
            "User u,  Organization o",
            "user u, organization o",
            "User u, Organization o, Element t",
            "User , Organization o",
            "User u, Organization ",
            "Bearer x",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad:?} parsed");
        }
    }
}
