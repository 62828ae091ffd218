//! Cursor paging of `GET /instances`: instances in id order, a page of `pageSize` after the
//! cursor, and an opaque `elements-next-page-token` (the last id served, base64url) only when more
//! instances follow. An instance deleted between pages is simply absent; none is served twice.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "after:";

/// The cursor that resumes after instance `id`.
pub(crate) fn token(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{id}"))
}

/// The id a cursor resumes after; `None` for a cursor this simulator did not issue.
pub(crate) fn after(token: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(PREFIX)?.parse().ok()
}

/// One page of `ids` (ascending): those after `after`, at most `size`, and the cursor of the next
/// page when any id follows.
pub(crate) fn page(ids: &[i64], after: Option<i64>, size: usize) -> (Vec<i64>, Option<String>) {
    let start = after.map_or(0, |a| ids.partition_point(|id| *id <= a));
    let end = (start + size).min(ids.len());
    let served = ids[start..end].to_vec();
    let next = (end < ids.len()).then(|| token(ids[end - 1]));
    (served, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_id_once_and_the_last_has_no_cursor() {
        let ids: Vec<i64> = (1..=5).map(|i| i * 10).collect();
        let (first, next) = page(&ids, None, 2);
        assert_eq!(first, [10, 20]);
        let (second, next) = page(&ids, after(&next.unwrap()), 2);
        assert_eq!(second, [30, 40]);
        let (last, next) = page(&ids, after(&next.unwrap()), 2);
        assert_eq!((last, next), (vec![50], None));
        let (exact, next) = page(&ids, None, 5);
        assert_eq!(
            (exact.len(), next),
            (5, None),
            "no cursor when nothing follows"
        );
        assert_eq!(
            page(&ids, Some(25), 10).0,
            [30, 40, 50],
            "resumes after a deleted id"
        );
        assert_eq!(after("not a cursor"), None);
        assert_eq!(after(&token(-3)), Some(-3));
    }
}
