//! The client's address: the socket peer, or, when the peer is a trusted proxy
//! (`KADRO_TRUSTED_PROXIES`), the right-most address of `X-Forwarded-For` that no trusted proxy
//! added. Everything left of that could have been written by the client itself.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::ApiError;

/// One trusted proxy: an address, or a CIDR range (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    network: IpAddr,
    prefix: u8,
}

impl Range {
    fn parse(text: &str) -> Option<Range> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.trim().parse().ok()?;
        let network = network.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= bits)?,
            None => bits,
        };
        Some(Range { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let p = u32::from(self.prefix);
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies whose `X-Forwarded-For` is believed; empty: none, the peer is the client.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<Vec<Range>>);

impl TrustedProxies {
    /// Parses `KADRO_TRUSTED_PROXIES` entries; a bad entry is an error naming it.
    pub fn parse(entries: &[String]) -> anyhow::Result<TrustedProxies> {
        let mut ranges = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let range = Range::parse(entry).ok_or_else(|| {
                anyhow::anyhow!("KADRO_TRUSTED_PROXIES: {entry:?} is not an address or CIDR range")
            })?;
            ranges.push(range);
        }
        Ok(TrustedProxies(Arc::new(ranges)))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client of a request that came from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        // Every X-Forwarded-For header, in order, read as one list; an unparsable entry ends
        // the walk (nothing left of it can be believed either).
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client's address; `None` when the server was started without peer addresses (a router
/// served by hand in a test).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientAddr(None));
        };
        let proxies = parts
            .extensions
            .get::<TrustedProxies>()
            .cloned()
            .unwrap_or_default();
        Ok(ClientAddr(Some(proxies.client(peer.ip(), &parts.headers))))
    }
}

/// The longest `User-Agent` kept with a token; longer ones are cut.
const USER_AGENT_MAX: usize = 512;

/// The request's `User-Agent`, cut to a sane length; `None` when absent or not text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().take(USER_AGENT_MAX).collect());
        Ok(UserAgent(agent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = proxies(&[]);
        assert_eq!(
            none.client(ip("203.0.113.9"), &headers(&["1.1.1.1"])),
            ip("203.0.113.9")
        );
        let other = proxies(&["10.0.0.1"]);
        assert_eq!(
            other.client(ip("10.0.0.2"), &headers(&["1.1.1.1"])),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn a_trusted_peer_gives_the_rightmost_untrusted_forwarded_address() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.5"]);
        // The client wrote "6.6.6.6" itself; the proxies appended what they saw.
        let h = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(p.client(ip("192.168.1.5"), &h), ip("198.51.100.7"));
        assert_eq!(
            p.client(ip("10.9.9.9"), &headers(&["198.51.100.7:4711"])),
            ip("198.51.100.7")
        );
        // Every hop trusted: the left-most one is as far as we can see.
        assert_eq!(
            p.client(ip("10.0.0.1"), &headers(&["10.0.0.7, 10.0.0.8"])),
            ip("10.0.0.7")
        );
        // No header: the proxy itself.
        assert_eq!(p.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            p.client(ip("10.0.0.1"), &headers(&["1.2.3.4, nonsense, 10.0.0.3"])),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn ranges_and_address_forms() {
        let p = proxies(&["2001:db8::/32", "127.0.0.1"]);
        assert_eq!(
            p.client(ip("2001:db8::1"), &headers(&["[2001:db8::2]:80, 2a00::1"])),
            ip("2a00::1")
        );
        // An IPv4 peer seen through an IPv6 socket is still that IPv4 address.
        assert_eq!(
            p.client(ip("::ffff:127.0.0.1"), &headers(&["5.5.5.5"])),
            ip("5.5.5.5")
        );
        assert!(Range::parse("10.0.0.0/33").is_none());
        assert!(Range::parse("not-an-ip").is_none());
        assert!(TrustedProxies::parse(&["10.0.0.0/8".into(), "x".into()]).is_err());
        assert!(Range::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!Range::parse("10.0.0.0/8").unwrap().contains(ip("11.0.0.1")));
    }
}
