//! The absolute URL of the current request, for links that keep every query parameter.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::{ApiError, FieldErrors};
use super::hosts::CheckedHost;
use super::validate::NULL_CHARACTERS;

/// Base URL from `KADRO_PUBLIC_URL`, put in the request extensions by the app; absent: Host.
#[derive(Clone, Debug)]
pub struct PublicUrl(pub Option<Arc<str>>);

/// Scheme + host, path (with the canonical trailing slash) and the decoded query pairs.
#[derive(Clone, Debug)]
pub struct RequestUrl {
    pub base: String,
    pub path: String,
    pairs: Vec<(String, String)>,
}

impl RequestUrl {
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Every value given for `key`, in order (`?fields=a&fields=b`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The last value given for `key`, as Django's `QueryDict.get` does.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// This URL without the parameters named in `keys`.
    pub fn without(&self, keys: &[&str]) -> RequestUrl {
        RequestUrl {
            base: self.base.clone(),
            path: self.path.clone(),
            pairs: self
                .pairs
                .iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }

    /// This URL with `key` set to `value` (replacing it in place or appending it), or removed.
    pub fn with_query_param(&self, key: &str, value: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(self.pairs.len() + 1);
        let mut placed = false;
        for (k, v) in &self.pairs {
            if k == key {
                if let (Some(value), false) = (value, placed) {
                    pairs.push((k, value));
                    placed = true;
                }
            } else {
                pairs.push((k, v));
            }
        }
        if let (Some(value), false) = (value, placed) {
            pairs.push((key, value));
        }
        let mut url = format!("{}{}", self.base, self.path);
        if !pairs.is_empty() {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            url.push('?');
            url.push_str(&query);
        }
        url
    }

    /// An absolute URL for `path` on this server.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// `KADRO_PUBLIC_URL` when set, else the scheme (`X-Forwarded-Proto`) and the request's `Host`,
/// which [`check_host`](super::hosts::check_host) has found allowed.
pub fn base_url(public: &PublicUrl, host: Option<&CheckedHost>, headers: &HeaderMap) -> String {
    if let Some(base) = &public.0 {
        return base.trim_end_matches('/').to_owned();
    }
    let host = host.map_or("localhost", |h| &h.0);
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|s| *s == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

impl<S: Send + Sync> FromRequestParts<S> for RequestUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let public = parts
            .extensions
            .get::<PublicUrl>()
            .cloned()
            .unwrap_or(PublicUrl(None));
        let base = base_url(
            &public,
            parts.extensions.get::<CheckedHost>(),
            &parts.headers,
        );
        let mut path = parts.uri.path().to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        refuse_null_characters(&pairs)?;
        Ok(RequestUrl { base, path, pairs })
    }
}

/// A query parameter holding a NUL character (`%00`) is a 400 naming it, whatever reads it
/// next (a filter, an export key, a page): PostgreSQL cannot compare text with one. Every
/// query string reaches the handlers through [`RequestUrl`], so this is the one check.
fn refuse_null_characters(pairs: &[(String, String)]) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    for (key, value) in pairs {
        if (key.contains('\0') || value.contains('\0')) && !errors.contains(key) {
            errors.add(key.as_str(), NULL_CHARACTERS);
        }
    }
    errors.into_result()
}

/// An integer id from the path; anything else is a 404, as an unmatched Django URL would be.
#[derive(Clone, Copy, Debug)]
pub struct IdPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound)?;
        raw.parse::<i64>()
            .map(IdPath)
            .map_err(|_| ApiError::NotFound)
    }
}

/// Two integer ids from the path (`/…/{id}/tokens/{token_id}`); anything else is a 404.
#[derive(Clone, Copy, Debug)]
pub struct IdsPath(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdsPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((a, b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound)?;
        match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(a), Ok(b)) => Ok(IdsPath(a, b)),
            _ => Err(ApiError::NotFound),
        }
    }
}
