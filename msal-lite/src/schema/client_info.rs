//! `client_info`: the token endpoint's base64 JSON naming the home account.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::SchemaError;

/// Standard alphabet, padding optional: URL-safe input is mapped onto it first.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The decoded `client_info` of a token response or `Account` entry: `uid` (object id in
/// the home tenant) and `utid` (home tenant id). The home account id is `uid.utid`
/// ("Microsoft identity platform: ID token claims reference" and MSAL's account model).
///
/// Encoders differ: Entra sends base64url without padding, msal-node's files hold standard
/// base64 with padding. [`ClientInfo::decode`] accepts both alphabets, with or without `=`.
///
/// ```
/// use msal_lite::schema::ClientInfo;
///
/// let ci = ClientInfo::decode("eyJ1aWQiOiJ1aWQiLCAidXRpZCI6InV0aWQifQ==")?;
/// assert_eq!(ci.home_account_id(), "uid.utid");
/// # Ok::<(), msal_lite::schema::SchemaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// `uid`: the user's object id in the home tenant.
    pub uid: String,
    /// `utid`: the home tenant id.
    pub utid: String,
}

impl ClientInfo {
    /// Decodes base64 / base64url (padded or not) JSON `{"uid": .., "utid": ..}`.
    ///
    /// ```
    /// use msal_lite::schema::{ClientInfo, SchemaError};
    /// assert!(matches!(ClientInfo::decode("***"), Err(SchemaError::ClientInfoEncoding)));
    /// ```
    pub fn decode(encoded: &str) -> Result<Self, SchemaError> {
        let normalized: String = encoded
            .trim()
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        let bytes = LENIENT
            .decode(normalized.as_bytes())
            .map_err(|_| SchemaError::ClientInfoEncoding)?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| SchemaError::ClientInfoContent)?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or(SchemaError::ClientInfoContent)
        };
        Ok(Self {
            uid: field("uid")?,
            utid: field("utid")?,
        })
    }

    /// `uid.utid`, the `home_account_id` of every entry of this account.
    ///
    /// ```
    /// use msal_lite::schema::ClientInfo;
    /// let ci = ClientInfo::decode("eyJ1aWQiOiJhIiwidXRpZCI6ImIifQ")?;
    /// assert_eq!(ci.home_account_id(), "a.b");
    /// # Ok::<(), msal_lite::schema::SchemaError>(())
    /// ```
    pub fn home_account_id(&self) -> String {
        format!("{}.{}", self.uid, self.utid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_encoding() {
        // {"uid":"a+b/c","utid":"t"} contains bytes that differ between the alphabets.
        let json = br#"{"uid":"a?>","utid":"t~~"}"#;
        let std_pad = base64::engine::general_purpose::STANDARD.encode(json);
        let url_nopad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        assert_ne!(std_pad.trim_end_matches('='), url_nopad);
        for enc in [&std_pad, &url_nopad, std_pad.trim_end_matches('=')] {
            let ci = ClientInfo::decode(enc).expect("lenient decode");
            assert_eq!(ci.home_account_id(), "a?>.t~~");
        }
    }

    #[test]
    fn rejects_non_object_and_missing_fields() {
        let enc = base64::engine::general_purpose::STANDARD.encode(br#"{"uid":"x"}"#);
        assert!(matches!(
            ClientInfo::decode(&enc),
            Err(SchemaError::ClientInfoContent)
        ));
        let enc = base64::engine::general_purpose::STANDARD.encode(b"not json");
        assert!(matches!(
            ClientInfo::decode(&enc),
            Err(SchemaError::ClientInfoContent)
        ));
    }
}
