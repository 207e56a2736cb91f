//! The signature algorithms the validator can accept.

/// A signature algorithm the validator may accept.
///
/// RS256 is what Microsoft Entra signs access tokens with, and the only one allowed by default.
///
/// ```
/// use edit_profile_middleware::Algorithm;
/// assert_eq!(Algorithm::Rs256.name(), "RS256");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
    /// RSASSA-PSS with SHA-256 (RFC 7518 §3.5). Opt-in.
    Ps256,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4). Opt-in.
    Es256,
}

impl Algorithm {
    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "PS256" => Self::Ps256,
            "ES256" => Self::Es256,
            _ => return None,
        })
    }

    pub(crate) fn is_rsa(self) -> bool {
        matches!(self, Self::Rs256 | Self::Ps256)
    }
}
