//! What the host's TLS clients (the `http`, `smtp` and `tcp` capabilities) trust, set by the
//! operator: the webpki roots, plus the system's store ([`SystemRoots`]: the platform bundle, or
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, replacing it as they do for OpenSSL-based tools),
//! plus the extra roots of `HostConfig::extra_root_certificates` (`HERALD_TLS_EXTRA_ROOTS`).
//! Certificate checks are never switched off.
//!
//! A destination may pin its own CA (`tls_ca_pem` in its configuration, read by the host and
//! never passed to the plugin): its connections then trust exactly that CA and nothing else. A
//! pin only narrows what that destination trusts; it never widens trust for anyone.
//!
//! One [`TlsRoots`] per host, built at start-up (the system store is read once), shared by every
//! call; pinned configurations are cached by the SHA-256 of their PEM. Refused certificates are
//! explained ([`Explaining`]): which certificate (subject and issuer), why, and which setting
//! would make Herald trust it.

use lettre::transport::smtp::client::{Certificate, CertificateStore, TlsParameters};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// Where the system's trusted CAs come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SystemRoots {
    /// The platform's bundle (found the way OpenSSL finds it, e.g.
    /// `/etc/ssl/certs/ca-certificates.crt`).
    #[default]
    Platform,
    /// `SSL_CERT_FILE` and/or `SSL_CERT_DIR` (a c_rehash-style folder), which replace the
    /// platform's bundle. The server reads them from its environment at start-up.
    Paths {
        file: Option<PathBuf>,
        dir: Option<PathBuf>,
    },
    /// No system store: the webpki roots and the extra roots only.
    Off,
}

/// The settings a certificate refusal points at.
const TRUST_SETTINGS: &str = "the operator adds a private CA with HERALD_TLS_EXTRA_ROOTS or the \
     system store (SSL_CERT_FILE / SSL_CERT_DIR), or the destination's owner pins it in the \
     destination's tls_ca_pem field";

/// The destination configuration field holding a destination's CA pin (PEM).
pub const CA_PIN_FIELD: &str = "tls_ca_pem";

/// Parses the certificates of a PEM bundle as trust anchors; an error says what is wrong. At
/// least one certificate is needed. (The server checks `HERALD_TLS_EXTRA_ROOTS` with it at
/// start-up; the host checks a destination's `tls_ca_pem` with it.)
pub fn parse_root_pems(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("not valid PEM: {e}"))?;
        let mut scratch = rustls::RootCertStore::empty();
        scratch
            .add(cert.clone())
            .map_err(|e| format!("a certificate is not usable as a trusted root: {e}"))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into());
    }
    Ok(certs)
}

/// A destination's pinned CA, ready for each client.
pub(crate) struct Pin {
    pub sha256: [u8; 32],
    pub rustls: Arc<rustls::ClientConfig>,
    lettre: Vec<Certificate>,
}

/// Pins kept at most; past it the cache starts over (a pin is cheap to rebuild).
const MAX_PINS: usize = 256;

pub(crate) struct TlsRoots {
    /// The webpki, system and extra roots.
    rustls: Arc<rustls::ClientConfig>,
    /// The system and extra roots as lettre takes them (lettre adds the webpki roots itself).
    lettre_extra: Vec<Certificate>,
    pins: Mutex<HashMap<[u8; 32], Arc<Pin>>>,
}

impl TlsRoots {
    /// Reads the system store and parses the extra roots. A bad extra root is an error (the
    /// operator named it); system certificates that do not parse are skipped, as OpenSSL does.
    pub fn new(system: &SystemRoots, extra_pems: &[String]) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut added = Vec::new();
        for cert in system_certs(system) {
            if roots.add(cert.clone()).is_ok() {
                added.push(cert);
            }
        }
        for pem in extra_pems {
            let certs = parse_root_pems(pem)
                .map_err(|e| format!("extra root certificates (HERALD_TLS_EXTRA_ROOTS): {e}"))?;
            for cert in certs {
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("extra root certificate is not usable: {e}"))?;
                added.push(cert);
            }
        }
        let lettre_extra = added
            .into_iter()
            .map(|der| Certificate::from_der(der.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot hand a root certificate to the smtp client: {e}"))?;
        Ok(Self {
            rustls: client_config(roots, Trust::Operator)?,
            lettre_extra,
            pins: Mutex::new(HashMap::new()),
        })
    }

    /// The rustls client config of the operator's roots (tcp, and http's clients).
    pub fn rustls_config(&self) -> Arc<rustls::ClientConfig> {
        self.rustls.clone()
    }

    /// The pin of a destination's `tls_ca_pem`; built once per distinct PEM.
    pub fn pin(&self, pem: &str) -> Result<Arc<Pin>, String> {
        let sha256: [u8; 32] = Sha256::digest(pem.as_bytes()).into();
        let mut pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pin) = pins.get(&sha256) {
            return Ok(pin.clone());
        }
        let certs =
            parse_root_pems(pem).map_err(|e| format!("the destination's {CA_PIN_FIELD}: {e}"))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in &certs {
            roots
                .add(cert.clone())
                .map_err(|e| format!("the destination's {CA_PIN_FIELD}: {e}"))?;
        }
        let lettre = certs
            .iter()
            .map(|der| Certificate::from_der(der.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("the destination's {CA_PIN_FIELD}: {e}"))?;
        let pin = Arc::new(Pin {
            sha256,
            rustls: client_config(roots, Trust::Pinned)?,
            lettre,
        });
        if pins.len() >= MAX_PINS {
            pins.clear();
        }
        pins.insert(sha256, pin.clone());
        Ok(pin)
    }

    /// The pin of a destination configuration's `tls_ca_pem`, if it has one.
    pub fn destination_pin(&self, config: &serde_json::Value) -> Result<Option<Arc<Pin>>, String> {
        match config.get(CA_PIN_FIELD) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(pem)) if pem.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(pem)) => self.pin(pem).map(Some),
            Some(_) => Err(format!(
                "the destination's {CA_PIN_FIELD} is not a text (PEM certificates)"
            )),
        }
    }

    /// lettre's TLS parameters for a relay named `domain`: the operator's roots, or exactly the
    /// destination's pinned CA.
    pub fn lettre_parameters(
        &self,
        domain: &str,
        pin: Option<&Pin>,
    ) -> Result<TlsParameters, String> {
        let mut builder = TlsParameters::builder(domain.to_string());
        let extra = match pin {
            Some(pin) => {
                builder = builder.certificate_store(CertificateStore::None);
                &pin.lettre
            }
            None => {
                builder = builder.certificate_store(CertificateStore::WebpkiRoots);
                &self.lettre_extra
            }
        };
        for cert in extra {
            builder = builder.add_root_certificate(cert.clone());
        }
        builder
            .build()
            .map_err(|e| format!("cannot set up TLS: {e}"))
    }
}

fn system_certs(system: &SystemRoots) -> Vec<CertificateDer<'static>> {
    let result = match system {
        SystemRoots::Off => return Vec::new(),
        SystemRoots::Platform => rustls_native_certs::load_native_certs(),
        SystemRoots::Paths { file, dir } => {
            rustls_native_certs::load_certs_from_paths(file.as_deref(), dir.as_deref())
        }
    };
    for error in &result.errors {
        tracing::warn!(%error, "the system trust store could not be read completely");
    }
    result.certs
}

/// Whose trust a verifier carries, for its explanations.
#[derive(Debug, Clone, Copy)]
enum Trust {
    /// The operator's roots.
    Operator,
    /// Exactly a destination's pinned CA.
    Pinned,
}

fn client_config(
    roots: rustls::RootCertStore,
    trust: Trust,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        // Not a weaker check: the webpki verifier decides; this only explains its refusals.
        .with_custom_certificate_verifier(Arc::new(Explaining { inner, trust }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// rustls' webpki verifier, whose refusals say which certificate was refused and what would
/// make Herald trust it (rustls alone says only `UnknownIssuer`).
#[derive(Debug)]
struct Explaining {
    inner: Arc<WebPkiServerVerifier>,
    trust: Trust,
}

/// A refused certificate, explained.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Explaining {
    fn explain(
        &self,
        error: rustls::Error,
        end_entity: &CertificateDer<'_>,
        server: &ServerName<'_>,
    ) -> rustls::Error {
        let rustls::Error::InvalidCertificate(problem) = error else {
            return error;
        };
        let names = match certificate_names(end_entity) {
            Some((subject, issuer)) => format!("subject {subject}, issued by {issuer}"),
            None => "a certificate Herald cannot read".to_string(),
        };
        let server = server.to_str();
        let unknown_issuer = matches!(
            problem,
            CertificateError::UnknownIssuer | CertificateError::BadSignature
        );
        let why = match (unknown_issuer, self.trust) {
            (true, Trust::Operator) => {
                format!("is not issued by a CA Herald trusts (UnknownIssuer): {TRUST_SETTINGS}")
            }
            (true, Trust::Pinned) => format!(
                "is not issued by the CA in this destination's {CA_PIN_FIELD} field (UnknownIssuer)"
            ),
            (false, _) => format!("is not acceptable: {problem:?}"),
        };
        let message = format!("the certificate of {server} ({names}) {why}");
        rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
            Refused(message),
        ))))
    }
}

impl ServerCertVerifier for Explaining {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| self.explain(e, end_entity, server_name))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// One DER element: its tag, contents and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The subject and issuer of a certificate, as `CN=..., O=...` (RFC 5280 section 4.1).
fn certificate_names(der: &[u8]) -> Option<(String, String)> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, certificate, _) = der_element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der_element(certificate)? else {
        return None;
    };
    let mut fields = Vec::new();
    let mut rest = tbs;
    while let Some((tag, value, next)) = der_element(rest) {
        // The optional explicit version [0] comes first.
        if !(fields.is_empty() && tag == 0xa0) {
            fields.push((tag, value));
        }
        rest = next;
        if fields.len() == 5 {
            break;
        }
    }
    // serial, signature algorithm, issuer, validity, subject
    match fields.as_slice() {
        [_, _, (SEQUENCE, issuer), _, (SEQUENCE, subject)] => {
            Some((distinguished_name(subject), distinguished_name(issuer)))
        }
        _ => None,
    }
}

/// The attributes of a Name that say who it is, in order.
fn distinguished_name(mut rdns: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((0x31, set, next)) = der_element(rdns) {
        rdns = next;
        let Some((0x30, attribute, _)) = der_element(set) else {
            continue;
        };
        let Some((0x06, oid, rest)) = der_element(attribute) else {
            continue;
        };
        let label = match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x0a] => "O",
            [0x55, 0x04, 0x0b] => "OU",
            [0x55, 0x04, 0x06] => "C",
            _ => continue,
        };
        // UTF8String, PrintableString, T61String, IA5String
        if let Some((0x0c | 0x13 | 0x14 | 0x16, text, _)) = der_element(rest) {
            parts.push(format!("{label}={}", String::from_utf8_lossy(text)));
        }
    }
    if parts.is_empty() {
        "(no name)".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_extra_roots_are_refused_with_the_setting_named() {
        let good = TlsRoots::new(&SystemRoots::Off, &[]).expect("webpki roots alone");
        assert!(Arc::ptr_eq(&good.rustls_config(), &good.rustls_config()));
        for bad in [
            "-----BEGIN CERTIFICATE-----\n*** not base64 ***\n-----END CERTIFICATE-----\n",
            "no certificate here",
        ] {
            let error = TlsRoots::new(&SystemRoots::Off, &[bad.to_string()])
                .map(|_| ())
                .expect_err("bad root");
            assert!(error.contains("HERALD_TLS_EXTRA_ROOTS"), "{error}");
        }
        let pin = good.pin("not a pem").map(|_| ()).expect_err("bad pin");
        assert!(pin.contains(CA_PIN_FIELD), "{pin}");
    }

    #[test]
    fn names_are_read_from_a_certificate() {
        // A small self-signed certificate (CN=Herald Test CA, O=Herald Tests), made with openssl.
        let pem = "-----BEGIN CERTIFICATE-----
MIIBtDCCAVugAwIBAgIUSy92NKuFJUWQKhojK82QbqNtnNkwCgYIKoZIzj0EAwIw
MDEXMBUGA1UEAwwOSGVyYWxkIFRlc3QgQ0ExFTATBgNVBAoMDEhlcmFsZCBUZXN0
czAeFw0yNjEyMDcyMjQwMzRaFw0zNjEyMDQyMjQwMzRaMDAxFzAVBgNVBAMMDkhl
cmFsZCBUZXN0IENBMRUwEwYDVQQKDAxIZXJhbGQgVGVzdHMwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAASFiVkETub+WXagfnyTI8tAqlEqYVrfDm2aCxPfX6B0udrM
KW9jpEx40rZPANYZAQT3XKmN8wqge3OYFtGg/Eu1o1MwUTAdBgNVHQ4EFgQUhvte
PYY2l6/sO+dXDPIeByVjTVIwHwYDVR0jBBgwFoAUhvtePYY2l6/sO+dXDPIeByVj
TVIwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAowIZ602Zh3WKg
gZI1yocCjukBtdibWJ0J7VRN1kSDzQIgKgd+QDBWY+7hNjSPdQEkmNUCwhSwEgCK
YaByI0ueu8I=
-----END CERTIFICATE-----
";
        let der = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .expect("one")
            .expect("pem");
        let (subject, issuer) = certificate_names(&der).expect("names");
        assert_eq!(subject, "CN=Herald Test CA, O=Herald Tests");
        assert_eq!(issuer, subject);
        assert!(certificate_names(b"\x30\x03\x02\x01\x00").is_none());
        assert!(certificate_names(b"").is_none());
    }
}
