//! Confidential-client token acquisition for Microsoft Entra.
#![forbid(unsafe_code)]

pub mod challenge;
pub mod claims;
