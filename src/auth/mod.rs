//! Who is calling: `Authorization: Token …` or `Bearer …`, resolved to a B2B account, an
//! Instore staff or a configured service token.

pub mod account_admin;
pub mod cache;
pub mod housekeeping;
pub mod legacy;
pub mod lockout;
pub mod notify;
pub mod password;
pub mod routes;
pub mod throttle;
pub mod token;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::db::Query;
use crate::http::error::ApiError;
use crate::http::time;
use crate::state::AppState;
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

    /// Who calls, as request log lines name it: `user:12`, `staff:4` or `service`.
    pub fn label(&self) -> String {
        match self {
            Caller::Service => "service".into(),
            Caller::User(u) => format!("user:{}", u.id),
            Caller::Staff(s) => format!("staff:{}", s.id),
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

/// A token with whichever account it belongs to: the `users` columns for a B2B account, the
/// `staffs` columns for an Instore staff (the other side is NULL).
#[derive(sqlx::FromRow)]
struct TokenOwner {
    token_id: i64,
    created_at: DateTime<Utc>,
    last_used: Option<DateTime<Utc>>,
    account_kind: String,
    user_id: Option<i64>,
    user_active: Option<bool>,
    user_staff: Option<bool>,
    user_superuser: Option<bool>,
    user_division: Option<i64>,
    staff_id: Option<i64>,
    staff_active: Option<bool>,
    staff_superuser: Option<bool>,
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
        tracing::Span::current().record("caller", tracing::field::display(caller.label()));
        crate::audit::set_actor(crate::audit::Actor::from(&caller));
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

/// Resolves a token to its caller; deactivated accounts and expired tokens
/// (`KADRO_TOKEN_TTL_SECONDS`) are refused on every request. A token's `last_used` is written
/// at most once a minute (and not while its caller is cached).
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
    let now = time::now();
    let ticket = state.auth_cache.ticket();
    let owner = lookup(state, &digest).await?;
    let expires = state
        .config
        .token_ttl()
        .and_then(|ttl| chrono::Duration::from_std(ttl).ok())
        .map(|ttl| owner.created_at + ttl);
    if expires.is_some_and(|expires| expires <= now) {
        return Err(ApiError::Unauthenticated(INVALID_TOKEN));
    }
    let (token_id, last_used) = (owner.token_id, owner.last_used);
    let caller = owner.into_caller()?;
    let every = chrono::Duration::from_std(token::LAST_USED_EVERY).unwrap_or_default();
    if last_used.is_none_or(|at| now - at >= every) {
        // Bookkeeping: a failed write must not fail the request.
        if let Err(e) = token::touch(&state.db, token_id, now).await {
            tracing::warn!(error = %e, "cannot record a token's last use");
        }
    }
    let valid_for = expires.map(|expires| (expires - now).to_std().unwrap_or_default());
    state.auth_cache.put(digest, &caller, ticket, valid_for);
    Ok(caller)
}

/// Reads a token and its account, B2B account or Instore staff, in one query.
async fn lookup(state: &AppState, digest: &str) -> Result<TokenOwner, ApiError> {
    let owner: Option<TokenOwner> = Query::new(
        "SELECT t.id AS token_id, t.created_at, t.last_used, t.account_kind, \
         u.id AS user_id, u.is_active AS user_active, \
         u.is_staff AS user_staff, u.is_superuser AS user_superuser, u.division_id AS user_division, \
         s.id AS staff_id, s.is_active AS staff_active, s.is_superuser AS staff_superuser \
         FROM api_tokens t \
         LEFT JOIN users u ON t.account_kind = 'user' AND u.id = t.account_id \
         LEFT JOIN staffs s ON t.account_kind = 'staff' AND s.id = t.account_id \
         WHERE t.key_hash = $1",
    )
    .bind(digest)
    .fetch_optional(&state.db)
    .await?;
    owner.ok_or(ApiError::Unauthenticated(INVALID_TOKEN))
}

impl TokenOwner {
    /// The token's caller; deactivated accounts are refused (401) even if one of their tokens
    /// survived.
    fn into_caller(self) -> Result<Caller, ApiError> {
        let found = match self.account_kind.as_str() {
            "user" => self.user_id.map(|id| {
                let caller = Caller::User(B2bCaller {
                    id,
                    is_staff: self.user_staff.unwrap_or(false),
                    is_superuser: self.user_superuser.unwrap_or(false),
                    division_id: self.user_division,
                });
                (self.user_active, caller)
            }),
            "staff" => self.staff_id.map(|id| {
                let caller = Caller::Staff(StaffCaller {
                    id,
                    is_superuser: self.staff_superuser.unwrap_or(false),
                });
                (self.staff_active, caller)
            }),
            _ => None,
        };
        let (active, caller) = found.ok_or(ApiError::Unauthenticated(INVALID_TOKEN))?;
        if active != Some(true) {
            return Err(ApiError::Unauthenticated(INACTIVE));
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(kind: &str) -> TokenOwner {
        TokenOwner {
            token_id: 1,
            created_at: time::now(),
            last_used: None,
            account_kind: kind.into(),
            user_id: None,
            user_active: None,
            user_staff: None,
            user_superuser: None,
            user_division: None,
            staff_id: None,
            staff_active: None,
            staff_superuser: None,
        }
    }

    fn refusal(owner: TokenOwner) -> &'static str {
        match owner.into_caller() {
            Err(ApiError::Unauthenticated(why)) => why,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn one_row_resolves_either_kind_of_account() {
        let user = TokenOwner {
            user_id: Some(7),
            user_active: Some(true),
            user_staff: Some(true),
            user_division: Some(3),
            ..owner("user")
        };
        let Ok(Caller::User(u)) = user.into_caller() else {
            panic!("not a user")
        };
        assert_eq!(
            (u.id, u.is_staff, u.is_superuser, u.division_id),
            (7, true, false, Some(3))
        );
        let staff = TokenOwner {
            staff_id: Some(9),
            staff_active: Some(true),
            staff_superuser: Some(true),
            // A staff token never reads the users side, whatever it holds.
            user_id: Some(9),
            ..owner("staff")
        };
        let Ok(Caller::Staff(s)) = staff.into_caller() else {
            panic!("not a staff")
        };
        assert_eq!((s.id, s.is_superuser), (9, true));
    }

    #[test]
    fn missing_or_inactive_accounts_are_refused() {
        assert_eq!(refusal(owner("user")), INVALID_TOKEN);
        assert_eq!(refusal(owner("staff")), INVALID_TOKEN);
        assert_eq!(refusal(owner("robot")), INVALID_TOKEN);
        let inactive_staff = TokenOwner {
            staff_id: Some(1),
            staff_active: Some(false),
            ..owner("staff")
        };
        assert_eq!(refusal(inactive_staff), INACTIVE);
        let inactive_user = TokenOwner {
            user_id: Some(1),
            user_active: Some(false),
            ..owner("user")
        };
        assert_eq!(refusal(inactive_user), INACTIVE);
    }
}
