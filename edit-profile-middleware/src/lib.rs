//! A tower Layer that validates Microsoft Entra bearer tokens.
#![forbid(unsafe_code)]
