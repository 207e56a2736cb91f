//! Integration tests: a real dev tenant on an ephemeral loopback port, driven over HTTP.

mod admin;
mod authorization_code;
mod auto_login;
mod bad_input;
mod client_credentials;
mod common;
mod discovery;
mod entra_endpoints;
mod entra_shapes;
mod faults;
mod graph;
mod guest_tenant;
mod https;
mod keys;
mod msal_peers;
mod on_behalf_of;
mod pkce;
mod refresh;
mod revocation;
