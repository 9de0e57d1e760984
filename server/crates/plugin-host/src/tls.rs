//! What the host's TLS clients trust: the webpki roots plus the operator's extra roots
//! (`HostConfig::extra_root_certificates`: a private CA, a test's self-signed certificate).
//! One [`TlsRoots`] per host, shared by every call. The PEMs are parsed at the first TLS use of
//! each capability, not for every HL7 exchange and every mail. A PEM that does not parse is
//! reported by every call that needs it, as the per-call parsing did.

use lettre::transport::smtp::client::Certificate;
use std::sync::{Arc, OnceLock};
use tokio_rustls::rustls;

pub(crate) struct TlsRoots {
    extra_pems: Vec<String>,
    /// The `tcp` capability's client config.
    rustls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    /// The extra roots as lettre takes them; lettre adds the webpki roots itself.
    lettre: OnceLock<Result<Vec<Certificate>, String>>,
}

impl TlsRoots {
    pub fn new(extra_pems: Vec<String>) -> Self {
        Self {
            extra_pems,
            rustls: OnceLock::new(),
            lettre: OnceLock::new(),
        }
    }

    /// A rustls client config checking servers against the webpki and the extra roots.
    pub fn rustls_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.rustls
            .get_or_init(|| rustls_config(&self.extra_pems))
            .clone()
    }

    /// The extra roots, for lettre's `TlsParametersBuilder::add_root_certificate`.
    pub fn lettre_roots(&self) -> Result<&[Certificate], String> {
        match self.lettre.get_or_init(|| {
            self.extra_pems
                .iter()
                .map(|pem| Certificate::from_pem(pem.as_bytes()).map_err(|e| not_pem(&e)))
                .collect()
        }) {
            Ok(certs) => Ok(certs),
            Err(e) => Err(e.clone()),
        }
    }
}

fn not_pem(e: &dyn std::fmt::Display) -> String {
    format!("extra root certificate is not valid PEM: {e}")
}

fn rustls_config(extra_pems: &[String]) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for pem in extra_pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| not_pem(&e))?;
            roots
                .add(cert)
                .map_err(|e| format!("extra root certificate is not usable: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_parsed_once_and_a_bad_root_fails_every_time() {
        let good = TlsRoots::new(Vec::new());
        let first = good.rustls_config().expect("webpki roots alone");
        let second = good.rustls_config().expect("again");
        assert!(Arc::ptr_eq(&first, &second), "built once, then shared");
        assert!(good.lettre_roots().expect("no extra roots").is_empty());

        let bad = TlsRoots::new(vec![
            "-----BEGIN CERTIFICATE-----\n*** not base64 ***\n-----END CERTIFICATE-----\n"
                .to_string(),
        ]);
        for _ in 0..2 {
            let tcp = bad.rustls_config().map(|_| ()).expect_err("tcp");
            assert!(tcp.contains("extra root certificate"), "{tcp}");
            let smtp = bad.lettre_roots().map(|_| ()).expect_err("smtp");
            assert!(smtp.contains("extra root certificate"), "{smtp}");
        }
    }
}
