//! HL7 v2 over MLLP channel: each notification becomes one HL7 v2.5 `ZSA^Z01` message (MSH,
//! EVN and site-defined Z segments, see README.md for the conformance description), framed as
//! MLLP (`0x0B` message `0x1C 0x0D`) and sent through the `tcp` capability to the endpoint the
//! operator granted. `MSH-10` (message control id, at most 20 characters in HL7 v2.5) is
//! derived from the delivery id ([`control_id`]), so it is the same on every retry and the
//! receiving engine can de-duplicate; the full delivery id travels in `ZSA-13`.
//!
//! TLP: for a label other than WHITE/CLEAR (GREEN, AMBER, RED) the message carries only a
//! summary (tracking id, version, event, severity, CVSS, TLP, dates) and the portal link: no
//! title, products, CVEs, CSAF URL or remediation text; NTE-3 says where to read it.
//!
//! The ACK decides: `AA`/`CA` delivered, `AE`/`CE` retryable, `AR`/`CR` permanent; no ACK in
//! time, a closed connection or an ACK for another message is retryable.

use herald_plugin_sdk::config::{field, field_error};
use herald_plugin_sdk::tcp::{self, ExchangeRequest, TcpError};
use herald_plugin_sdk::time::UtcDateTime;
use herald_plugin_sdk::{
    Channel, ConfigError, ConfigFieldKind, DeliveryError, Notification, PluginInfo, Problems,
    Receipt, log, now_millis,
};
use serde::Deserialize;
use std::fmt::Write as _;

const ID: &str = "hl7-mllp";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// MLLP frame bytes.
const START_BLOCK: u8 = 0x0b;
const END_BLOCK: [u8; 2] = [0x1c, 0x0d];

fn default_sending_application() -> String {
    "HERALD".into()
}
fn default_processing_id() -> String {
    "P".into()
}
fn default_ack_timeout_ms() -> u32 {
    10_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// `host:port` of the engine's MLLP listener; must also be granted to the destination.
    endpoint: String,
    #[serde(default)]
    tls: bool,
    #[serde(default = "default_sending_application")]
    sending_application: String,
    #[serde(default)]
    sending_facility: String,
    #[serde(default)]
    receiving_application: String,
    #[serde(default)]
    receiving_facility: String,
    /// MSH-11: `P` production, `T` training, `D` debugging.
    #[serde(default = "default_processing_id")]
    processing_id: String,
    #[serde(default = "default_ack_timeout_ms")]
    ack_timeout_ms: u32,
}

impl Problems for Config {
    fn problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| errors.push(field_error(field, message));
        match self.endpoint.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty()
                    && !host.contains(['/', ' ', '@'])
                    && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
            _ => err(
                "endpoint",
                format!("endpoint {:?} must be host:port", self.endpoint),
            ),
        }
        if !matches!(self.processing_id.as_str(), "P" | "T" | "D") {
            err(
                "processing_id",
                format!("{:?} must be P, T or D", self.processing_id),
            );
        }
        if !(100..=120_000).contains(&self.ack_timeout_ms) {
            err(
                "ack_timeout_ms",
                format!("{} must be 100 to 120000", self.ack_timeout_ms),
            );
        }
        for (field, value) in [
            ("sending_application", &self.sending_application),
            ("sending_facility", &self.sending_facility),
            ("receiving_application", &self.receiving_application),
            ("receiving_facility", &self.receiving_facility),
        ] {
            if value.len() > 227 || value.contains(['\r', '\n']) {
                err(
                    field,
                    "must be one line of at most 227 characters".to_string(),
                );
            }
        }
        errors
    }
}

/// HL7 escaping of the encoding characters (`|^~\&` with the default MSH-2 `^~\&`); line
/// breaks become `\.br\` where the field is formatted text, a space elsewhere.
fn escape(text: &str, formatted: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str(if formatted { "\\.br\\" } else { " " });
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Longest MSH-10 (message control id, ST) HL7 v2.5 allows.
const MAX_CONTROL_ID: usize = 20;

/// MSH-10 for a delivery: 20 characters of Crockford base32 (digits and upper-case letters
/// without I, L, O, U, none of them an HL7 separator) of the first 100 bits of the 128-bit
/// FNV-1a hash of the delivery id. A UUID needs at least 22 characters in any alphabet HL7
/// engines treat safely, so the id is hashed rather than re-encoded: the same delivery id gives
/// the same control id on every retry, and 100 bits keep distinct deliveries apart (a collision
/// among a billion messages has a probability around 10^-12). The full delivery id is in ZSA-13.
fn control_id(delivery_id: &str) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut hash = OFFSET;
    for byte in delivery_id.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    (0..MAX_CONTROL_ID)
        .map(|i| char::from(ALPHABET[((hash >> (123 - 5 * i)) & 31) as usize]))
        .collect()
}

/// NTE-3 of a restricted notice: Herald's rendered text (its templates see no details for such a
/// label) or, without one, a fixed sentence.
fn restricted_note(n: &Notification) -> String {
    match &n.rendered {
        Some(r) if !r.text.trim().is_empty() => r.text.trim().to_string(),
        _ => {
            let tlp = n.tlp.trim().to_ascii_uppercase();
            format!(
                "Security advisory {} version {} is labelled TLP:{tlp}; its content is not \
                 transmitted. Read it in the portal (sign-in required): {}",
                n.tracking_id, n.version, n.portal_url
            )
        }
    }
}

/// HL7 DTM (`YYYYMMDDHHMMSS+0000`) from milliseconds since the epoch, in UTC.
fn dtm_from_millis(ms: u64) -> String {
    let t = UtcDateTime::from_millis(ms);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}+0000",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// HL7 DTM from an RFC 3339 date-time (`2026-11-01T08:30:00Z`, `...+01:00`); anything else is
/// passed on escaped.
fn dtm_from_rfc3339(s: &str) -> String {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .map(|_| &s[r])
    };
    let shape = b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[13] == b':' && b[16] == b':';
    let parts = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    );
    let (true, (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se))) = (shape, parts) else {
        return escape(s, false);
    };
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.chars().take_while(char::is_ascii_digit).count();
        rest = &frac[n..];
    }
    let zone = match rest {
        "Z" | "z" => "+0000".to_string(),
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => z.replace(':', ""),
        _ => String::new(),
    };
    format!("{y}{mo}{d}{h}{mi}{se}{zone}")
}

/// The HL7 message (segments CR-terminated), without MLLP framing.
fn message(config: &Config, n: &Notification, now_ms: u64) -> String {
    let e = |s: &str| escape(s, false);
    let now = dtm_from_millis(now_ms);
    let restricted = herald_plugin_sdk::tlp_restricted(&n.tlp);
    let details = |s: &str| if restricted { String::new() } else { e(s) };
    let mut m = String::new();
    let _ = write!(
        m,
        "MSH|^~\\&|{}|{}|{}|{}|{now}||ZSA^Z01|{}|{}|2.5\r",
        e(&config.sending_application),
        e(&config.sending_facility),
        e(&config.receiving_application),
        e(&config.receiving_facility),
        control_id(&n.delivery_id),
        e(&config.processing_id),
    );
    let _ = write!(m, "EVN|Z01|{now}\r");
    let previous = n
        .previous_receipt
        .as_ref()
        .and_then(|r| r.remote_id.as_deref())
        .unwrap_or_default();
    let _ = write!(
        m,
        "ZSA|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\r",
        e(&n.tracking_id),
        e(&n.version),
        e(&n.event_kind),
        details(&n.title),
        e(n.severity.as_deref().unwrap_or_default()),
        n.cvss_score.map(|s| format!("{s:.1}")).unwrap_or_default(),
        e(&n.tlp),
        dtm_from_rfc3339(&n.initial_release_date),
        dtm_from_rfc3339(&n.current_release_date),
        e(&n.portal_url),
        details(&n.csaf_url),
        e(previous),
        e(&n.delivery_id),
    );
    if restricted {
        let _ = write!(m, "NTE|1|L|{}\r", escape(&restricted_note(n), true));
        return m;
    }
    for (i, p) in n.products.iter().enumerate() {
        let _ = write!(
            m,
            "ZAP|{}|{}|{}|{}|{}|{}|{}\r",
            i + 1,
            e(&p.product_id),
            e(&p.name),
            e(p.version.as_deref().unwrap_or_default()),
            e(p.udi_di.as_deref().unwrap_or_default()),
            e(p.cpe.as_deref().unwrap_or_default()),
            e(p.purl.as_deref().unwrap_or_default()),
        );
    }
    for (i, cve) in n.cves.iter().enumerate() {
        let _ = write!(m, "ZCV|{}|{}\r", i + 1, e(cve));
    }
    if !n.summary.is_empty() {
        let _ = write!(m, "NTE|1|L|{}\r", escape(&n.summary, true));
    }
    m
}

fn frame(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START_BLOCK);
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(&END_BLOCK);
    out
}

/// MSA-1, MSA-2 and MSA-3 of an ACK (framed or not).
struct Ack {
    code: String,
    control_id: String,
    text: String,
}

fn parse_ack(reply: &[u8]) -> Result<Ack, String> {
    let text = String::from_utf8_lossy(reply);
    let text = text
        .trim_start_matches(char::from(START_BLOCK))
        .trim_end_matches(['\u{1c}', '\r', '\n']);
    let msh = text
        .split(['\r', '\n'])
        .find(|s| s.starts_with("MSH"))
        .ok_or("the reply has no MSH segment")?;
    let separator = msh.chars().nth(3).ok_or("the reply's MSH is empty")?;
    let msa = text
        .split(['\r', '\n'])
        .find(|s| s.starts_with("MSA"))
        .ok_or("the reply has no MSA segment")?;
    let fields: Vec<&str> = msa.split(separator).collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or_default().to_string();
    Ok(Ack {
        code: field(1),
        control_id: field(2),
        text: field(3),
    })
}

/// Send one message and classify the receiver's ACK.
fn exchange(config: &Config, control_id: &str, message: &str) -> Result<Receipt, DeliveryError> {
    let request = ExchangeRequest {
        endpoint: config.endpoint.clone(),
        tls: config.tls,
        payload: frame(message),
        read_until: END_BLOCK.to_vec(),
        timeout_ms: config.ack_timeout_ms,
    };
    let reply = tcp::exchange(&request).map_err(|e| match e {
        TcpError::Denied(m) => DeliveryError::Misconfigured(format!("tcp denied: {m}")),
        TcpError::Timeout(m) => DeliveryError::Retryable(format!("no ACK in time: {m}")),
        TcpError::Transport(m) => DeliveryError::Retryable(format!("MLLP transport: {m}")),
        TcpError::TooLarge(m) => DeliveryError::Retryable(format!("ACK too large: {m}")),
    })?;
    let ack =
        parse_ack(&reply).map_err(|m| DeliveryError::Retryable(format!("unreadable ACK: {m}")))?;
    if ack.control_id != control_id {
        return Err(DeliveryError::Retryable(format!(
            "ACK is for message {:?}, not {control_id:?}",
            ack.control_id
        )));
    }
    let detail = if ack.text.is_empty() {
        format!("ACK {}", ack.code)
    } else {
        format!("ACK {}: {}", ack.code, ack.text)
    };
    log::debug(&format!("MLLP receiver answered {detail}"));
    match ack.code.as_str() {
        "AA" | "CA" => Ok(Receipt {
            remote_id: Some(control_id.to_string()),
            detail,
        }),
        "AE" | "CE" => Err(DeliveryError::Retryable(detail)),
        "AR" | "CR" => Err(DeliveryError::Permanent(detail)),
        other => Err(DeliveryError::Retryable(format!(
            "unknown acknowledgment code {other:?} ({detail})"
        ))),
    }
}

struct Hl7Mllp;

impl Channel for Hl7Mllp {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: VERSION.into(),
            display_name: "HL7 v2.5 over MLLP (ZSA^Z01)".into(),
            config_fields: vec![
                field(
                    "endpoint",
                    ConfigFieldKind::HostPort,
                    true,
                    "MLLP listener host:port; must also be granted to the destination.",
                ),
                field("tls", ConfigFieldKind::Text, false, "true to use TLS."),
                field(
                    "sending_application",
                    ConfigFieldKind::Text,
                    false,
                    "MSH-3 (default HERALD).",
                ),
                field("sending_facility", ConfigFieldKind::Text, false, "MSH-4."),
                field(
                    "receiving_application",
                    ConfigFieldKind::Text,
                    false,
                    "MSH-5.",
                ),
                field("receiving_facility", ConfigFieldKind::Text, false, "MSH-6."),
                field(
                    "processing_id",
                    ConfigFieldKind::Text,
                    false,
                    "MSH-11: P (default), T or D.",
                ),
                field(
                    "ack_timeout_ms",
                    ConfigFieldKind::Text,
                    false,
                    "How long to wait for the ACK (default 10000).",
                ),
            ],
        }
    }

    fn validate_config(config: String) -> Result<(), Vec<ConfigError>> {
        Config::validate_config(&config)
    }

    fn deliver(config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let message = message(&config, &n, now_millis());
        exchange(&config, &control_id(&n.delivery_id), &message)
    }

    fn test(config: String) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let now = now_millis();
        let n = Notification {
            delivery_id: format!("herald-test-{now}"),
            event_kind: "herald.test".into(),
            tracking_id: "HERALD-TEST".into(),
            version: "1".into(),
            title: "Test message from Herald: this destination is reachable.".into(),
            severity: None,
            cvss_score: None,
            cves: Vec::new(),
            products: Vec::new(),
            initial_release_date: String::new(),
            current_release_date: String::new(),
            tlp: String::new(),
            summary: String::new(),
            portal_url: String::new(),
            csaf_url: String::new(),
            previous_receipt: None,
            attempt: 1,
            rendered: None,
            unsubscribe_url: None,
        };
        exchange(
            &config,
            &control_id(&n.delivery_id),
            &message(&config, &n, now),
        )
    }
}

herald_plugin_sdk::export_channel!(Hl7Mllp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_encoding_characters() {
        assert_eq!(escape(r"a|b^c~d\e&f", false), r"a\F\b\S\c\R\d\E\e\T\f");
        assert_eq!(escape("x\r\ny\nz", true), r"x\.br\y\.br\z");
        assert_eq!(escape("x\ny", false), "x y");
    }

    #[test]
    fn formats_dates() {
        assert_eq!(dtm_from_millis(0), "19700101000000+0000");
        assert_eq!(dtm_from_millis(1_795_825_800_000), "20261128003000+0000");
        assert_eq!(
            dtm_from_rfc3339("2026-11-01T08:30:00Z"),
            "20261101083000+0000"
        );
        assert_eq!(
            dtm_from_rfc3339("2026-11-01T08:30:00.123+01:00"),
            "20261101083000+0100"
        );
        assert_eq!(dtm_from_rfc3339("soon|ish"), r"soon\F\ish");
    }

    #[test]
    fn reads_acks() {
        let ack =
            parse_ack(b"\x0bMSH|^~\\&|R|F|H|E|20261101||ACK^Z01|a1|P|2.5\rMSA|AE|d-1|busy\r\x1c\r")
                .expect("ack");
        assert_eq!(
            (
                ack.code.as_str(),
                ack.control_id.as_str(),
                ack.text.as_str()
            ),
            ("AE", "d-1", "busy")
        );
        assert!(parse_ack(b"garbage").is_err());
    }

    fn note(tlp: &str) -> Notification {
        Notification {
            delivery_id: "0192f5c4-7e1a-7cc2-9b1e-3f2a9d8e4b10".into(),
            event_kind: "advisory.published".into(),
            tracking_id: "EXMED-SA-2026-0042".into(),
            version: "2".into(),
            title: "Pump bypass".into(),
            severity: Some("high".into()),
            cvss_score: Some(8.1),
            cves: vec!["CVE-2026-1".into()],
            products: vec![herald_plugin_sdk::NotifiedProduct {
                product_id: "P1".into(),
                name: "InfuCare".into(),
                version: Some("4.2".into()),
                udi_di: Some("0401".into()),
                cpe: None,
                purl: None,
            }],
            initial_release_date: "2026-11-01T08:30:00Z".into(),
            current_release_date: "2026-11-01T08:30:00Z".into(),
            tlp: tlp.into(),
            summary: "Install firmware 4.3".into(),
            portal_url: "https://portal.test/a".into(),
            csaf_url: "https://portal.test/a.json".into(),
            previous_receipt: None,
            attempt: 1,
            rendered: None,
            unsubscribe_url: None,
        }
    }

    fn config() -> Config {
        serde_json::from_str(r#"{"endpoint": "127.0.0.1:2575"}"#).expect("config")
    }

    #[test]
    fn control_id_is_short_stable_and_distinct() {
        let a = control_id("0192f5c4-7e1a-7cc2-9b1e-3f2a9d8e4b10");
        assert_eq!(a.len(), MAX_CONTROL_ID);
        assert_eq!(a, control_id("0192f5c4-7e1a-7cc2-9b1e-3f2a9d8e4b10"));
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
        assert!(!a.contains(['|', '^', '~', '\\', '&', 'I', 'L', 'O', 'U']));
        // Ids that differ in one character (sequential UUIDv7s) get unrelated control ids.
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..10_000u32 {
            assert!(seen.insert(control_id(&format!(
                "0192f5c4-7e1a-7cc2-9b1e-3f2a9d8e{i:04x}"
            ))));
        }
        assert_eq!(control_id("").len(), MAX_CONTROL_ID);
    }

    #[test]
    fn restricted_tlp_sends_only_a_summary_and_the_link() {
        let open = message(&config(), &note("WHITE"), 0);
        assert!(open.contains("Pump bypass") && open.contains("ZAP|1|P1|InfuCare"));
        assert!(open.contains("NTE|1|L|Install firmware 4.3\r"));
        assert!(
            open.contains("|0192f5c4-7e1a-7cc2-9b1e-3f2a9d8e4b10\r"),
            "{open}"
        );
        let msh10 = open.split('|').nth(9).expect("MSH-10");
        assert_eq!(msh10, control_id("0192f5c4-7e1a-7cc2-9b1e-3f2a9d8e4b10"));
        for tlp in ["AMBER", "GREEN", "AMBER+STRICT"] {
            let m = message(&config(), &note(tlp), 0);
            for detail in [
                "Pump bypass",
                "InfuCare",
                "CVE-2026-1",
                "firmware",
                "a.json",
                "ZAP",
                "ZCV",
            ] {
                assert!(!m.contains(detail), "{tlp}: {detail} in {m}");
            }
            assert!(m.contains("https://portal.test/a"), "{m}");
            assert!(
                m.contains("NTE|1|L|Security advisory EXMED-SA-2026-0042 version 2"),
                "{m}"
            );
        }
        let mut rendered = note("AMBER");
        rendered.rendered = Some(herald_plugin_sdk::RenderedMessage {
            subject: "s".into(),
            text: "Summary|line\nhttps://portal.test/a\n".into(),
            html: String::new(),
        });
        let m = message(&config(), &rendered, 0);
        assert!(
            m.contains("NTE|1|L|Summary\\F\\line\\.br\\https://portal.test/a\r"),
            "{m}"
        );
    }
}
