//! The audit events of user writes (`user.create`, `user.update`), built from the rows the
//! service already holds; the service records them in its transactions.

use serde_json::json;

use super::store::{NewUser, Profile, UserRow};
use crate::audit::{self, Event};

/// `user.create`: every field of the new user but its password and shop token.
pub fn created(id: i64, new: &NewUser<'_>) -> Event {
    Event::new("user.create", "user", id).changes(audit::created(&json!({
        "email": new.email,
        "first_name": new.first_name,
        "last_name": new.last_name,
        "phone_number": new.phone_number,
        "division": new.division_id,
    })))
}

/// The profile of a stored user, to compare with the one an update writes.
fn profile_of(user: &UserRow) -> Profile {
    let a = &user.account;
    Profile {
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        phone_number: a.phone_number.clone(),
        division_id: a.division_id,
        is_active: a.is_active,
    }
}

/// `user.update`: the profile fields that changed.
pub fn updated(user: &UserRow, after: &Profile) -> Event {
    let changes = audit::diff_of(&profile_of(user), after);
    Event::new("user.update", "user", user.account.id).changes(changes)
}

/// `user.activate` or `user.deactivate`.
pub fn activity(user: &UserRow, active: bool) -> Event {
    let action = if active {
        "user.activate"
    } else {
        "user.deactivate"
    };
    let event = Event::new(action, "user", user.account.id);
    event.change("is_active", user.account.is_active, active)
}
