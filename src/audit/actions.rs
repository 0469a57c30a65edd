//! The one list of audit actions: what the audit log records and what a webhook may subscribe
//! to. A write that records an action missing here fails in debug builds (the tests), so the
//! list, the README and the webhooks' validation cannot drift apart.

/// Every action the audit log records, grouped by what it acts on.
pub const ACTIONS: &[&str] = &[
    "user.create",
    "user.update",
    "user.activate",
    "user.deactivate",
    "user.update_remote_id",
    "user.password_change",
    "staff_user.create",
    "staff_user.update",
    "division.create",
    "division.update",
    "division.delete",
    "division.activate",
    "division.deactivate",
    "staff.create",
    "staff.update",
    "staff.deactivate",
    "staff.password_change",
    "store.create",
    "store.update",
    "store.delete",
    "permission_group.create",
    "permission_group.update",
    "permission_group.delete",
    "country.create",
    "country.update",
    "country.delete",
    "city.create",
    "city.update",
    "city.delete",
    "township.create",
    "township.update",
    "township.delete",
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "auth.locked",
    "auth.unlock",
    "token.issue",
    "token.revoke",
    "export.request",
    "export.download",
    "import.start",
    "import.finish",
    "webhook.create",
    "webhook.update",
    "webhook.delete",
    "webhook.disable",
    "webhook.redeliver",
];

/// Whether `action` is one of [`ACTIONS`].
pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
}

/// The part of an action before its dot (`user` for `user.create`).
pub fn prefix(action: &str) -> &str {
    action.split_once('.').map_or(action, |(p, _)| p)
}

/// Whether `pattern` names actions: a known action, `<prefix>.*` for a known prefix, or `*`.
pub fn is_pattern(pattern: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(p) => ACTIONS.iter().any(|a| prefix(a) == p),
        None => is_known(pattern),
    }
}

/// The patterns that select `action`: itself, its prefix's wildcard and `*`.
pub fn patterns_of(action: &str) -> [String; 3] {
    [
        action.to_owned(),
        format!("{}.*", prefix(action)),
        "*".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_name_known_actions_only() {
        for p in [
            "user.create",
            "user.*",
            "staff.deactivate",
            "*",
            "webhook.*",
        ] {
            assert!(is_pattern(p), "{p}");
        }
        for p in [
            "user.nope",
            "nope.*",
            "user",
            "",
            "user.**",
            "*.create",
            "user.%",
        ] {
            assert!(!is_pattern(p), "{p}");
        }
        assert_eq!(patterns_of("user.update")[1], "user.*");
    }

    #[test]
    fn actions_are_unique_and_dotted() {
        for (i, a) in ACTIONS.iter().enumerate() {
            assert!(a.contains('.') && !a.contains('*'), "{a}");
            assert!(!ACTIONS[..i].contains(a), "{a} twice");
        }
    }
}
