//! An identity provider's provisioning, as Okta sends it, end to end: the database after each
//! step; and `KADRO_SCIM_DEFAULT_STORE`, the store a User created without one joins.

use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::instore_support::{geo, send, staff_token, store};
use crate::scim_support::{STAFF, assert_error, ids, new_user, patch, scim, urlencode};
use crate::{on_both_backends, per_backend};

on_both_backends!(an_okta_provisioning_sequence);
per_backend!(a_default_store_takes_users_created_without_one);

/// What the database holds for a staff: active, deprovisioned, its groups.
async fn staff_row(app: &TestApp, id: i64) -> (bool, bool, Vec<i64>) {
    let db = &app.state.db;
    let active: bool = Query::new("SELECT is_active FROM staffs WHERE id = $1")
        .bind(id)
        .scalar(db)
        .await
        .unwrap();
    let gone =
        Query::new("SELECT COUNT(*) FROM staffs WHERE id = $1 AND deprovisioned_date IS NOT NULL")
            .bind(id)
            .scalar::<i64>(db)
            .await
            .unwrap();
    let groups = Query::new(
        "SELECT group_id FROM staff_permission_groups WHERE staff_id = $1 ORDER BY group_id",
    )
    .bind(id)
    .scalars(db)
    .await
    .unwrap();
    (active, gone == 1, groups)
}

async fn an_okta_provisioning_sequence(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let user_name = "ada.lovelace@example.com";

    // 1. Okta looks the user up by userName first: not there.
    let lookup = format!(
        "/scim/v2/Users?filter={}&startIndex=1&count=100",
        urlencode(&format!("userName eq \"{user_name}\""))
    );
    let (status, found) = scim(&app, Method::GET, &lookup, root, None).await;
    assert_eq!(
        (status, found["totalResults"].clone()),
        (StatusCode::OK, json!(0))
    );

    // 2. It creates the user.
    let mut body = new_user(user_name, shop);
    body["emails"] = json!([{"primary": true, "value": user_name, "type": "work"}]);
    body["displayName"] = json!("Ada Lovelace");
    body["locale"] = json!("en-US");
    let (status, created) = scim(&app, Method::POST, "/scim/v2/Users", root, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let staff_id: i64 = id.parse().unwrap();
    assert_eq!(staff_row(&app, staff_id).await, (true, false, vec![]));
    let (_, found) = scim(&app, Method::GET, &lookup, root, None).await;
    assert_eq!(ids(&found), [id.as_str()]);
    let token = staff_token(&app, staff_id).await;

    // 3. A push group: created empty, then the user added to it.
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                      "displayName": "Store Managers", "members": []});
    let (status, group) = scim(&app, Method::POST, "/scim/v2/Groups", root, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_id: i64 = group["id"].as_str().unwrap().parse().unwrap();
    let group_path = format!("/scim/v2/Groups/{group_id}");
    let add = patch(json!([{"op": "add", "path": "members",
                            "value": [{"value": id, "display": user_name}]}]));
    let (status, group) = scim(&app, Method::PATCH, &group_path, root, Some(add)).await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["members"][0]["value"], json!(id));
    assert_eq!(
        staff_row(&app, staff_id).await,
        (true, false, vec![group_id])
    );
    let (_, user) = scim(
        &app,
        Method::GET,
        &format!("/scim/v2/Users/{id}"),
        root,
        None,
    )
    .await;
    assert_eq!(user["groups"], json!([{"value": group_id.to_string()}]));

    // 4. Unassigned in Okta: PATCH active false, the staff's tokens stop working.
    let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
    let user_path = format!("/scim/v2/Users/{id}");
    let (status, user) = scim(&app, Method::PATCH, &user_path, root, Some(off)).await;
    assert_eq!(
        (status, user["active"].clone()),
        (StatusCode::OK, json!(false))
    );
    assert_eq!(
        staff_row(&app, staff_id).await,
        (false, false, vec![group_id])
    );
    let (status, _) = send(&app, Method::GET, "/api/v1/auth/me/", &token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // 5. Removed from the push group by a member path.
    let remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]));
    let (status, group) = scim(&app, Method::PATCH, &group_path, root, Some(remove)).await;
    assert_eq!(
        (status, group["members"].clone()),
        (StatusCode::OK, json!([]))
    );
    assert_eq!(staff_row(&app, staff_id).await, (false, false, vec![]));

    // 6. Deleted: gone for SCIM, kept (inactive) by kadro.
    let (status, _) = scim(&app, Method::DELETE, &user_path, root, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(staff_row(&app, staff_id).await, (false, true, vec![]));
    let (status, body) = scim(&app, Method::GET, &user_path, root, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "404", None);
    let (_, found) = scim(&app, Method::GET, &lookup, root, None).await;
    assert_eq!(found["totalResults"], 0);

    let actions: Vec<String> = Query::new(
        "SELECT action FROM audit_events WHERE target_type = 'staff' AND target_id = $1 ORDER BY id",
    )
    .bind(staff_id)
    .scalars(&app.state.db)
    .await
    .unwrap();
    // The deactivation is the PATCH's update; the DELETE is the identity provider's
    // deprovisioning, its own action.
    assert_eq!(
        actions,
        ["staff.create", "staff.update", "staff.deprovision"]
    );
}

async fn a_default_store_takes_users_created_without_one(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.scim_default_store = Some(1)).await else {
        return;
    };
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    assert_eq!(store(&app, g.township, "Default").await, 1);
    let other = store(&app, g.township, "Other").await;
    let mut body = new_user("ada", other);
    body.as_object_mut().unwrap().remove(STAFF);
    let (status, created) = scim(&app, Method::POST, "/scim/v2/Users", root, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created[STAFF]["retailStores"], json!(["1"]));
    // Sent stores win over the default.
    let (status, created) = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        root,
        Some(new_user("bob", other)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created[STAFF]["retailStores"], json!([other.to_string()]));
    let links = "SELECT COUNT(*) FROM staff_retail_stores";
    assert_eq!(app.count(links).await, 2);
}
