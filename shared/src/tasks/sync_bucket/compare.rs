//! Whether a target object already equals its source object.
//!
//! Size first, then the ETag: a single-part ETag is the MD5 of the content, so two of them decide
//! on their own. A multipart ETag (`<md5 of part md5s>-<parts>`) depends on how the object was
//! uploaded, so when either side has one and they differ, the objects' checksums decide
//! (`HeadObject` with checksum mode on); when those cannot decide either, the target is taken as
//! current only when it was written after the source (write times have one-second resolution, so a
//! tie copies: a needless copy is harmless, a skipped one leaves stale content).

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::ChecksumType;
use aws_smithy_types::DateTime;

use super::listing::Entry;

/// What the listings alone say about a key present on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Equal: nothing to copy.
    Same,
    /// Different: copy.
    Differs,
    /// The ETags cannot decide: compare checksums.
    NeedsChecksum,
}

/// Whether an ETag is a multipart upload's (`"…-N"`), which is not the MD5 of the content.
pub fn is_multipart_etag(etag: &str) -> bool {
    etag.trim_matches('"').contains('-')
}

/// Compares a source and a target entry using the listings only.
pub fn compare(source: &Entry, target: &Entry) -> Verdict {
    if source.size != target.size {
        Verdict::Differs
    } else if !source.etag.is_empty() && source.etag == target.etag {
        Verdict::Same
    } else if source.etag.is_empty()
        || target.etag.is_empty()
        || is_multipart_etag(&source.etag)
        || is_multipart_etag(&target.etag)
    {
        Verdict::NeedsChecksum
    } else {
        Verdict::Differs
    }
}

/// Checksum algorithms in order of preference.
const ALGORITHMS: [&str; 5] = ["SHA256", "CRC64NVME", "CRC32C", "CRC32", "SHA1"];

/// The checksums and write time of one object, from `HeadObject`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checksums {
    /// (algorithm, base64 value) for each checksum the object has.
    pub values: Vec<(&'static str, String)>,
    /// When the object was last written.
    pub last_modified: Option<DateTime>,
    /// Whether the checksums are composite (of the parts' checksums), as `x-amz-checksum-type`
    /// says.
    pub composite: bool,
}

impl Checksums {
    /// Reads the checksums of a `HeadObject` answer.
    pub fn from_head(head: &HeadObjectOutput) -> Self {
        let found = [
            head.checksum_sha256(),
            head.checksum_crc64_nvme(),
            head.checksum_crc32_c(),
            head.checksum_crc32(),
            head.checksum_sha1(),
        ];
        Checksums {
            values: ALGORITHMS
                .iter()
                .zip(found)
                .filter_map(|(alg, v)| v.filter(|v| !v.is_empty()).map(|v| (*alg, v.to_string())))
                .collect(),
            last_modified: head.last_modified,
            composite: head.checksum_type() == Some(&ChecksumType::Composite),
        }
    }

    fn get(&self, algorithm: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(a, _)| *a == algorithm)
            .map(|(_, v)| v.as_str())
    }
}

/// A composite checksum (`<value>-<parts>`) covers part checksums, so it depends on the part sizes.
fn is_composite(checksum: &str) -> bool {
    checksum.contains('-')
}

/// Decides whether two same-size objects whose ETags could not decide differ.
///
/// A checksum both have settles it: equal values mean equal content; different full-object values
/// mean different content. Otherwise (no common checksum, or composite values that differ and may
/// only reflect different part sizes) the source differs unless the target was written after it.
pub fn differs(source: &Checksums, target: &Checksums) -> bool {
    for algorithm in ALGORITHMS {
        if let (Some(s), Some(t)) = (source.get(algorithm), target.get(algorithm)) {
            if s == t {
                return false;
            }
            let composite = source.composite || target.composite;
            if !composite && !is_composite(s) && !is_composite(t) {
                return true;
            }
        }
    }
    match (source.last_modified, target.last_modified) {
        (Some(s), Some(t)) => s >= t,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: u64, etag: &str) -> Entry {
        Entry {
            key: "k".into(),
            size,
            etag: etag.into(),
            last_modified: None,
        }
    }

    fn sums(values: &[(&'static str, &str)], modified: i64) -> Checksums {
        Checksums {
            values: values.iter().map(|(a, v)| (*a, v.to_string())).collect(),
            last_modified: Some(DateTime::from_secs(modified)),
            composite: false,
        }
    }

    #[test]
    fn multipart_etags_are_recognised() {
        assert!(is_multipart_etag("\"d41d8cd98f00b204e9800998ecf8427e-3\""));
        assert!(is_multipart_etag("9b2cf535f27731c974343645a3985328-12"));
        assert!(!is_multipart_etag("\"d41d8cd98f00b204e9800998ecf8427e\""));
        assert!(!is_multipart_etag(""));
    }

    #[test]
    fn listings_decide_on_size_and_single_part_etags() {
        assert_eq!(compare(&entry(1, "a"), &entry(2, "a")), Verdict::Differs);
        assert_eq!(compare(&entry(1, "a"), &entry(1, "a")), Verdict::Same);
        assert_eq!(compare(&entry(1, "a"), &entry(1, "b")), Verdict::Differs);
        assert_eq!(compare(&entry(1, "a-2"), &entry(1, "a-2")), Verdict::Same);
        assert_eq!(
            compare(&entry(1, "a-2"), &entry(1, "b")),
            Verdict::NeedsChecksum
        );
        assert_eq!(
            compare(&entry(1, "a"), &entry(1, "b-3")),
            Verdict::NeedsChecksum
        );
        assert_eq!(
            compare(&entry(1, ""), &entry(1, "")),
            Verdict::NeedsChecksum
        );
    }

    #[test]
    fn checksums_decide_before_write_times() {
        let older_target = 100;
        let newer_source = 200;
        // Equal full-object checksums: same, whatever the times say.
        assert!(!differs(
            &sums(&[("SHA256", "x")], newer_source),
            &sums(&[("SHA256", "x")], older_target)
        ));
        // Different full-object checksums: differs, whatever the times say.
        assert!(differs(
            &sums(&[("CRC32", "x")], older_target),
            &sums(&[("CRC32", "y")], newer_source)
        ));
        // Different composite checksums prove nothing: fall back to write times.
        assert!(!differs(
            &sums(&[("CRC32", "x-2")], older_target),
            &sums(&[("CRC32", "y")], newer_source)
        ));
        assert!(differs(
            &sums(&[("CRC32", "x-2")], newer_source),
            &sums(&[("CRC32", "y")], older_target)
        ));
        // The checksum type can say composite where the value does not.
        let mut composite = sums(&[("CRC32", "x")], older_target);
        composite.composite = true;
        assert!(!differs(&composite, &sums(&[("CRC32", "y")], newer_source)));
        // A later common algorithm can still settle it.
        assert!(!differs(
            &sums(&[("SHA256", "a"), ("CRC32", "z")], newer_source),
            &sums(&[("CRC32", "z")], older_target)
        ));
    }

    #[test]
    fn without_common_checksums_the_newer_source_wins() {
        assert!(differs(&sums(&[], 200), &sums(&[("SHA256", "x")], 100)));
        assert!(differs(&sums(&[], 100), &sums(&[], 100)), "a tie copies");
        assert!(!differs(&sums(&[], 100), &sums(&[], 200)));
        assert!(differs(&Checksums::default(), &Checksums::default()));
    }
}
