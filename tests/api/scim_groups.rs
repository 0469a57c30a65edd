//! SCIM Groups at `/scim/v2/Groups`: permission groups whose members are staffs, written
//! through the permission group service.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::instore_support::{geo, group, staff, store};
use crate::on_both_backends;
use crate::scim_support::{assert_error, ids, patch, scim, urlencode};

on_both_backends!(
    groups_are_permission_groups_with_staff_members,
    bad_group_writes_change_nothing,
    deprovisioned_members_are_hidden_and_kept,
);

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A member as SCIM shows it by default: `display` (the userName) only when asked for.
fn member(id: i64, _user_name: &str) -> Value {
    json!({"value": id.to_string(), "$ref": format!("/scim/v2/Users/{id}"), "type": "User"})
}

/// A Group as SCIM shows it, `meta` taken from the answer (its dates are the server's).
fn expected(answer: &Value, name: &str, members: Vec<Value>) -> Value {
    let id = answer["id"].as_str().unwrap();
    let meta = &answer["meta"];
    assert_eq!(meta["resourceType"], "Group");
    assert_eq!(meta["location"], format!("/scim/v2/Groups/{id}"));
    assert!(
        meta["version"].as_str().unwrap().starts_with("W/\""),
        "{meta}"
    );
    json!({"schemas": [GROUP], "id": id, "displayName": name, "externalId": answer["externalId"],
           "members": members, "meta": meta})
}

/// The staff ids linked to `group` in the database.
async fn linked(app: &TestApp, group: &str) -> Vec<i64> {
    kadro::db::Query::new(
        "SELECT staff_id FROM staff_permission_groups WHERE group_id = $1 ORDER BY staff_id",
    )
    .bind(group.parse::<i64>().unwrap())
    .scalars(&app.state.db)
    .await
    .unwrap()
}

async fn groups_are_permission_groups_with_staff_members(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let ada = staff(&app, "ada@example.com", Some("ada"), &[shop], &[]).await;
    let bob = staff(&app, "bob@example.com", Some("bob"), &[shop], &[]).await;
    let cy = staff(&app, "cy@example.com", Some("cy"), &[shop], &[]).await;

    let body = json!({"schemas": [GROUP], "displayName": "Cashiers", "externalId": "entra-1",
                      "members": [{"value": ada.to_string()}, {"value": bob.to_string()}]});
    let (status, created) = scim(&app, Method::POST, "/scim/v2/Groups", root, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["externalId"], "entra-1");
    let members = vec![member(ada, "ada"), member(bob, "bob")];
    assert_eq!(created, expected(&created, "Cashiers", members));
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(linked(&app, &id).await, [ada, bob]);
    let (_, api) = app.get(&format!("/api/v1/permission_groups/{id}/")).await;
    assert_eq!(api["name"], "Cashiers");
    assert_eq!(api["permissions"], json!([]));
    let (_, api) = app.get(&format!("/api/v1/staffs/{ada}/")).await;
    assert_eq!(
        api["permission_groups"],
        json!([id.parse::<i64>().unwrap()])
    );

    let path = format!("/scim/v2/Groups/{id}");
    let (status, got) = scim(&app, Method::GET, &path, root, None).await;
    assert_eq!((status, &got), (StatusCode::OK, &created));
    // A member's display (returned: request) when asked for; the external id filters.
    let asked = format!("{path}?attributes=members.display,members.value");
    let (_, got) = scim(&app, Method::GET, &asked, root, None).await;
    assert_eq!(
        got["members"],
        json!([{"value": ada.to_string(), "display": "ada"},
               {"value": bob.to_string(), "display": "bob"}])
    );
    let by_external = format!(
        "/scim/v2/Groups?filter={}",
        urlencode("externalId eq \"entra-1\"")
    );
    let (_, list) = scim(&app, Method::GET, &by_external, root, None).await;
    assert_eq!(ids(&list), std::slice::from_ref(&id));
    let (_, user) = scim(
        &app,
        Method::GET,
        &format!("/scim/v2/Users/{ada}"),
        root,
        None,
    )
    .await;
    assert_eq!(user["groups"], json!([{"value": id}]));

    // Lists: filters on displayName and members, sorted, projected.
    let other = group(&app, "Managers", &[]).await.to_string();
    for (filter, expected) in [
        ("displayName eq \"cashiers\"", vec![id.clone()]),
        (
            &format!("members[value eq \"{bob}\"]") as &str,
            vec![id.clone()],
        ),
        (&format!("members.value eq \"{cy}\""), vec![]),
        ("not (displayName sw \"C\")", vec![other.clone()]),
        ("displayName pr", vec![id.clone(), other.clone()]),
    ] {
        let path = format!("/scim/v2/Groups?filter={}", urlencode(filter));
        let (status, list) = scim(&app, Method::GET, &path, root, None).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {list}");
        assert_eq!(ids(&list), expected, "{filter}");
    }
    let sorted = "/scim/v2/Groups?sortBy=displayName&sortOrder=descending&attributes=displayName";
    let (_, list) = scim(&app, Method::GET, sorted, root, None).await;
    assert_eq!(
        list["Resources"],
        json!([{"schemas": [GROUP], "id": other, "displayName": "Managers"},
               {"schemas": [GROUP], "id": id, "displayName": "Cashiers"}])
    );

    // PUT: the name and the members as sent.
    let body = json!({"schemas": [GROUP], "displayName": "Tills",
                      "members": [{"value": cy.to_string()}]});
    let (status, replaced) = scim(&app, Method::PUT, &path, root, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        replaced["externalId"],
        Value::Null,
        "PUT without externalId clears it"
    );
    assert_eq!(
        replaced,
        expected(&replaced, "Tills", vec![member(cy, "cy")])
    );
    assert_eq!(linked(&app, &id).await, [cy]);

    // PATCH: Okta's add and remove by path, Entra ID's remove by value, a rename.
    let ops = patch(json!([
        {"op": "add", "path": "members", "value": [{"value": ada.to_string()}, {"value": bob.to_string()}]},
        {"op": "remove", "path": format!("members[value eq \"{cy}\"]")},
    ]));
    let (status, patched) = scim(&app, Method::PATCH, &path, root, Some(ops)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        patched["members"],
        json!([member(ada, "ada"), member(bob, "bob")])
    );
    assert_eq!(linked(&app, &id).await, [ada, bob]);
    let ops = patch(json!([
        {"op": "remove", "path": "members", "value": [{"value": ada.to_string()}]},
        {"op": "replace", "value": {"displayName": "Floor"}},
        {"op": "add", "path": "externalId", "value": "entra-2"},
    ]));
    let (status, patched) = scim(&app, Method::PATCH, &path, root, Some(ops)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        patched,
        expected(&patched, "Floor", vec![member(bob, "bob")])
    );
    assert_eq!(patched["externalId"], "entra-2");
    let stored = format!(
        "SELECT COUNT(*) FROM permission_groups WHERE external_id = 'entra-2' AND id = {id}"
    );
    assert_eq!(app.count(&stored).await, 1);
    assert_eq!(linked(&app, &id).await, [bob]);
    let events = "SELECT COUNT(*) FROM audit_events WHERE action LIKE 'permission_group.%'";
    assert_eq!(app.count(events).await, 5);

    // DELETE: the group is gone, its staffs stay.
    let (status, _) = scim(&app, Method::DELETE, &path, root, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = scim(&app, Method::GET, &path, root, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "404", None);
    assert_eq!(linked(&app, &id).await, Vec::<i64>::new());
    assert_eq!(app.count("SELECT COUNT(*) FROM staffs").await, 3);
}

async fn bad_group_writes_change_nothing(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let ada = staff(&app, "ada@example.com", Some("ada"), &[shop], &[]).await;
    let taken = group(&app, "Taken", &[]).await;
    let groups = "SELECT COUNT(*) FROM permission_groups";
    let links = "SELECT COUNT(*) FROM staff_permission_groups";
    let before = (app.count(groups).await, app.count(links).await);
    for (body, status, scim_type) in [
        (
            json!({"displayName": "X", "members": [{"value": "99999"}]}),
            "400",
            "invalidValue",
        ),
        (
            json!({"displayName": "X", "members": [{"value": "ada"}]}),
            "400",
            "invalidValue",
        ),
        (
            json!({"members": [{"value": ada.to_string()}]}),
            "400",
            "invalidValue",
        ),
        (json!({"displayName": "Taken"}), "409", "uniqueness"),
    ] {
        let (code, answer) = scim(
            &app,
            Method::POST,
            "/scim/v2/Groups",
            root,
            Some(body.clone()),
        )
        .await;
        assert_eq!(code.as_str(), status, "{body}: {answer}");
        assert_error(&answer, status, Some(scim_type));
    }
    let path = format!("/scim/v2/Groups/{taken}");
    for (ops, scim_type) in [
        (
            json!([{"op": "add", "path": "members[value eq \"1\"]", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "remove", "path": "members[display eq \"ada\"]"}]),
            "invalidPath",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "move", "path": "members"}]), "invalidSyntax"),
        (
            json!([{"op": "add", "path": "members", "value": [{"value": ada.to_string()}]},
                   {"op": "replace", "path": "displayName", "value": 5}]),
            "invalidValue",
        ),
    ] {
        let (code, answer) = scim(&app, Method::PATCH, &path, root, Some(patch(ops.clone()))).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{ops}: {answer}");
        assert_error(&answer, "400", Some(scim_type));
    }
    assert_eq!((app.count(groups).await, app.count(links).await), before);
}

async fn deprovisioned_members_are_hidden_and_kept(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let crew = group(&app, "Crew", &[]).await;
    let ada = staff(&app, "ada@example.com", Some("ada"), &[shop], &[crew]).await;
    let bob = staff(&app, "bob@example.com", Some("bob"), &[shop], &[crew]).await;
    let (status, _) = scim(
        &app,
        Method::DELETE,
        &format!("/scim/v2/Users/{bob}"),
        root,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let path = format!("/scim/v2/Groups/{crew}");
    let (_, got) = scim(&app, Method::GET, &path, root, None).await;
    assert_eq!(got["members"], json!([member(ada, "ada")]));
    // A deprovisioned staff is no User to add, and replacing the members keeps it.
    let ops =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": bob.to_string()}]}]));
    let (status, answer) = scim(&app, Method::PATCH, &path, root, Some(ops)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_error(&answer, "400", Some("invalidValue"));
    let ops = patch(json!([{"op": "replace", "path": "members", "value": []}]));
    let (status, answer) = scim(&app, Method::PATCH, &path, root, Some(ops)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["members"], json!([]));
    assert_eq!(linked(&app, &crew.to_string()).await, [bob]);
}
