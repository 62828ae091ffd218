//! The email scanner behind `detect_all`: finds email-shaped substrings without a regex engine.
//!
//! An **email-shaped** substring is `local@domain` where
//! - `local` is the longest run of local-part characters that ends right before the `@` (and starts
//!   no earlier than the end of the previous match), with leading dots dropped; it must not be
//!   empty. Local-part characters are ASCII letters, digits and `.` `_` `%` `+` `-`, and every
//!   non-ASCII character except Unicode `White_Space`: an internationalised local part (`zoë`), or
//!   non-ASCII text glued to the address (`«bob`), is masked with it rather than left half-masked;
//! - `domain` is the longest run of dot-separated labels after the `@`, each label one or more ASCII
//!   letters, digits or `-` (the run stops before an empty label, as in `..` or a trailing dot), cut
//!   after its last label that is ASCII letters only, at least two long, and not the first label
//!   (so there is at least one dot). Internationalised (non-punycode) domains are not detected.
//!
//! Everything else is a boundary: ASCII spaces and punctuation such as `<>()[],;:"'|/`, and Unicode
//! whitespace. The search for `@` uses `str::find` with a `char` pattern, which the standard library
//! runs as a word-at-a-time `memchr`; only the few characters around each `@` are then examined.
//! Strings without `@` cost one such scan and nothing else.

/// An email-shaped substring of a string: bytes `start..end`, with its `@` at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    /// First byte of the local part.
    pub start: usize,
    /// The `@`.
    pub at: usize,
    /// One past the last byte of the domain.
    pub end: usize,
}

/// Whether `c` may appear in a local part.
fn is_local(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
    } else {
        !c.is_whitespace()
    }
}

/// Whether `b` may appear in a domain label.
fn is_label(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// The end of the domain that starts at `start`, if there is one.
fn domain_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let mut labels = 0usize;
    let mut end = None;
    loop {
        let label_start = i;
        let mut letters_only = true;
        while let Some(&c) = b.get(i).filter(|&&c| is_label(c)) {
            letters_only &= c.is_ascii_alphabetic();
            i += 1;
        }
        if i == label_start {
            return end;
        }
        if labels >= 1 && letters_only && i - label_start >= 2 {
            end = Some(i);
        }
        labels += 1;
        if b.get(i) == Some(&b'.') {
            i += 1;
        } else {
            return end;
        }
    }
}

/// The first email-shaped substring whose `@` is at or after `from` and whose local part starts at
/// or after `floor` (the end of the previous match, so matches never overlap).
pub(crate) fn next_email(s: &str, mut from: usize, floor: usize) -> Option<Found> {
    let b = s.as_bytes();
    while from < b.len() {
        let at = from + s.get(from..)?.find('@')?;
        let mut start = at;
        for (i, c) in s[floor..at].char_indices().rev() {
            if !is_local(c) {
                break;
            }
            start = floor + i;
        }
        while start < at && b[start] == b'.' {
            start += 1;
        }
        if start < at
            && let Some(end) = domain_end(b, at + 1)
        {
            return Some(Found { start, at, end });
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every email-shaped substring of `s`, matched left to right without overlap.
    fn all(s: &str) -> Vec<&str> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(m) = next_email(s, from, from) {
            found.push(&s[m.start..m.end]);
            from = m.end;
        }
        found
    }

    #[test]
    fn finds_plain_addresses_in_free_text() {
        assert_eq!(all("Contacted a@b.com about the case"), vec!["a@b.com"]);
        assert_eq!(
            all("cc: Jane.Doe+tax@Mail.Example.co.uk, bob_1@x-y.org."),
            vec!["Jane.Doe+tax@Mail.Example.co.uk", "bob_1@x-y.org"]
        );
        assert_eq!(all("<alice@example.com>"), vec!["alice@example.com"]);
        assert_eq!(all("mailto:alice@example.com"), vec!["alice@example.com"]);
    }

    #[test]
    fn needs_a_dot_and_a_letters_only_tld_of_two_or_more() {
        assert!(all("a@localhost").is_empty());
        assert!(all("a@b.c").is_empty());
        assert!(all("a@b.c0m").is_empty());
        assert!(all("a@b..com").is_empty());
        assert!(all("@b.com").is_empty());
        assert!(all("a@.com").is_empty());
        assert!(all("no at sign here").is_empty());
        assert!(all("").is_empty());
        assert!(all("@").is_empty());
        assert_eq!(all("a@b.com.x"), vec!["a@b.com"]);
        assert_eq!(all("a@b.com.1a"), vec!["a@b.com"]);
        assert_eq!(all("a@b.com."), vec!["a@b.com"]);
        assert_eq!(all("a@b.com2.org"), vec!["a@b.com2.org"]);
    }

    #[test]
    fn local_part_stops_at_boundaries_and_drops_leading_dots() {
        assert_eq!(all("see ...bob@x.com"), vec!["bob@x.com"]);
        assert_eq!(all("see...bob@x.com"), vec!["see...bob@x.com"]);
        assert_eq!(all("user-email|a@b.com"), vec!["a@b.com"]);
        assert_eq!(all("a@b@c.com"), vec!["b@c.com"]);
        assert_eq!(all("..@x.com"), Vec::<&str>::new());
    }

    #[test]
    fn matches_never_overlap() {
        assert_eq!(all("a@b.com.x@c.com"), vec!["a@b.com", "x@c.com"]);
        assert_eq!(all("a@b.co.uk@c.com"), vec!["a@b.co.uk"]);
    }

    #[test]
    fn non_ascii_characters_join_the_local_part_but_whitespace_does_not() {
        assert_eq!(
            all("Notiz für Jörg: jorg.k@example.de – erledigt ✓"),
            vec!["jorg.k@example.de"]
        );
        assert_eq!(all("jörg@example.de"), vec!["jörg@example.de"]);
        assert_eq!(all("😀zoë@example.de"), vec!["😀zoë@example.de"]);
        assert_eq!(all("«bob@x.com»"), vec!["«bob@x.com"]);
        // Internationalised domains are not detected (documented).
        assert!(all("bob@bücher.de").is_empty());
        assert_eq!(all("\u{a0}bob@x.com\u{3000}"), vec!["bob@x.com"]);
    }
}
