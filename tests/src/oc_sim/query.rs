//! The query of `GET /instances`: repeated `tags[]` (brackets raw or percent-encoded), `pageSize`
//! (default and maximum 200; larger values are cut to 200) and the `nextPage` cursor; other
//! parameters are ignored.

/// The page size when none is asked for, and the largest one served.
pub(crate) const MAX_PAGE_SIZE: usize = 200;

/// What a list request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListQuery {
    /// The `tags[]` values, in order.
    pub tags: Vec<String>,
    /// The page size, 1 to [`MAX_PAGE_SIZE`].
    pub page_size: usize,
    /// The `nextPage` cursor, when given and not empty.
    pub next_page: Option<String>,
}

/// Parses a raw query string; refuses a `pageSize` that is not a positive integer.
pub(crate) fn parse(raw: Option<&str>) -> Result<ListQuery, String> {
    let mut query = ListQuery {
        tags: Vec::new(),
        page_size: MAX_PAGE_SIZE,
        next_page: None,
    };
    for (key, value) in pairs(raw.unwrap_or("")) {
        match key.as_str() {
            "tags[]" => query.tags.push(value),
            "pageSize" => query.page_size = page_size(&value)?,
            "nextPage" if !value.is_empty() => query.next_page = Some(value),
            _ => {}
        }
    }
    Ok(query)
}

fn page_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("pageSize must be a positive integer, not {text:?}")),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
    }
}

/// The decoded `key=value` pairs of a query string.
pub(crate) fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Percent-decodes a query component (`+` is a space); a malformed escape stays as it is.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], escaped(bytes, i)) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn escaped(bytes: &[u8], at: usize) -> Option<u8> {
    let hex = bytes.get(at + 1..at + 3)?;
    u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_page_size_and_cursor_are_read_and_the_rest_ignored() {
        let query = parse(Some(
            "tags[]=a&tags%5B%5D=b%20c&pageSize=50&nextPage=xyz&hydrate=1",
        ));
        let query = query.unwrap();
        assert_eq!(query.tags, ["a", "b c"]);
        assert_eq!(
            (query.page_size, query.next_page.as_deref()),
            (50, Some("xyz"))
        );
        let defaults = parse(None).unwrap();
        assert_eq!((defaults.page_size, defaults.next_page), (200, None));
        assert_eq!(parse(Some("pageSize=5000")).unwrap().page_size, 200);
        assert_eq!(parse(Some("nextPage=")).unwrap().next_page, None);
        assert!(parse(Some("pageSize=0")).is_err());
        assert!(parse(Some("pageSize=ten")).is_err());
        assert_eq!(
            pairs("tags=x&tags[]=%ZZ"),
            [("tags".into(), "x".into()), ("tags[]".into(), "%ZZ".into())]
        );
    }
}
