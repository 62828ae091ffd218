//! Attribute-name patterns: exact names and globs (`*` any run of characters, `?` one character).

/// One attribute-name pattern, with the common glob shapes answered without the general matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// No wildcard.
    Exact(String),
    /// `literal*` (also `*` alone: the empty prefix).
    Prefix(String),
    /// `*literal`.
    Suffix(String),
    /// `*literal*`.
    Contains(String),
    /// Anything else.
    Glob(String),
}

impl Pattern {
    fn new(pattern: &str) -> Self {
        let wild = |s: &str| s.bytes().any(|b| b == b'*' || b == b'?');
        if !wild(pattern) {
            return Pattern::Exact(pattern.to_string());
        }
        let inner = pattern.strip_prefix('*').and_then(|p| p.strip_suffix('*'));
        match (inner, pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
            (Some(lit), _, _) if !lit.is_empty() && !wild(lit) => {
                Pattern::Contains(lit.to_string())
            }
            (_, _, Some(lit)) if !wild(lit) => Pattern::Prefix(lit.to_string()),
            (_, Some(lit), _) if !wild(lit) => Pattern::Suffix(lit.to_string()),
            _ => Pattern::Glob(pattern.to_string()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        let n = name.as_bytes();
        // Most names fail on length or on their first or last byte: check those before comparing
        // whole slices (the comparison is a library call, slower than these for short names).
        match self {
            Pattern::Exact(p) => {
                let p = p.as_bytes();
                n.len() == p.len() && n.first() == p.first() && n.last() == p.last() && n == p
            }
            Pattern::Prefix(p) => {
                let p = p.as_bytes();
                n.len() >= p.len() && (p.is_empty() || n.first() == p.first()) && n.starts_with(p)
            }
            Pattern::Suffix(p) => {
                let p = p.as_bytes();
                n.len() >= p.len() && (p.is_empty() || n.last() == p.last()) && n.ends_with(p)
            }
            Pattern::Contains(p) => name.contains(p.as_str()),
            Pattern::Glob(p) => glob_match(p, name),
        }
    }
}

/// The attribute names (exact or glob) whose values are masked whole.
#[derive(Debug, Clone, Default)]
pub(crate) struct NamePatterns(Vec<Pattern>);

impl NamePatterns {
    /// Prepares `patterns` for matching.
    pub(crate) fn new(patterns: &[String]) -> Self {
        NamePatterns(patterns.iter().map(|p| Pattern::new(p)).collect())
    }

    /// Whether `name` matches any pattern (case-sensitive).
    pub(crate) fn matches(&self, name: &str) -> bool {
        self.0.iter().any(|p| p.matches(name))
    }
}

/// Length in bytes of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0x80..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Case-sensitive glob match of the whole `name`: `*` matches any run of characters (also none),
/// `?` exactly one character; every other character matches itself. There is no escaping.
///
/// Works on bytes with the classic single-backtrack algorithm (linear in practice, no allocation);
/// `?` and the backtracking step advance by whole UTF-8 characters, so positions in `name` always sit
/// on character boundaries and a literal multi-byte character matches only itself.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut si) = (0, 0);
    // After the last `*` seen: the pattern position behind it and the name position it resumes from.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                star = Some((pi, si));
                continue;
            }
            Some(b'?') => {
                pi += 1;
                si += char_len(s[si]);
                continue;
            }
            Some(&c) if c == s[si] => {
                pi += 1;
                si += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after_star, from)) => {
                let next = from + char_len(s[from]);
                star = Some((after_star, next));
                pi = after_star;
                si = next;
            }
            None => return false,
        }
    }
    p[pi.min(p.len())..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_match_only_themselves_case_sensitively() {
        assert!(glob_match("email", "email"));
        assert!(!glob_match("email", "Email"));
        assert!(!glob_match("email", "emails"));
        assert!(!glob_match("email", "emai"));
        assert!(!glob_match("email", ""));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(glob_match("*Email", "pendingEmail"));
        assert!(glob_match("*Email", "Email"));
        assert!(!glob_match("*Email", "email"));
        assert!(glob_match("*Email*", "serviceEmails"));
        assert!(glob_match("contact*.email", "contactPrimary.email"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("**a**", "banana"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("*ab", "aab"));
        assert!(glob_match("*aab", "aaab"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(glob_match("email?", "email2"));
        assert!(!glob_match("email?", "email"));
        assert!(!glob_match("email?", "email22"));
        assert!(glob_match("??", "éß"));
        assert!(!glob_match("???", "éß"));
        assert!(glob_match("e?ail", "e€ail"));
        assert!(glob_match("*?", "€"));
        assert!(!glob_match("?*?", "€"));
    }

    #[test]
    fn multi_byte_literals_and_backtracking_stay_on_character_boundaries() {
        assert!(glob_match("*é", "ééé"));
        assert!(!glob_match("*é", "ééè"));
        assert!(glob_match("*€x", "€€x"));
        assert!(glob_match("日本*語", "日本の語"));
    }

    #[test]
    fn common_shapes_get_shortcuts_that_agree_with_the_general_matcher() {
        let shapes = [
            ("email", Pattern::Exact("email".into())),
            ("user*", Pattern::Prefix("user".into())),
            ("*", Pattern::Prefix(String::new())),
            ("*Email", Pattern::Suffix("Email".into())),
            ("*mail*", Pattern::Contains("mail".into())),
            ("**", Pattern::Glob("**".into())),
            ("*a?", Pattern::Glob("*a?".into())),
            ("a*b", Pattern::Glob("a*b".into())),
        ];
        let names = [
            "",
            "email",
            "Email",
            "pendingEmail",
            "user",
            "username",
            "mail",
            "xmailx",
            "ab",
            "a?",
        ];
        for (pattern, shape) in shapes {
            let compiled = Pattern::new(pattern);
            assert_eq!(compiled, shape, "{pattern}");
            for name in names {
                assert_eq!(
                    compiled.matches(name),
                    glob_match(pattern, name),
                    "{pattern} vs {name}"
                );
            }
        }
        let set = NamePatterns::new(&["email".into(), "*Email".into(), "addr?".into()]);
        assert!(set.matches("email") && set.matches("pendingEmail") && set.matches("addr1"));
        assert!(!set.matches("address"));
        assert!(!NamePatterns::new(&[]).matches("email"));
    }
}
