//! Where a webhook may send: `https` URLs on public addresses, unless
//! `KADRO_WEBHOOK_ALLOW_PRIVATE` lets it reach `http` and private, loopback and link-local
//! targets. The URL is checked when a webhook is saved and again at each delivery, where a
//! host name's resolved addresses are checked too ([`SafeResolver`]), so a name that later
//! resolves to an internal address is still refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub const NOT_PUBLIC: &str = "The URL must not point to a private, loopback or link-local address.";

/// What is wrong with a webhook URL, if anything (the message a client is shown).
pub fn problem(raw: &str, allow_private: bool) -> Option<&'static str> {
    let Ok(url) = Url::parse(raw) else {
        return Some("Enter a valid URL.");
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ if allow_private => return Some("Enter an http or https URL."),
        _ => return Some("Enter an https URL."),
    }
    let Some(host) = url.host() else {
        return Some("Enter a valid URL.");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Some("The URL must not carry a user name or password.");
    }
    if allow_private {
        return None;
    }
    let refused = match host {
        url::Host::Ipv4(ip) => !is_public(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => !is_public(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    refused.then_some(NOT_PUBLIC)
}

/// Whether `ip` is a public unicast address: not private, loopback, link-local, shared
/// (carrier-grade NAT), unspecified, broadcast, multicast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 to any IPv4 address
}

/// Resolves host names through the system, keeping only public addresses: a name with none
/// is refused before any connection is made.
#[derive(Debug, Default)]
pub struct SafeResolver;

impl Resolve for SafeResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host}: {NOT_PUBLIC}").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_refused() {
        for url in [
            "https://127.0.0.1/",
            "https://10.1.2.3/hook",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost:8443/",
            "https://api.localhost/",
        ] {
            assert_eq!(problem(url, false), Some(NOT_PUBLIC), "{url}");
            assert_eq!(problem(url, true), None, "{url}");
        }
    }

    #[test]
    fn schemes_and_shapes() {
        assert_eq!(problem("https://hooks.example.com/k", false), None);
        assert_eq!(problem("https://8.8.8.8/", false), None);
        assert_eq!(
            problem("http://hooks.example.com/", false),
            Some("Enter an https URL.")
        );
        assert_eq!(problem("http://127.0.0.1:9/", true), None);
        assert_eq!(
            problem("ftp://hooks.example.com/", true),
            Some("Enter an http or https URL.")
        );
        assert_eq!(problem("not a url", false), Some("Enter a valid URL."));
        assert!(problem("https://u:p@hooks.example.com/", false).is_some());
    }
}
