//! TLS material: a generated CA and a leaf certificate for `127.0.0.1` and `localhost`, kept as PEM
//! files in the data directory so a restart keeps serving the certificate the kubeconfig trusts.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS failures.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating a certificate failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// Reading or writing PEM files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A PEM file could not be parsed.
    #[error("{0}: not a valid PEM certificate or key")]
    Pem(String),
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// PEM-encoded CA certificate, server certificate and server key.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    /// The CA certificate (what clients trust).
    pub ca_pem: String,
    /// The server (leaf) certificate.
    pub cert_pem: String,
    /// The server's private key.
    pub key_pem: String,
}

impl TlsMaterial {
    /// Generates a CA (CA:TRUE) and a leaf signed by it for `IP:127.0.0.1`, `DNS:localhost` and any
    /// `extra_sans` (leaf CA:FALSE, serverAuth).
    pub fn generate(extra_sans: &[String]) -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name.push(DnType::CommonName, "capstan-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut sans = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        sans.extend(extra_sans.iter().cloned());
        let leaf_key = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(sans)?;
        leaf.distinguished_name.push(DnType::CommonName, "capstan-apiserver");
        leaf.is_ca = IsCa::ExplicitNoCa;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
        })
    }

    /// Loads `ca.crt`, `server.crt`, `server.key` from `dir`, generating and writing them first if
    /// they are missing.
    pub fn load_or_generate(dir: &Path) -> Result<Self, TlsError> {
        let (ca, cert, key) = (dir.join("ca.crt"), dir.join("server.crt"), dir.join("server.key"));
        if ca.exists() && cert.exists() && key.exists() {
            let read = |p: &Path| {
                std::fs::read_to_string(p).map_err(|source| TlsError::Io {
                    path: p.display().to_string(),
                    source,
                })
            };
            return Ok(Self {
                ca_pem: read(&ca)?,
                cert_pem: read(&cert)?,
                key_pem: read(&key)?,
            });
        }
        let m = Self::generate(&[])?;
        for (p, text) in [(&ca, &m.ca_pem), (&cert, &m.cert_pem), (&key, &m.key_pem)] {
            write_private(p, text)?;
        }
        Ok(m)
    }

    /// A rustls server configuration serving the leaf certificate (HTTP/1.1 and HTTP/2 by ALPN).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| TlsError::Pem("server certificate".into()))?;
        let key =
            PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|_| TlsError::Pem("server key".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// Writes a file readable only by its owner (keys and tokens).
pub fn write_private(path: &Path, text: &str) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(path, text).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_material_builds_a_server_config_and_is_kept_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsMaterial::load_or_generate(dir.path()).unwrap();
        assert!(a.ca_pem.contains("BEGIN CERTIFICATE"));
        assert_ne!(a.ca_pem, a.cert_pem);
        a.server_config().unwrap();
        let b = TlsMaterial::load_or_generate(dir.path()).unwrap();
        assert_eq!(a.cert_pem, b.cert_pem);
    }
}
