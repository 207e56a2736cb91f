//! HTTPS: a throwaway CA and a server certificate for `127.0.0.1` and `localhost`, generated at
//! start, served with rustls over HTTP/1.1 (real MSAL clients refuse `http://` authorities).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// The TLS acceptor and the CA certificate clients must trust.
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) ca_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

/// Generates the CA and server certificate and writes the CA certificate (PEM) to `cert_out`.
///
/// The CA is separate from the server certificate because some verifiers (webpki among them)
/// refuse a self-signed end-entity certificate used as its own trust anchor.
/// The server certificate names `localhost`, `127.0.0.1`, `::1` and `hosts` (the configured
/// `public_host` and `certificate_hosts`).
pub(crate) fn setup(cert_out: Option<&Path>, hosts: &[String]) -> Result<Tls, Error> {
    let crypto = |e: rcgen::Error| Error::Crypto(e.to_string());
    let ca_key = rcgen::KeyPair::generate().map_err(crypto)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "dev-tenant local CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(crypto)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate().map_err(crypto)?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for h in hosts {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        if !names.iter().any(|n| n.eq_ignore_ascii_case(h)) {
            names.push(h.to_owned());
        }
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(crypto)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "dev-tenant");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).map_err(crypto)?;

    let ca_pem = ca_cert.pem();
    if let Some(path) = cert_out {
        std::fs::write(path, &ca_pem).map_err(Error::WriteCert)?;
    }
    let chain = vec![
        CertificateDer::from(cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(Box::new(e)))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| Error::Tls(Box::new(e)))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem,
    })
}
