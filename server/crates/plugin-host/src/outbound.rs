//! The operator's outbound network policy: which non-public addresses plugins may reach, and
//! which hosts they may reach over plain http. It belongs to whoever runs Herald, not to whoever
//! edits a destination: a destination's grants (`allow_private_addresses`,
//! `allow_insecure_http`) can only narrow it, so the effective rule for a call is
//! operator policy ∩ destination grants.
//!
//! Default: no private range and no plain-http host, i.e. public addresses only, https only.
//!
//! The http, tcp and smtp capabilities all ask [`Reach::check`] about the addresses a name
//! resolved to, and then connect only to those checked addresses. Refusals name the host the
//! destination asked for and the setting that decides, never the address it resolved to: a
//! destination's owner learns nothing about the internal network (or which ports are open on it)
//! from a refusal.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where the operator lets plugins go beyond public https.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Non-public address ranges plugins may reach (for destinations that also allow private
    /// addresses): an on-premise integration engine's network, or loopback in tests.
    pub private_ranges: Vec<IpNet>,
    /// Hosts (`host` for any port, `host:port` for one) plugins may reach over plain http (for
    /// destinations that also allow it). Compared case-insensitively with the URL's host.
    pub insecure_http_hosts: Vec<String>,
}

/// The operator settings named in refusals, so the destination's owner knows whom to ask.
pub const PRIVATE_RANGES_SETTING: &str =
    "HERALD_OUTBOUND_PRIVATE_RANGES / [outbound] private_ranges";
pub const INSECURE_HTTP_SETTING: &str =
    "HERALD_OUTBOUND_INSECURE_HTTP_HOSTS / [outbound] insecure_http_hosts";

impl OutboundPolicy {
    /// Loopback only (127.0.0.0/8 and ::1), with plain http to `127.0.0.1`, `localhost` and
    /// `[::1]`: what a test with loopback receivers, or a demo on one machine, sets.
    pub fn loopback() -> Self {
        // (127.0.0.0/8 is a valid prefix: `new` cannot fail here.)
        let v4 = ipnet::Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).map(IpNet::V4);
        Self {
            private_ranges: v4
                .into_iter()
                .chain([IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST))])
                .collect(),
            insecure_http_hosts: vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()],
        }
    }

    /// Parses a list of ranges (`10.20.0.0/16`, `127.0.0.1` for one address, `fd00::/8`);
    /// the error names the entry that is not one.
    pub fn parse_ranges<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<IpNet>, String> {
        entries
            .into_iter()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!("{entry:?} is not an address range like 10.20.0.0/16 or an address")
                    })
            })
            .collect()
    }

    /// Checks a list of plain-http hosts (`host` or `host:port`, no scheme or path).
    pub fn parse_hosts<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<String>, String> {
        entries
            .into_iter()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                let bad = entry.contains("://")
                    || entry.contains(['/', '?', '#', '@', ' '])
                    || entry.starts_with(':');
                if bad {
                    Err(format!(
                        "{entry:?} is not a host or host:port (no scheme, path or credentials)"
                    ))
                } else {
                    Ok(entry.to_ascii_lowercase())
                }
            })
            .collect()
    }

    /// Whether the operator lets plugins reach `ip` though it is not public.
    pub fn allows_private(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.private_ranges.iter().any(|range| range.contains(&ip))
    }

    /// Whether the operator lets plugins use plain http to `host` on `port`.
    pub fn allows_insecure_http(&self, host: &str, port: u16) -> bool {
        crate::http::host_granted(&self.insecure_http_hosts, host, port)
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is the IPv4 address it maps to: the ranges
/// are written in IPv4 and the connection goes there.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The effective address rule of one call: the operator's policy narrowed by the destination.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    pub operator: std::sync::Arc<OutboundPolicy>,
    /// The destination's `allow_private_addresses` grant.
    pub destination_allows_private: bool,
}

impl Reach {
    /// Whether every address `host` resolved to may be connected to; otherwise the refusal,
    /// which names the host and the deciding setting but not the addresses. One address that is
    /// not allowed refuses the whole answer, so a name cannot mix an allowed address with an
    /// internal one and hope the client picks the second.
    pub fn check(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), String> {
        for addr in addrs {
            let ip = addr.ip();
            if is_public(ip) {
                continue;
            }
            if !self.operator.allows_private(ip) {
                return Err(format!(
                    "the address of host {host} is not allowed by the operator's outbound policy \
                     ({PRIVATE_RANGES_SETTING})"
                ));
            }
            if !self.destination_allows_private {
                return Err(format!(
                    "host {host} has a private address, which this destination does not allow \
                     (its grant allow_private_addresses)"
                ));
            }
        }
        Ok(())
    }

    /// [`Reach::check`] for an address that is already known (an IP literal).
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        self.check(host, &[SocketAddr::new(ip, 0)])
    }
}

/// Whether an address is globally routable, i.e. not loopback, private, link-local, shared,
/// documentation, benchmarking, multicast or otherwise reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0];
            if nat64 {
                let o = v6.octets();
                return is_public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::10.0.0.1",
        ] {
            let ip: IpAddr = private.parse().expect("address");
            assert!(!is_public(ip), "{private} must not count as public");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            let ip: IpAddr = public.parse().expect("address");
            assert!(is_public(ip), "{public} is public");
        }
    }

    fn addr(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().expect("address"), 443)
    }

    #[test]
    fn the_operator_decides_and_the_destination_only_narrows() {
        let none = Arc::new(OutboundPolicy::default());
        let lan = Arc::new(OutboundPolicy {
            private_ranges: OutboundPolicy::parse_ranges(["10.20.0.0/16", "::1"]).expect("ranges"),
            insecure_http_hosts: Vec::new(),
        });
        let reach = |operator: &Arc<OutboundPolicy>, allows: bool| Reach {
            operator: operator.clone(),
            destination_allows_private: allows,
        };
        // Public addresses: always.
        assert!(reach(&none, false).check("x", &[addr("1.1.1.1")]).is_ok());
        // Default policy: a destination's own grant gets nothing private.
        let refused = reach(&none, true)
            .check("probe.example", &[addr("127.0.0.1")])
            .expect_err("loopback refused by default");
        assert!(
            refused.contains("probe.example") && refused.contains(PRIVATE_RANGES_SETTING),
            "{refused}"
        );
        assert!(
            !refused.contains("127.0.0.1"),
            "no address revealed: {refused}"
        );
        // Inside the operator's range: only where the destination allows it too.
        assert!(reach(&lan, true).check("h", &[addr("10.20.3.4")]).is_ok());
        assert!(
            reach(&lan, true)
                .check("h", &[addr("::ffff:10.20.3.4")])
                .is_ok()
        );
        assert!(reach(&lan, true).check("h", &[addr("::1")]).is_ok());
        let narrowed = reach(&lan, false)
            .check("h", &[addr("10.20.3.4")])
            .expect_err("destination narrows");
        assert!(narrowed.contains("allow_private_addresses"), "{narrowed}");
        // Outside it, and one bad address spoils the answer.
        for outside in ["10.21.0.1", "127.0.0.1", "169.254.169.254"] {
            assert!(
                reach(&lan, true).check("h", &[addr(outside)]).is_err(),
                "{outside}"
            );
        }
        assert!(
            reach(&lan, true)
                .check("h", &[addr("1.1.1.1"), addr("192.168.0.1")])
                .is_err()
        );
    }

    #[test]
    fn settings_parse_and_name_bad_entries() {
        let ranges = OutboundPolicy::parse_ranges(["127.0.0.0/8", " 10.1.2.3 ", "", "fd00::/8"])
            .expect("valid");
        assert_eq!(ranges.len(), 3);
        assert!(OutboundPolicy::parse_ranges(["10.0.0.0/33"]).is_err());
        let e = OutboundPolicy::parse_ranges(["intranet"]).expect_err("not a range");
        assert!(e.contains("intranet"), "{e}");
        let hosts =
            OutboundPolicy::parse_hosts(["Mirth.Hospital.Test:8080", "127.0.0.1"]).expect("valid");
        assert_eq!(hosts, vec!["mirth.hospital.test:8080", "127.0.0.1"]);
        for bad in ["http://x", "x/y", "user@x", ":80"] {
            assert!(OutboundPolicy::parse_hosts([bad]).is_err(), "{bad}");
        }
        let loopback = OutboundPolicy::loopback();
        assert!(loopback.allows_private("127.8.9.1".parse().expect("ip")));
        assert!(!loopback.allows_private("10.0.0.1".parse().expect("ip")));
        assert!(loopback.allows_insecure_http("127.0.0.1", 8080));
        assert!(!loopback.allows_insecure_http("hooks.example", 80));
    }
}
