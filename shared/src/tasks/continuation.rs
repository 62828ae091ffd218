//! Sealed continuations: a scan's resume point encrypted before it leaves the step.
//!
//! A DynamoDB scan resumes from its `LastEvaluatedKey`, the key of the last item read, which holds
//! source values (`user-email|alice@…`). Step Functions keeps every state's input and output in the
//! execution history for 90 days, so the key travels sealed: AES-256-GCM (AWS-LC through
//! `aws-lc-rs`, the library ferry's TLS already runs on) with a fresh random 96-bit nonce per seal,
//! under a key derived from the masking key with HKDF-SHA256 and a label of its own (the derived key
//! is never the masking key itself). The associated data binds a token to its run, tables, phase
//! and segment, so one handed to any other segment or run, altered, or opened after the masking key
//! changed is refused. The token is `v1.` and the unpadded base64url of nonce ‖ ciphertext ‖ tag.
//! Nothing is stored anywhere: a retried invocation opens the token it was given again.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ddb_json::{Item, item_from_json, item_to_json};
use crate::error::TaskError;
use crate::masking::MaskingKey;

/// Marks the token format.
const VERSION: &str = "v1.";
/// HKDF salt and label of the continuation key.
const SALT: &[u8] = b"ferry";
const LABEL: &[u8] = b"ferry scan continuation v1";

/// Seals and opens the continuations of one segment's phase.
pub(crate) struct Sealer {
    key: RandomizedNonceKey,
    /// What the token belongs to (associated data).
    binding: String,
    /// The payload field that carries the token, named in errors.
    field: &'static str,
}

impl Sealer {
    /// A sealer for the continuations `binding` names, keyed from the masking key.
    pub(crate) fn new(
        key: &MaskingKey,
        binding: String,
        field: &'static str,
    ) -> Result<Self, TaskError> {
        let mut derived = [0u8; 32];
        Salt::new(HKDF_SHA256, SALT)
            .extract(key.bytes())
            .expand(&[LABEL], HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut derived))
            .map_err(|_| TaskError::Mismatch("deriving the continuation key failed".into()))?;
        let key = RandomizedNonceKey::new(&AES_256_GCM, &derived)
            .map_err(|_| TaskError::Mismatch("preparing the continuation key failed".into()))?;
        Ok(Sealer {
            key,
            binding,
            field,
        })
    }

    /// Seals a resume key into a token.
    pub(crate) fn seal(&self, resume: &Item) -> Result<String, TaskError> {
        let mut sealed = item_to_json(resume).to_string().into_bytes();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(self.binding.as_bytes()), &mut sealed)
            .map_err(|_| TaskError::Mismatch(format!("sealing {} failed", self.field)))?;
        let mut token = nonce.as_ref().to_vec();
        token.append(&mut sealed);
        Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(token)))
    }

    /// Opens a token this sealer's segment sealed; anything else is refused without its content.
    pub(crate) fn open(&self, token: &str) -> Result<Item, TaskError> {
        let mut bytes = token
            .strip_prefix(VERSION)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|bytes| bytes.len() > NONCE_LEN)
            .ok_or_else(|| self.refused())?;
        let (nonce, sealed) = bytes.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| self.refused())?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(self.binding.as_bytes()), sealed)
            .map_err(|_| self.refused())?;
        serde_json::from_slice(plain)
            .ok()
            .and_then(|json| item_from_json(&json).ok())
            .ok_or_else(|| self.refused())
    }

    fn refused(&self) -> TaskError {
        TaskError::invalid(
            self.field,
            "is not a continuation of this run, table, phase and segment under the current masking key (it belongs to one segment of one run, and a masking key changed during the run voids it): start the phase again without progress",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    const FIELD: &str = "progress.continuation";

    fn sealer(key: &str, binding: &str) -> Sealer {
        Sealer::new(
            &MaskingKey::new(key.as_bytes().to_vec()),
            binding.into(),
            FIELD,
        )
        .unwrap()
    }

    fn resume() -> Item {
        Item::from([
            (
                "pk".to_string(),
                AttributeValue::S("user-email|Alice@Example.com".into()),
            ),
            ("sk".to_string(), AttributeValue::S("user".into())),
        ])
    }

    #[test]
    fn a_sealed_key_opens_to_itself_and_shows_nothing() {
        let s = sealer("k", "run/a/b/copy/0/4");
        let token = s.seal(&resume()).unwrap();
        assert!(token.starts_with("v1."), "{token}");
        assert!(!token.to_lowercase().contains("alice"), "{token}");
        assert!(!token.contains("user-email"), "{token}");
        assert_eq!(s.open(&token).unwrap(), resume());
        assert_ne!(s.seal(&resume()).unwrap(), token, "a fresh nonce per seal");
    }

    #[test]
    fn another_segment_key_or_an_altered_token_is_refused() {
        let token = sealer("k", "run/a/b/copy/0/4").seal(&resume()).unwrap();
        let mut altered = token.clone().into_bytes();
        let middle = altered.len() / 2;
        altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
        for (s, t) in [
            (sealer("k", "run/a/b/copy/1/4"), token.clone()),
            (sealer("k", "other/a/b/copy/0/4"), token.clone()),
            (sealer("rotated", "run/a/b/copy/0/4"), token.clone()),
            (
                sealer("k", "run/a/b/copy/0/4"),
                String::from_utf8(altered).unwrap(),
            ),
            (sealer("k", "run/a/b/copy/0/4"), "v1.".into()),
            (
                sealer("k", "run/a/b/copy/0/4"),
                r#"{"pk":{"S":"x"}}"#.into(),
            ),
        ] {
            let err = s.open(&t).unwrap_err();
            assert_eq!(err.error_type(), "InvalidInput");
            assert!(err.to_string().contains(FIELD), "{err}");
        }
    }
}
