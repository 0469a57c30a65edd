//! Who is calling: `Authorization: Token …` or `Bearer …`, resolved to a B2B account, an
//! Instore staff or a configured service token.

pub mod cache;
pub mod password;
pub mod routes;
pub mod token;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::db::Query;
use crate::http::error::ApiError;
pub use token::AccountKind;

const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";
const INVALID_TOKEN: &str = "Invalid token.";
const INACTIVE: &str = "User inactive or deleted.";

/// A B2B account as authentication sees it.
#[derive(Clone, Debug)]
pub struct B2bCaller {
    pub id: i64,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub division_id: Option<i64>,
}

/// An Instore staff as authentication sees it.
#[derive(Clone, Debug)]
pub struct StaffCaller {
    pub id: i64,
    pub is_superuser: bool,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A `KADRO_SERVICE_TOKENS` token: acts as superuser everywhere.
    Service,
    User(B2bCaller),
    Staff(StaffCaller),
}

impl Caller {
    /// What kind of account calls, as the request span's `caller` field names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Caller::Service => "service",
            Caller::User(_) => "user",
            Caller::Staff(_) => "staff",
        }
    }

    /// Superusers and service tokens may call every endpoint.
    pub fn is_superuser(&self) -> bool {
        match self {
            Caller::Service => true,
            Caller::User(u) => u.is_superuser,
            Caller::Staff(s) => s.is_superuser,
        }
    }

    /// Allows B2B superusers and service tokens only: Instore staffs, even superuser ones,
    /// reach Instore endpoints only.
    pub fn require_superuser(&self) -> Result<(), ApiError> {
        if self.is_superuser() && !matches!(self, Caller::Staff(_)) {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied)
        }
    }

    /// Allows B2B staff (and B2B superusers); the B2B admin APIs start with this check.
    pub fn require_b2b_staff(&self) -> Result<Option<&B2bCaller>, ApiError> {
        match self {
            Caller::Staff(_) => Err(ApiError::PermissionDenied),
            _ if self.is_superuser() => Ok(None),
            Caller::User(u) if u.is_staff => Ok(Some(u)),
            _ => Err(ApiError::PermissionDenied),
        }
    }
}

#[derive(sqlx::FromRow)]
struct TokenOwner {
    account_kind: String,
    user_id: Option<i64>,
    user_active: Option<bool>,
    user_staff: Option<bool>,
    user_superuser: Option<bool>,
    user_division: Option<i64>,
}

/// The token of the request, if the header carries one (`Token` or `Bearer`).
pub fn presented_token(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthenticated(INVALID_TOKEN))?;
    let mut words = value.split_whitespace();
    let scheme = words.next().unwrap_or("");
    if !scheme.eq_ignore_ascii_case("token") && !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, ...) is not ours: as DRF, treat it as no credentials.
        return Ok(None);
    }
    match (words.next(), words.next()) {
        (Some(key), None) => Ok(Some(key.to_owned())),
        (None, _) => Err(ApiError::Unauthenticated(
            "Invalid token header. No credentials provided.",
        )),
        (Some(_), Some(_)) => Err(ApiError::Unauthenticated(
            "Invalid token header. Token string should not contain spaces.",
        )),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let token = presented_token(parts)?.ok_or(ApiError::Unauthenticated(NO_CREDENTIALS))?;
        let caller = authenticate(state, &token).await?;
        tracing::Span::current().record("caller", caller.kind());
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// A caller that may do anything outside Instore: a B2B superuser or a service token. The
/// extractor answers 401 without a valid token and 403 for any other caller.
#[derive(Clone, Debug)]
pub struct Superuser(pub Caller);

impl FromRequestParts<AppState> for Superuser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_superuser()?;
        Ok(Superuser(caller))
    }
}

/// Resolves a token to its caller; deactivated accounts are refused on every request.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let digest = token::digest(token);
    let is_service = state
        .service_token_digests
        .iter()
        .any(|d| bool::from(d.as_bytes().ct_eq(digest.as_bytes())));
    if is_service {
        return Ok(Caller::Service);
    }
    if let Some(caller) = state.auth_cache.get(&digest) {
        return Ok(caller);
    }
    let caller = lookup(state, &digest).await?;
    state.auth_cache.put(digest, &caller);
    Ok(caller)
}

/// Reads a token's account; deactivated accounts are refused.
async fn lookup(state: &AppState, digest: &str) -> Result<Caller, ApiError> {
    let owner: Option<TokenOwner> = Query::new(
        "SELECT t.account_kind, u.id AS user_id, u.is_active AS user_active, \
         u.is_staff AS user_staff, u.is_superuser AS user_superuser, u.division_id AS user_division \
         FROM api_tokens t LEFT JOIN users u ON t.account_kind = 'user' AND u.id = t.account_id \
         WHERE t.key_hash = $1",
    )
    .bind(digest)
    .fetch_optional(&state.db)
    .await?;
    let owner = owner.ok_or(ApiError::Unauthenticated(INVALID_TOKEN))?;
    match owner.account_kind.as_str() {
        "user" => {
            let id = owner
                .user_id
                .ok_or(ApiError::Unauthenticated(INVALID_TOKEN))?;
            if owner.user_active != Some(true) {
                return Err(ApiError::Unauthenticated(INACTIVE));
            }
            Ok(Caller::User(B2bCaller {
                id,
                is_staff: owner.user_staff.unwrap_or(false),
                is_superuser: owner.user_superuser.unwrap_or(false),
                division_id: owner.user_division,
            }))
        }
        "staff" => crate::instore::auth::staff_caller(state, digest).await,
        _ => Err(ApiError::Unauthenticated(INVALID_TOKEN)),
    }
}
