//! TLS for `ssl:` and `pssl:` controller connections: the switch's key and
//! certificate, the CA that both ends' certificates must chain to, and the
//! rustls client and server configurations built from them.
//!
//! # Design
//!
//! Both directions verify the peer. As a server (`pssl:`), rustls's
//! WebPKI client verifier checks the controller's chain against the CA (it
//! checks no name). As a client (`ssl:`), the standard verifier would also
//! require the controller's certificate to name the address dialled in a
//! subjectAltName, which certificates made by `ovs-pki` do not carry (they
//! have only a common name). [`ChainOnlyVerifier`] therefore checks the
//! chain, validity period and key usage against the CA, and the handshake
//! signature, but not the name: the CA, which only ever signs switch and
//! controller certificates, is what is trusted. The crypto provider is
//! rustls's `ring` provider.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The files TLS needs (`--private-key`, `--certificate`, `--ca-cert`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The switch's private key (PEM).
    pub private_key: PathBuf,
    /// The switch's certificate (PEM; may include intermediates).
    pub certificate: PathBuf,
    /// The CA certificate(s) peers must chain to (PEM).
    pub ca_cert: PathBuf,
}

/// Why TLS could not be set up; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or held nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_err(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(path)? {
        roots.add(c).map_err(|e| file_err(path, e))?;
    }
    Ok(roots)
}

/// Checks a server's certificate chain against the CA, but not its name.
#[derive(Debug)]
pub struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ChainOnlyVerifier {
    /// A verifier trusting `roots`.
    pub fn new(roots: Arc<RootCertStore>, provider: Arc<CryptoProvider>) -> ChainOnlyVerifier {
        ChainOnlyVerifier { roots, provider }
    }
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client and server configurations of one set of files.
#[derive(Clone, Debug)]
pub struct TlsContext {
    /// For `ssl:` (the switch dials the controller).
    pub client: Arc<ClientConfig>,
    /// For `pssl:` (controllers dial the switch).
    pub server: Arc<ServerConfig>,
}

impl TlsContext {
    /// Loads the files and builds both configurations.
    ///
    /// # Errors
    /// A file that cannot be read or parsed, or a key that does not fit the
    /// certificate.
    pub fn load(files: &TlsFiles) -> Result<TlsContext, TlsError> {
        let certs = load_certs(&files.certificate)?;
        let key = load_key(&files.private_key)?;
        let roots = Arc::new(load_roots(&files.ca_cert)?);
        let provider = provider();
        let cfg = |e: rustls::Error| TlsError::Config(e.to_string());
        let client = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(cfg)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier::new(
                Arc::clone(&roots),
                Arc::clone(&provider),
            )))
            .with_client_auth_cert(certs.clone(), key.clone_key())
            .map_err(|e| file_err(&files.private_key, e))?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .map_err(|e| file_err(&files.ca_cert, e))?;
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(cfg)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| file_err(&files.private_key, e))?;
        Ok(TlsContext {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named_in_the_error() {
        let files = TlsFiles {
            private_key: "/nonexistent/key.pem".into(),
            certificate: "/nonexistent/cert.pem".into(),
            ca_cert: "/nonexistent/ca.pem".into(),
        };
        let e = TlsContext::load(&files).expect_err("missing files");
        assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
    }
}
