//! Confidential-client token acquisition for Microsoft Entra.
#![forbid(unsafe_code)]
