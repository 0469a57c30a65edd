//! Allowed hosts, as Django's `ALLOWED_HOSTS`: a request whose `Host` names a host this server
//! does not answer for is refused with a 400, so that absolute links (pagination, export
//! downloads) are only ever built from `KADRO_PUBLIC_URL` or an allowed `Host`.
//!
//! The probes (`/healthz`, `/readyz`) answer whatever the `Host`: orchestrators probe a
//! container by its changing address, and the probes build no link.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::config::Config;

/// The host names this server answers for.
#[derive(Clone, Debug)]
pub struct AllowedHosts {
    any: bool,
    patterns: Vec<String>,
}

/// The request's `Host` (lowercase, with its port), once it has been found allowed.
#[derive(Clone, Debug)]
pub struct CheckedHost(pub Arc<str>);

impl AllowedHosts {
    /// `KADRO_ALLOWED_HOSTS`, or by default the bind address, `localhost`, `127.0.0.1` and the
    /// host of `KADRO_PUBLIC_URL`.
    pub fn from_config(config: &Config) -> Self {
        if !config.allowed_hosts.is_empty() {
            return Self::new(config.allowed_hosts.iter().map(String::as_str));
        }
        let mut defaults = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        defaults.extend(split_host(&config.bind).map(|(domain, _)| domain));
        if let Some(public) = &config.public_url {
            let authority = public
                .split_once("://")
                .map_or(public.as_str(), |(_, rest)| rest);
            let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
            defaults.extend(split_host(authority).map(|(domain, _)| domain));
        }
        Self::new(defaults.iter().map(String::as_str))
    }

    /// Patterns as Django takes them: `*` (any host), `.example.com` (the domain and its
    /// subdomains) or an exact name; case does not matter.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        let patterns: Vec<String> = patterns
            .into_iter()
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        AllowedHosts {
            any: patterns.iter().any(|p| p == "*"),
            patterns,
        }
    }

    /// Whether `host` (a `Host` header: name or address, optional port) is allowed; a host
    /// that is not a valid host name is never allowed, not even by `*`.
    pub fn allows(&self, host: &str) -> bool {
        let Some((domain, _)) = split_host(host) else {
            return false;
        };
        self.any
            || self.patterns.iter().any(|pattern| {
                *pattern == domain
                    || pattern.strip_prefix('.').is_some_and(|parent| {
                        domain == parent || domain.ends_with(pattern.as_str())
                    })
            })
    }
}

/// Django's `split_domain_port`: the lowercase domain (an IPv6 address keeps its brackets, a
/// trailing dot is dropped) and the port; `None` when `host` is not a valid host.
fn split_host(host: &str) -> Option<(String, Option<String>)> {
    let host = host.to_ascii_lowercase();
    let (domain, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        let (domain, rest) = host.split_at(end + 1);
        let inside = &domain[1..domain.len() - 1];
        let valid = inside.contains(':')
            && inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if !valid {
            return None;
        }
        let port = match rest {
            "" => None,
            rest => Some(rest.strip_prefix(':')?),
        };
        (domain.to_owned(), port)
    } else {
        let (domain, port) = match host.rsplit_once(':') {
            Some((domain, port)) => (domain, Some(port)),
            None => (host.as_str(), None),
        };
        let valid = !domain.is_empty()
            && domain
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        if !valid {
            return None;
        }
        (domain.trim_end_matches('.').to_owned(), port)
    };
    if port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    Some((domain, port.map(str::to_owned)))
}

/// Refuses a request whose `Host` (or, without one, the authority of its URI) is not allowed;
/// an allowed one is handed on as [`CheckedHost`].
pub async fn check_host(
    State(hosts): State<Arc<AllowedHosts>>,
    mut req: Request,
    next: Next,
) -> Response {
    if matches!(
        req.uri().path().trim_end_matches('/'),
        "/healthz" | "/readyz"
    ) {
        return next.run(req).await;
    }
    let host = match req.headers().get(header::HOST) {
        Some(value) => value.to_str().ok(),
        None => req.uri().authority().map(|a| a.as_str()),
    };
    match host {
        Some(host) if hosts.allows(host) => {
            let checked = CheckedHost(Arc::from(host.to_ascii_lowercase()));
            req.extensions_mut().insert(checked);
            next.run(req).await
        }
        _ => {
            tracing::info!(target: "kadro::security", host = ?host, "invalid Host header");
            ApiError::BadRequest("Invalid host header.".into()).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_as_django_does() {
        let hosts = AllowedHosts::new(["API.example.com", ".corp.example", "[::1]"]);
        for ok in [
            "api.example.com",
            "API.EXAMPLE.COM:8443",
            "api.example.com.",
            "corp.example",
            "a.b.corp.example:80",
            "[::1]:8000",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "example.com",
            "evilcorp.example",
            "api.example.com:x",
            "api.example.com:",
            "evil.example\"><script>",
            "",
            "[::1",
            "user@api.example.com",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
        let any = AllowedHosts::new(["*"]);
        assert!(any.allows("whatever.example:1234"));
        assert!(!any.allows("evil.example\"><script>"));
    }

    #[test]
    fn defaults_name_the_bind_address_and_the_public_url() {
        let mut config = Config::defaults();
        config.bind = "10.1.2.3:8000".into();
        config.public_url = Some("https://kadro.example.com/base/".into());
        let hosts = AllowedHosts::from_config(&config);
        for ok in [
            "localhost:8000",
            "127.0.0.1",
            "10.1.2.3:8000",
            "kadro.example.com",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        assert!(!hosts.allows("other.example.com"));
    }
}
