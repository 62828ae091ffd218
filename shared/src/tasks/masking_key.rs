//! The masking key, read by the steps that need it: `preflight`, so a run whose key ferry may not
//! read fails before anything changes, and `copy-table`, before its first read or delete.
//!
//! The key is the UTF-8 bytes of the Secrets Manager secret's `SecretString`, read with ferry's own
//! credentials. `masking` itself never fetches anything: it is handed the key.

use crate::aws::Session;
use crate::contract::MaskingSpec;
use crate::error::TaskError;
use crate::masking::MaskingKey;

/// The input field that names the key's secret; every error about the key names it.
pub const KEY_FIELD: &str = "masking.key_secret_arn";

/// Reads the masking key.
///
/// Fails naming `masking.key_secret_arn` and the ARN when the secret cannot be read (missing, access
/// denied), has no `SecretString` (binary-only) or an empty one. No error ever carries its value.
pub async fn load_key(session: &Session, secret_arn: &str) -> Result<MaskingKey, TaskError> {
    let text = session
        .secret_string(secret_arn, KEY_FIELD)
        .await
        .map_err(name_the_field)?;
    Ok(MaskingKey::new(text.into_bytes()))
}

/// Reads the key of `masking`, when there is one, only to prove that it can be read.
pub async fn ensure_readable(
    session: &Session,
    masking: Option<&MaskingSpec>,
) -> Result<(), TaskError> {
    match masking {
        Some(spec) => load_key(session, &spec.key_secret_arn).await.map(drop),
        None => Ok(()),
    }
}

/// Puts the input field in front of the secret's ARN in a failed call's resource.
fn name_the_field(err: TaskError) -> TaskError {
    err.reword(|resource, _| *resource = format!("{KEY_FIELD} ({resource})"))
}
