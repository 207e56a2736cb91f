//! A local stand-in for a Microsoft Entra External ID tenant.
#![forbid(unsafe_code)]
