#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

//! # The same types
//!
//! A layer or validator built through either name is the same value:
//!
//! ```
//! fn takes_the_other_name(layer: edit_profile_middleware::BearerAuthLayer) -> entra_bearer::BearerAuthLayer {
//!     layer
//! }
//! ```

#[doc(inline)]
pub use edit_profile_middleware::*;
