//! TLS for the probe: trusted roots (the system bundle or `--cacert`), a rustls client
//! configuration per connection, and a verifier that records its judgement instead of
//! aborting, so an untrusted, expired or mismatched certificate is still shown in full.
//!
//! The recording verifier runs the same rustls/webpki checks as the default one (chain to a
//! trust anchor at the current time, then the server name) and returns "verified" to rustls;
//! the connection code reads the recorded result after the handshake and refuses to send the
//! request when it failed (unless `--insecure`). Handshake signatures are still checked by
//! rustls against the presented key. Session resumption is off: every new connection is a
//! full handshake, as with one `curl` run per request.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::exit::UsageError;

use super::options::HttpChoice;

/// The roots certificates are judged against, and where they came from.
#[derive(Debug)]
pub struct Trust {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    /// `system CA bundle (N certificates)` or `--cacert PATH (N certificates)`.
    pub source: String,
    /// How many roots were loaded (0 where the host has no CA bundle).
    pub count: usize,
}

impl Trust {
    /// The system's roots (via rustls-native-certs: SSL_CERT_FILE / SSL_CERT_DIR, else the
    /// distribution's bundle), or only those in `cacert` (like curl's --cacert). A cacert
    /// file that is unreadable or holds no certificate is a usage error.
    pub fn load(cacert: Option<&Path>) -> anyhow::Result<Trust> {
        let mut roots = RootCertStore::empty();
        let (source, count) = match cacert {
            Some(path) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        UsageError::new(format!(
                            "--cacert {}: cannot read PEM certificates: {e}",
                            path.display()
                        ))
                    })?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(UsageError::new(format!(
                        "--cacert {}: no usable certificate in the file (expected PEM \"BEGIN CERTIFICATE\" blocks)",
                        path.display()
                    )));
                }
                (
                    format!("--cacert {} ({added} certificates)", path.display()),
                    added,
                )
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    tracing::warn!(errors = ?found.errors, "no system CA certificates found");
                }
                (format!("system CA bundle ({added} certificates)"), added)
            }
        };
        Ok(Trust {
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            source,
            count,
        })
    }

    /// A client configuration shared by the connections of one probe: TLS 1.2 and 1.3,
    /// ALPN by `http`, no session resumption.
    pub fn client_config(self: &Arc<Self>, http: HttpChoice) -> anyhow::Result<Arc<ClientConfig>> {
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = match http {
            HttpChoice::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            HttpChoice::Http1 => vec![b"http/1.1".to_vec()],
            HttpChoice::Http2 => vec![b"h2".to_vec()],
        };
        config.resumption = Resumption::disabled();
        Ok(Arc::new(config))
    }

    /// A copy of `base` whose verifier records into the returned slot.
    pub fn recording(
        self: &Arc<Self>,
        base: &ClientConfig,
    ) -> (Arc<ClientConfig>, Arc<Mutex<Option<CertCheck>>>) {
        let slot = Arc::new(Mutex::new(None));
        let mut config = base.clone();
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(RecordingVerifier {
                trust: self.clone(),
                slot: slot.clone(),
            }));
        (Arc::new(config), slot)
    }
}

/// What the verifier found about one presented chain.
#[derive(Debug, Clone)]
pub struct CertCheck {
    /// The chain as presented, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Chains to a trusted root, judged at a time inside the leaf's validity so that an
    /// expired certificate from a trusted CA still counts as trusted.
    pub trusted: Result<(), Error>,
    /// The leaf is valid for the server name.
    pub name: Result<(), Error>,
    /// What the default verifier would have refused the handshake with, if anything.
    pub verdict: Option<Error>,
}

#[derive(Debug)]
struct RecordingVerifier {
    trust: Arc<Trust>,
    slot: Arc<Mutex<Option<CertCheck>>>,
}

fn is_time_error(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidCertificate(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
        )
    )
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        let check = match ParsedCertificate::try_from(end_entity) {
            Err(e) => CertCheck {
                chain,
                trusted: Err(e.clone()),
                name: Err(e.clone()),
                verdict: Some(e),
            },
            Ok(parsed) => {
                let algs = self.trust.provider.signature_verification_algorithms.all;
                let roots = &self.trust.roots;
                let at_now = verify_server_cert_signed_by_trust_anchor(
                    &parsed,
                    roots,
                    intermediates,
                    now,
                    algs,
                );
                let trusted = match &at_now {
                    Err(e) if is_time_error(e) => match inside_validity(end_entity) {
                        Some(t) => verify_server_cert_signed_by_trust_anchor(
                            &parsed,
                            roots,
                            intermediates,
                            t,
                            algs,
                        ),
                        None => at_now.clone(),
                    },
                    other => other.clone(),
                };
                let name = verify_server_name(&parsed, server_name);
                let verdict = at_now.clone().err().or_else(|| name.clone().err());
                CertCheck {
                    chain,
                    trusted,
                    name,
                    verdict,
                }
            }
        };
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(check);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.trust.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.trust.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust
            .provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The middle of the certificate's validity period.
fn inside_validity(der: &CertificateDer<'_>) -> Option<UnixTime> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let v = cert.validity();
    let mid = v.not_before.timestamp() / 2 + v.not_after.timestamp() / 2;
    u64::try_from(mid)
        .ok()
        .map(|s| UnixTime::since_unix_epoch(std::time::Duration::from_secs(s)))
}

/// One certificate of the presented chain, as an operator reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses from subjectAltName.
    pub sans: Vec<String>,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
    /// Unix seconds, for arithmetic and Prometheus.
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    /// Days from now until notAfter (negative once expired), one decimal.
    pub days_left: f64,
    /// e.g. `EC 256`, `RSA 2048`.
    pub key: String,
    pub serial: String,
    pub is_ca: bool,
}

/// Describes each certificate that parses; one that does not is described by its error.
pub fn describe_chain(chain: &[CertificateDer<'_>], now_unix: i64) -> Vec<CertFacts> {
    chain.iter().map(|der| describe(der, now_unix)).collect()
}

fn describe(der: &CertificateDer<'_>, now_unix: i64) -> CertFacts {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return CertFacts {
            subject: "(certificate does not parse as X.509)".into(),
            issuer: String::new(),
            sans: Vec::new(),
            not_before: String::new(),
            not_after: String::new(),
            not_before_unix: 0,
            not_after_unix: 0,
            days_left: 0.0,
            key: String::new(),
            serial: String::new(),
            is_ca: false,
        };
    };
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_string()),
                GeneralName::IPAddress(b) => ip_text(b),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let v = cert.validity();
    let not_after_unix = v.not_after.timestamp();
    let key = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(k)) => format!("RSA {}", k.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(k)) => format!("EC {}", k.key_size()),
        Ok(other) => format!("{} bits", other.key_size()),
        Err(_) => cert.public_key().algorithm.algorithm.to_id_string(),
    };
    CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: rfc3339(v.not_before.timestamp()),
        not_after: rfc3339(not_after_unix),
        not_before_unix: v.not_before.timestamp(),
        not_after_unix,
        days_left: ((not_after_unix.saturating_sub(now_unix)) as f64 / 86_400.0 * 10.0).round()
            / 10.0,
        key,
        serial: cert.raw_serial_as_string(),
        is_ca: cert.is_ca(),
    }
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            Some(std::net::Ipv6Addr::from(a).to_string())
        }
        _ => None,
    }
}

/// Unix seconds as RFC 3339 UTC; empty when out of range.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A certificate verification error in plain words (rustls's Display shows Debug forms such
/// as `Other(OtherError(CaUsedAsEndEntity))`).
pub fn cert_error_text(e: &Error) -> String {
    let Error::InvalidCertificate(ce) = e else {
        return e.to_string();
    };
    match ce {
        CertificateError::UnknownIssuer => "not issued by a trusted CA (unknown issuer)".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "not valid yet".into()
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "not valid for {} (it names {})",
            expected.to_str(),
            presented.join(", ")
        ),
        CertificateError::NotValidForName => "not valid for this name".into(),
        CertificateError::BadSignature => "its signature does not verify".into(),
        CertificateError::Revoked => "revoked".into(),
        CertificateError::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "a CA certificate is used as the server's own certificate".into()
        }
        CertificateError::Other(other) => other.to_string(),
        other => format!("{other:?}"),
    }
}

/// `TLSv1.3` for rustls's `TLSv1_3`.
pub fn version_name(v: rustls::ProtocolVersion) -> String {
    format!("{v:?}").replace('_', ".")
}

/// The IANA name of a TLS alert in snake case (`protocol_version`, `unknown_ca`), the
/// spelling of RFC 8446 section 6 and of OpenSSL's messages.
pub fn alert_name(a: rustls::AlertDescription) -> String {
    match a {
        rustls::AlertDescription::Unknown(n) => format!("alert_{n}"),
        other => snake_case(&format!("{other:?}")),
    }
}

/// `UnknownPSKIdentity` -> `unknown_psk_identity`: a word starts at an upper-case letter that
/// follows a lower-case one, or that begins a capitalised word after an acronym.
fn snake_case(camel: &str) -> String {
    let chars: Vec<char> = camel.chars().collect();
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev_lower = chars[i - 1].is_ascii_lowercase();
            let acronym_end = chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || acronym_end {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    // IANA spells it the American way.
    if out == "unrecognised_name" {
        out = "unrecognized_name".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(version_name(rustls::ProtocolVersion::TLSv1_3), "TLSv1.3");
        assert_eq!(version_name(rustls::ProtocolVersion::TLSv1_2), "TLSv1.2");
        use rustls::AlertDescription as A;
        for (alert, name) in [
            (A::ProtocolVersion, "protocol_version"),
            (A::UnknownCA, "unknown_ca"),
            (A::UnknownPSKIdentity, "unknown_psk_identity"),
            (A::UnrecognisedName, "unrecognized_name"),
            (A::HandshakeFailure, "handshake_failure"),
            (A::Unknown(200), "alert_200"),
        ] {
            assert_eq!(alert_name(alert), name);
        }
    }

    #[test]
    fn certificate_errors_in_words() {
        let e = Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            cert_error_text(&e),
            "not issued by a trusted CA (unknown issuer)"
        );
        let e = Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("a.example").unwrap(),
            presented: vec!["b.example".into()],
        });
        assert_eq!(
            cert_error_text(&e),
            "not valid for a.example (it names b.example)"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn garbage_is_described_not_fatal() {
        let der = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        let f = describe_chain(&[der], 0);
        assert!(f[0].subject.contains("does not parse"));
    }
}
