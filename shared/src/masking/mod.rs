//! Keyed, deterministic masking of email addresses in DynamoDB items.
//!
//! The same rules are implemented in Python for the Glue job (`infra/glue/ferry_masking.py`); both
//! implementations pass the shared vectors in `tests/fixtures/masking-vectors.json` byte for byte, so a
//! table copied by `copy-table` and one copied by the Glue job mask every address the same way.
//!
//! # The masked address
//!
//! `mask(address)` is the lower-case hex of HMAC-SHA256(key, normalised address), then `@`, then the
//! masking domain (ASCII lower-cased). The **normalised** address is the address with Unicode
//! `White_Space` trimmed from both ends and ASCII letters lower-cased (non-ASCII characters are kept
//! as they are, so the result does not depend on a Unicode version). The HMAC input is its UTF-8
//! bytes. The key is the UTF-8 bytes of the Secrets Manager secret's `SecretString`.
//!
//! An address is **already masked** when its normalised form ends with `@` + domain: it is left
//! exactly as it is. So `mask(mask(x)) == mask(x)`, and a second run over a masked table changes
//! nothing. An empty or whitespace-only value is never masked.
//!
//! # Which strings are masked
//!
//! Every string value is considered: `S`, each element of `SS`, and strings at any depth inside `L`
//! and `M`, including key attributes (`pk`, `sk`, index keys). Non-string values (`N`, `NS`, `B`,
//! `BS`, `BOOL`, `NULL`) are never changed, and map keys (attribute names) are never changed.
//! Each string value gets the first rule that applies:
//!
//! 1. **Attribute names** (`attributes`): a pattern is an exact name or a glob (`*` any run of
//!    characters, `?` one character, case-sensitive, no escapes), matched against every attribute
//!    name at any depth: the item's top-level names and the keys of every map. Every string beneath a
//!    matching name (its `S`, each `SS` element, strings anywhere inside its `L`/`M`) is masked as
//!    one whole address: the whole value becomes `mask(value)`.
//! 2. **Embedded values** (`embedded`, in order, first match wins): a string that starts with
//!    `prefix + delimiter` has the segment after that delimiter, up to the next occurrence of the
//!    delimiter or the end, replaced by `mask(segment)`; the rest is kept:
//!    `user-email|Alice@Example.com|x` → `user-email|<hex>@example.invalid|x`. An empty or already
//!    masked segment stays. A string that matches an embedded rule gets no `detect_all` pass. (The
//!    delimiter should not occur in the masking domain, or a masked segment would not be recognised
//!    as masked.)
//! 3. **Detected addresses** (`detect_all`): every email-shaped substring (see *Email-shaped
//!    substrings* below) is replaced by its mask in place; the text around it is kept. Matches whose
//!    domain already equals the masking domain stay.
//!
//! A string set (`SS`) whose elements collide after masking (two addresses differing only in case) is
//! de-duplicated, keeping the first occurrence, because DynamoDB rejects duplicate set elements.
//! [`Masker::mask_item`] returns the number of string values it changed (an `SS` counts each changed
//! element).
//!
//! # Email-shaped substrings
//!
//! `local@domain`, where `local` is the longest run of ASCII letters, digits, `._%+-` and non-ASCII
//! characters other than Unicode `White_Space` ending at the `@` (never reaching back into the
//! previous match), with leading dots dropped, and `domain` is dot-separated labels of ASCII letters,
//! digits and `-`, cut after its last label that is ASCII letters only and at least two long, which
//! must not be the first label. So `zoë@example.de` and `«bob@x.com` are masked whole (the `«` with
//! the address), `bob@x.com.` keeps its final dot, and internationalised domains (`bob@bücher.de`)
//! are not detected: name such attributes in `attributes` to mask them whole.
//!
//! # Cost
//!
//! The keyed HMAC state (key block already absorbed) is computed once in [`Masker::new`] and cloned
//! per address; hex is written straight into the output string. A string that needs no change is not
//! copied or allocated; a changed one costs exactly one new `String`. `bench/src/bin/masking.rs`
//! measures it against the Python twin.

mod glob;
pub(crate) use glob::glob_match;
mod scan;

use std::collections::{HashMap, HashSet};
use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::contract::MaskingSpec;

use glob::NamePatterns;

/// The masking key: secret bytes. Its `Debug` output is redacted; it has no `Display` or `Serialize`.
///
/// This module never fetches it: the steps read it (`tasks::masking_key`) and hand it over.
#[derive(Clone)]
pub struct MaskingKey(Vec<u8>);

impl MaskingKey {
    /// Wraps the key bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        MaskingKey(bytes)
    }

    /// The key bytes, for keys derived from this one inside the crate.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for MaskingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MaskingKey(<redacted>)")
    }
}

/// Counts of one [`Masker::mask_item_counted`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaskStats {
    /// String values changed (each changed `SS` element counts once).
    pub values: u64,
    /// Addresses masked, which is the number of HMACs computed.
    pub addresses: u64,
}

/// An embedded rule ready for matching: `prefix + delimiter`, and the delimiter.
#[derive(Debug, Clone)]
struct Embedded {
    lead: String,
    delimiter: String,
}

/// Masks items with one key and one set of rules. Built once per invocation; `Send + Sync`.
#[derive(Clone)]
pub struct Masker {
    /// HMAC-SHA256 with the key absorbed and nothing else: cloned for every address.
    mac: Hmac<Sha256>,
    /// The masking domain, ASCII lower-cased.
    domain: String,
    names: NamePatterns,
    embedded: Vec<Embedded>,
    detect_all: bool,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Masker")
            .field("key", &"<redacted>")
            .field("domain", &self.domain)
            .field("names", &self.names)
            .field("embedded", &self.embedded)
            .field("detect_all", &self.detect_all)
            .finish()
    }
}

/// Unicode `White_Space`, as `str::trim` uses it.
fn trim(s: &str) -> &str {
    s.trim()
}

/// Lower-case hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

impl Masker {
    /// Prepares the keyed HMAC state and the rules.
    pub fn new(key: &MaskingKey, spec: &MaskingSpec) -> Masker {
        // HMAC accepts keys of any length: longer ones are hashed first, as RFC 2104 says.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Masker {
            mac,
            domain: spec.domain.to_ascii_lowercase(),
            names: NamePatterns::new(&spec.attributes),
            embedded: spec
                .embedded
                .iter()
                .map(|rule| Embedded {
                    lead: format!("{}{}", rule.prefix, rule.delimiter),
                    delimiter: rule.delimiter.clone(),
                })
                .collect(),
            detect_all: spec.detect_all,
        }
    }

    /// Masks `item` in place; returns the number of string values changed.
    pub fn mask_item(&self, item: &mut HashMap<String, AttributeValue>) -> u64 {
        self.mask_item_counted(item).values
    }

    /// Masks `item` in place; returns the values changed and the addresses masked (HMACs computed).
    pub fn mask_item_counted(&self, item: &mut HashMap<String, AttributeValue>) -> MaskStats {
        let mut stats = MaskStats::default();
        for (name, value) in item.iter_mut() {
            let whole = self.names.matches(name);
            self.mask_value(value, whole, &mut stats);
        }
        stats
    }

    /// Masks one attribute value; `whole` says a matching attribute name is above it.
    fn mask_value(&self, value: &mut AttributeValue, whole: bool, stats: &mut MaskStats) {
        match value {
            AttributeValue::S(s) => stats.values += u64::from(self.mask_string(s, whole, stats)),
            AttributeValue::Ss(set) => {
                let mut changed = 0;
                for s in set.iter_mut() {
                    if self.mask_string(s, whole, stats) {
                        changed += 1;
                    }
                }
                if changed > 0 {
                    stats.values += changed;
                    dedupe(set);
                }
            }
            AttributeValue::L(list) => {
                for element in list {
                    self.mask_value(element, whole, stats);
                }
            }
            AttributeValue::M(map) => {
                for (name, element) in map.iter_mut() {
                    let whole = whole || self.names.matches(name);
                    self.mask_value(element, whole, stats);
                }
            }
            _ => {}
        }
    }

    /// Masks one string by the first rule that applies; returns whether it changed.
    fn mask_string(&self, s: &mut String, whole: bool, stats: &mut MaskStats) -> bool {
        if whole {
            return self.mask_whole(s, stats);
        }
        let first = s.as_bytes().first();
        if let Some(rule) = self
            .embedded
            .iter()
            .find(|rule| rule.lead.as_bytes().first() == first && s.starts_with(&rule.lead))
        {
            return self.mask_embedded(s, rule, stats);
        }
        self.detect_all && self.mask_detected(s, stats)
    }

    /// Whether `s` holds a masked address anywhere (`@` and the masking domain, in any case):
    /// after masking, such a key may be shared by source keys that differed only in case.
    pub fn holds_masked(&self, s: &str) -> bool {
        let domain = self.domain.as_bytes();
        s.as_bytes()
            .windows(domain.len() + 1)
            .any(|w| w[0] == b'@' && w[1..].eq_ignore_ascii_case(domain))
    }

    /// Whether the normalised form of `address` is already in the masking domain.
    fn is_masked(&self, address: &str) -> bool {
        let (a, d) = (address.as_bytes(), self.domain.as_bytes());
        a.len() > d.len()
            && a[a.len() - d.len() - 1] == b'@'
            && a[a.len() - d.len()..].eq_ignore_ascii_case(d)
    }

    /// Length of a masked address.
    fn masked_len(&self) -> usize {
        64 + 1 + self.domain.len()
    }

    /// Appends `mask(address)` to `out`; `address` is already trimmed.
    fn push_masked(&self, out: &mut String, address: &str, stats: &mut MaskStats) {
        let mut mac = self.mac.clone();
        let bytes = address.as_bytes();
        if bytes.iter().any(u8::is_ascii_uppercase) {
            let mut lower = [0u8; 64];
            for chunk in bytes.chunks(lower.len()) {
                let lower = &mut lower[..chunk.len()];
                for (to, from) in lower.iter_mut().zip(chunk) {
                    *to = from.to_ascii_lowercase();
                }
                mac.update(lower);
            }
        } else {
            mac.update(bytes);
        }
        let tag = mac.finalize().into_bytes();
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(tag.iter()) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        // Hex digits are ASCII, so this never fails; the check costs a few nanoseconds.
        out.push_str(std::str::from_utf8(&hex).unwrap_or_default());
        out.push('@');
        out.push_str(&self.domain);
        stats.addresses += 1;
    }

    /// Rule 1: the whole value is one address.
    fn mask_whole(&self, s: &mut String, stats: &mut MaskStats) -> bool {
        let address = trim(s);
        if address.is_empty() || self.is_masked(address) {
            return false;
        }
        let mut out = String::with_capacity(self.masked_len());
        self.push_masked(&mut out, address, stats);
        *s = out;
        true
    }

    /// Rule 2: the segment after `rule.lead` up to the next delimiter is one address.
    fn mask_embedded(&self, s: &mut String, rule: &Embedded, stats: &mut MaskStats) -> bool {
        let start = rule.lead.len();
        let end = s[start..]
            .find(rule.delimiter.as_str())
            .map_or(s.len(), |i| start + i);
        let address = trim(&s[start..end]);
        if address.is_empty() || self.is_masked(address) {
            return false;
        }
        let mut out = String::with_capacity(start + self.masked_len() + (s.len() - end));
        out.push_str(&s[..start]);
        self.push_masked(&mut out, address, stats);
        out.push_str(&s[end..]);
        *s = out;
        true
    }

    /// Rule 3: every email-shaped substring is an address.
    fn mask_detected(&self, s: &mut String, stats: &mut MaskStats) -> bool {
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut from = 0;
        while let Some(found) = scan::next_email(s, from, from) {
            from = found.end;
            if s.as_bytes()[found.at + 1..found.end].eq_ignore_ascii_case(self.domain.as_bytes()) {
                continue;
            }
            let out = out.get_or_insert_with(|| String::with_capacity(s.len() + self.masked_len()));
            out.push_str(&s[copied..found.start]);
            self.push_masked(out, &s[found.start..found.end], stats);
            copied = found.end;
        }
        match out {
            Some(mut out) => {
                out.push_str(&s[copied..]);
                *s = out;
                true
            }
            None => false,
        }
    }
}

/// Drops repeated elements of a string set, keeping the first of each.
fn dedupe(set: &mut Vec<String>) {
    let keep: Vec<bool> = {
        let mut seen = HashSet::with_capacity(set.len());
        set.iter().map(|s| seen.insert(s.as_str())).collect()
    };
    let mut keep = keep.into_iter();
    set.retain(|_| keep.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::EmbeddedRule;
    use aws_sdk_dynamodb::primitives::Blob;

    const KEY: &[u8] = b"unit-test-key";

    fn spec(attributes: &[&str], embedded: &[(&str, &str)], detect_all: bool) -> MaskingSpec {
        MaskingSpec {
            key_secret_arn: "arn:aws:secretsmanager:us-east-1:111111111111:secret:k".into(),
            domain: "example.invalid".into(),
            attributes: attributes.iter().map(|a| a.to_string()).collect(),
            embedded: embedded
                .iter()
                .map(|(prefix, delimiter)| EmbeddedRule {
                    prefix: prefix.to_string(),
                    delimiter: delimiter.to_string(),
                })
                .collect(),
            detect_all,
        }
    }

    fn masker(attributes: &[&str], embedded: &[(&str, &str)], detect_all: bool) -> Masker {
        Masker::new(
            &MaskingKey::new(KEY.to_vec()),
            &spec(attributes, embedded, detect_all),
        )
    }

    /// The reference computation, written independently of the fast path.
    fn reference(address: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY).unwrap();
        mac.update(address.trim().to_ascii_lowercase().as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{hex}@example.invalid")
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn item(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn text(value: &AttributeValue) -> &str {
        value.as_s().unwrap()
    }

    #[test]
    fn a_known_answer_matches_hmac_sha256_of_the_normalised_address() {
        // Computed independently: `openssl dgst -sha256 -hmac key` of "alice@example.com".
        let m = Masker::new(&MaskingKey::new(b"key".to_vec()), &spec(&["v"], &[], false));
        let mut it = item(vec![("v", s(" Alice@EXAMPLE.com\n"))]);
        assert_eq!(m.mask_item(&mut it), 1);
        assert_eq!(
            text(&it["v"]),
            "7f5869472f7937382ee449fa11667e1d9eb381ed70999a7177ff6faf6ca456dd@example.invalid"
        );
    }

    #[test]
    fn whole_values_are_trimmed_and_ascii_lower_cased_before_hashing() {
        let m = masker(&["email"], &[], false);
        let mut it = item(vec![("email", s("  Alice@Example.COM\t"))]);
        assert_eq!(m.mask_item(&mut it), 1);
        assert_eq!(text(&it["email"]), reference("alice@example.com"));
        let mut other = item(vec![("email", s("alice@example.com"))]);
        m.mask_item(&mut other);
        assert_eq!(it, other);
    }

    #[test]
    fn long_addresses_are_lower_cased_in_chunks() {
        let m = masker(&["email"], &[], false);
        let long = format!("{}@EXAMPLE.COM", "AbC".repeat(100));
        let mut it = item(vec![("email", s(&long))]);
        m.mask_item(&mut it);
        assert_eq!(text(&it["email"]), reference(&long));
    }

    #[test]
    fn names_match_at_any_depth_and_mask_every_string_beneath() {
        let m = masker(&["email", "*Emails"], &[], false);
        let mut it = item(vec![
            (
                "contactPrimary",
                AttributeValue::M(item(vec![
                    ("email", s("a@b.com")),
                    ("name", s("A a@b.com")),
                ])),
            ),
            (
                "serviceEmails",
                AttributeValue::L(vec![
                    s("x@y.org"),
                    AttributeValue::M(item(vec![("note", s("free text"))])),
                    AttributeValue::Ss(vec!["p@q.net".into()]),
                ]),
            ),
            (
                "petitioners",
                AttributeValue::L(vec![AttributeValue::M(item(vec![("email", s("c@d.com"))]))]),
            ),
        ]);
        assert_eq!(m.mask_item(&mut it), 5);
        let contact = it["contactPrimary"].as_m().unwrap();
        assert_eq!(text(&contact["email"]), reference("a@b.com"));
        assert_eq!(text(&contact["name"]), "A a@b.com");
        let emails = it["serviceEmails"].as_l().unwrap();
        assert_eq!(text(&emails[0]), reference("x@y.org"));
        assert_eq!(
            text(&emails[1].as_m().unwrap()["note"]),
            reference("free text")
        );
        assert_eq!(emails[2].as_ss().unwrap(), &vec![reference("p@q.net")]);
        let petitioner = &it["petitioners"].as_l().unwrap()[0].as_m().unwrap()["email"];
        assert_eq!(text(petitioner), reference("c@d.com"));
    }

    #[test]
    fn non_string_values_under_a_masked_name_are_untouched() {
        let m = masker(&["email*"], &[], true);
        let values = vec![
            ("email", AttributeValue::Null(true)),
            ("email2", AttributeValue::N("42".into())),
            ("email3", AttributeValue::B(Blob::new(b"a@b.com".to_vec()))),
            ("email4", AttributeValue::Bool(true)),
            ("email5", AttributeValue::Ns(vec!["1".into()])),
            ("email6", AttributeValue::Bs(vec![Blob::new(b"x".to_vec())])),
            ("email7", AttributeValue::L(vec![])),
            ("email8", AttributeValue::M(HashMap::new())),
            ("email9", s("")),
            ("email10", s("  \u{a0} ")),
        ];
        let mut it = item(values.clone());
        assert_eq!(m.mask_item(&mut it), 0);
        assert_eq!(it, item(values));
    }

    #[test]
    fn embedded_segments_are_masked_up_to_the_next_delimiter() {
        let m = masker(&[], &[("user-email", "|"), ("case", "#")], false);
        let mut it = item(vec![
            ("pk", s("user-email|Alice@Example.com")),
            ("sk", s("user-email|bob@x.org|2024-01-01|y")),
            ("gsi1pk", s("case#c@d.com#z")),
            ("other", s("user-email")),
            ("empty", s("user-email|")),
            ("notes", s("contact e@f.com")),
        ]);
        assert_eq!(m.mask_item(&mut it), 3);
        assert_eq!(
            text(&it["pk"]),
            format!("user-email|{}", reference("alice@example.com"))
        );
        assert_eq!(
            text(&it["sk"]),
            format!("user-email|{}|2024-01-01|y", reference("bob@x.org"))
        );
        assert_eq!(
            text(&it["gsi1pk"]),
            format!("case#{}#z", reference("c@d.com"))
        );
        assert_eq!(text(&it["other"]), "user-email");
        assert_eq!(text(&it["empty"]), "user-email|");
        assert_eq!(text(&it["notes"]), "contact e@f.com");
    }

    #[test]
    fn detect_all_masks_substrings_in_place() {
        let m = masker(&[], &[], true);
        let mut it = item(vec![
            ("notes", s("Contacted A@b.com about x@y.co.uk, done.")),
            (
                "tags",
                AttributeValue::Ss(vec!["a@b.com".into(), "A@B.COM".into(), "plain".into()]),
            ),
            ("none", s("no address here")),
        ]);
        assert_eq!(m.mask_item(&mut it), 3);
        assert_eq!(
            text(&it["notes"]),
            format!(
                "Contacted {} about {}, done.",
                reference("a@b.com"),
                reference("x@y.co.uk")
            )
        );
        // Two elements collided after masking: the set keeps one of them.
        assert_eq!(
            it["tags"].as_ss().unwrap(),
            &vec![reference("a@b.com"), "plain".to_string()]
        );
        assert_eq!(text(&it["none"]), "no address here");
    }

    #[test]
    fn precedence_is_name_then_embedded_then_detect_all() {
        let m = masker(&["email"], &[("user-email", "|")], true);
        let mut it = item(vec![
            ("email", s("user-email|a@b.com")),
            ("pk", s("user-email|a@b.com|c@d.com")),
            ("text", s("x user-email|a@b.com")),
        ]);
        assert_eq!(m.mask_item(&mut it), 3);
        assert_eq!(text(&it["email"]), reference("user-email|a@b.com"));
        assert_eq!(
            text(&it["pk"]),
            format!("user-email|{}|c@d.com", reference("a@b.com"))
        );
        assert_eq!(
            text(&it["text"]),
            format!("x user-email|{}", reference("a@b.com"))
        );
    }

    #[test]
    fn masking_is_idempotent() {
        let m = masker(&["email", "*Email"], &[("user-email", "|")], true);
        let original = item(vec![
            ("email", s(" Alice@Example.com ")),
            ("pendingEmail", s("not an address")),
            ("pk", s("user-email|Alice@Example.com|2")),
            ("notes", s("see ..bob@x.com. and y@z.io.1a or q@r.com.a")),
            (
                "list",
                AttributeValue::L(vec![AttributeValue::Ss(vec![
                    "A@b.com".into(),
                    "a@B.com".into(),
                ])]),
            ),
        ]);
        let mut once = original.clone();
        let first = m.mask_item_counted(&mut once);
        assert!(first.values > 0);
        let mut twice = once.clone();
        assert_eq!(m.mask_item_counted(&mut twice), MaskStats::default());
        assert_eq!(once, twice);
    }

    #[test]
    fn already_masked_addresses_in_the_domain_stay_as_they_are() {
        let m = masker(&["email"], &[("user-email", "|")], true);
        let values = vec![
            ("email", s("Someone@Example.Invalid")),
            ("pk", s("user-email|x@EXAMPLE.invalid")),
            ("notes", s("mail x@example.invalid now")),
        ];
        let mut it = item(values.clone());
        assert_eq!(m.mask_item(&mut it), 0);
        assert_eq!(it, item(values));
        // A longer domain that merely ends like ours is not ours.
        let mut it = item(vec![("email", s("x@notexample.invalid"))]);
        assert_eq!(m.mask_item(&mut it), 1);
    }

    #[test]
    fn the_same_key_gives_the_same_mask_and_another_key_another() {
        let a = masker(&["email"], &[], false);
        let b = Masker::new(
            &MaskingKey::new(b"another key".to_vec()),
            &spec(&["email"], &[], false),
        );
        let run = |m: &Masker| {
            let mut it = item(vec![("email", s("a@b.com"))]);
            m.mask_item(&mut it);
            text(&it["email"]).to_string()
        };
        assert_eq!(run(&a), run(&a.clone()));
        assert_ne!(run(&a), run(&b));
    }

    #[test]
    fn the_domain_is_lower_cased_and_custom_domains_work() {
        let mut custom = spec(&["email"], &[], true);
        custom.domain = "Mig.EF-CMS.test".into();
        let m = Masker::new(&MaskingKey::new(KEY.to_vec()), &custom);
        let mut it = item(vec![("email", s("a@b.com")), ("n", s("to c@d.com"))]);
        assert_eq!(m.mask_item(&mut it), 2);
        assert!(text(&it["email"]).ends_with("@mig.ef-cms.test"));
        let mut again = it.clone();
        assert_eq!(m.mask_item(&mut again), 0);
    }

    #[test]
    fn map_keys_are_never_changed() {
        let m = masker(&["*"], &[], true);
        let mut it = item(vec![(
            "a@b.com",
            AttributeValue::M(item(vec![("c@d.com", s("e@f.com"))])),
        )]);
        m.mask_item(&mut it);
        let inner = it["a@b.com"].as_m().unwrap();
        assert_eq!(text(&inner["c@d.com"]), reference("e@f.com"));
    }

    #[test]
    fn counts_report_values_and_hmacs() {
        let m = masker(&[], &[], true);
        let mut it = item(vec![("t", s("a@b.com and c@d.com"))]);
        assert_eq!(
            m.mask_item_counted(&mut it),
            MaskStats {
                values: 1,
                addresses: 2
            }
        );
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = MaskingKey::new(b"super-secret-value".to_vec());
        assert_eq!(format!("{key:?}"), "MaskingKey(<redacted>)");
        let m = Masker::new(&key, &spec(&["email"], &[], false));
        let debug = format!("{m:?}");
        assert!(!debug.contains("super-secret-value"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn masker_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Masker>();
        assert_send_sync::<MaskingKey>();
    }

    #[test]
    fn trimmed_whitespace_is_the_25_code_points_the_python_twin_lists() {
        // ferry_masking.WHITESPACE spells these out; both sides must trim exactly the same set.
        let listed: Vec<u32> = [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680]
            .into_iter()
            .chain(0x2000..=0x200a)
            .chain([0x2028, 0x2029, 0x202f, 0x205f, 0x3000])
            .collect();
        let white_space: Vec<u32> = (0..=0x10ffff_u32)
            .filter(|&c| char::from_u32(c).is_some_and(char::is_whitespace))
            .collect();
        assert_eq!(white_space, listed);
    }

    #[test]
    fn masked_addresses_are_found_anywhere_in_a_string() {
        let m = masker(&[], &[("user-email", "|")], false);
        let mut it = item(vec![("pk", s("user-email|Alice@Example.com|x"))]);
        m.mask_item(&mut it);
        let AttributeValue::S(pk) = &it["pk"] else {
            unreachable!()
        };
        assert!(m.holds_masked(pk), "{pk}");
        assert!(m.holds_masked("x|ABC@EXAMPLE.INVALID"));
        assert!(!m.holds_masked("user-email|alice@example.com"));
        assert!(!m.holds_masked("example.invalid"));
        assert!(!m.holds_masked(""));
    }

    #[test]
    fn dedupe_keeps_first_occurrences_in_order() {
        let mut set: Vec<String> = ["b", "a", "b", "c", "a"].map(String::from).to_vec();
        dedupe(&mut set);
        assert_eq!(set, ["b", "a", "c"]);
    }
}
