//! SCIM list queries (RFC 7644 §3.4.2): the filter grammar with every operator, `and`, `or`,
//! `not`, parentheses and value paths; `sortBy` / `sortOrder`; `attributes` /
//! `excludedAttributes`; `startIndex` / `count`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::instore_support::{geo, group, store};
use crate::on_both_backends;
use crate::scim_support::{STAFF, assert_error, ids, new_user, scim, urlencode};

on_both_backends!(filters_combine_every_operator, lists_sort_page_and_project,);

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// Three Users: ada (Lovelace, in `crew`), bob (Byron, inactive, no externalId, another store)
/// and c_y (Zed); returns their ids, the group's and the second store's.
async fn people(app: &TestApp) -> ([String; 3], i64, i64) {
    let root = Some(app.token.as_str());
    let g = geo(app).await;
    let shop = store(app, g.township, "Shop").await;
    let depot = store(app, g.township, "Depot").await;
    let crew = group(app, "Crew", &[]).await;
    let ada = new_user("ada", shop);
    let mut bob = new_user("bob", depot);
    bob["name"] = json!({"givenName": "Bob", "familyName": "Byron"});
    bob["emails"] = json!([{"value": "bob@shop.test", "type": "work"}]);
    bob["active"] = json!(false);
    bob.as_object_mut().unwrap().remove("externalId");
    let mut cy = new_user("c_y", shop);
    cy["name"] = json!({"givenName": "Cy", "familyName": "Zed"});
    let mut out = Vec::new();
    for body in [ada, bob, cy] {
        let (status, user) = scim(app, Method::POST, "/scim/v2/Users", root, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        out.push(user["id"].as_str().unwrap().to_owned());
    }
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/staffs/{}/", out[0]),
            root,
            Some(json!({"permission_groups": [crew]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    (out.try_into().unwrap(), crew, depot)
}

async fn list(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let path = format!("/scim/v2/Users?{query}");
    scim(app, Method::GET, &path, Some(app.token.as_str()), None).await
}

async fn filtered(app: &TestApp, filter: &str) -> Vec<String> {
    let (status, body) = list(app, &format!("filter={}", urlencode(filter))).await;
    assert_eq!(status, StatusCode::OK, "{filter}: {body}");
    assert_eq!(
        body["totalResults"],
        body["Resources"].as_array().unwrap().len()
    );
    ids(&body)
}

async fn filters_combine_every_operator(app: TestApp) {
    let ([ada, bob, cy], crew, depot) = people(&app).await;
    let (_, first) = scim(
        &app,
        Method::GET,
        &format!("/scim/v2/Users/{bob}"),
        Some(&app.token),
        None,
    )
    .await;
    let bob_modified = first["meta"]["lastModified"].as_str().unwrap().to_owned();
    let all = vec![ada.clone(), bob.clone(), cy.clone()];
    let cases: Vec<(String, Vec<String>)> = vec![
        ("userName eq \"ada\" or userName eq \"BOB\"".into(), vec![ada.clone(), bob.clone()]),
        ("not (userName eq \"ada\") and active eq true".into(), vec![cy.clone()]),
        (
            "(userName sw \"A\" or userName ew \"Y\") and emails[type eq \"work\" and value co \"example\"]".into(),
            vec![ada.clone(), cy.clone()],
        ),
        ("emails[value ew \"@shop.test\"]".into(), vec![bob.clone()]),
        ("emails[primary eq true] and emails.type eq \"home\"".into(), vec![]),
        ("externalId pr".into(), vec![ada.clone(), cy.clone()]),
        ("not (externalId pr)".into(), vec![bob.clone()]),
        ("userName gt \"b\"".into(), vec![bob.clone(), cy.clone()]),
        ("userName le \"BOB\"".into(), vec![ada.clone(), bob.clone()]),
        ("userName co \"_\"".into(), vec![cy.clone()]),
        ("userName co \"%\"".into(), vec![]),
        ("name.familyName ne \"lovelace\"".into(), vec![bob.clone(), cy.clone()]),
        ("meta.created lt \"2000-01-01T00:00:00Z\"".into(), vec![]),
        ("meta.created ge \"2000-01-01T00:00:00+02:00\"".into(), all.clone()),
        // ada changed last (its groups).
        (format!("meta.lastModified gt \"{bob_modified}\""), vec![ada.clone(), cy.clone()]),
        (format!("meta.lastModified le \"{bob_modified}\""), vec![bob.clone()]),
        (format!("groups[value eq \"{crew}\"]"), vec![ada.clone()]),
        ("groups pr".into(), vec![ada.clone()]),
        (format!("{STAFF}:retailStores eq {depot}"), vec![bob.clone()]),
        ("META.RESOURCETYPE EQ \"user\"".into(), all.clone()),
        (format!("{USER}:name.givenName eq \"ada\""), vec![ada.clone()]),
        (format!("id eq \"{bob}\" or id eq \"x\""), vec![bob.clone()]),
        (
            "userName eq \"a\" or (userName eq \"b\" or (not (active eq false)))".into(),
            vec![ada.clone(), cy.clone()],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(filtered(&app, &filter).await, expected, "{filter}");
    }
    for filter in [
        "userName gt true",
        "meta.created gt \"soon\"",
        "active eq \"true\"",
        "name.formatted eq \"x\"",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"] or",
        "userName eq \"a\" and (active eq true",
        "userName pr \"x\"",
    ] {
        let (status, body) = list(&app, &format!("filter={}", urlencode(filter))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {body}");
        assert_error(&body, "400", Some("invalidFilter"));
    }
}

async fn lists_sort_page_and_project(app: TestApp) {
    let ([ada, bob, cy], _, _) = people(&app).await;
    for (query, expected) in [
        ("sortBy=userName&sortOrder=descending", [&cy, &bob, &ada]),
        ("sortBy=name.familyName", [&bob, &ada, &cy]),
        ("sortBy=externalId", [&ada, &cy, &bob]),
        ("sortBy=externalId&sortOrder=descending", [&bob, &cy, &ada]),
        (
            "sortBy=meta.created&sortOrder=descending",
            [&cy, &bob, &ada],
        ),
        ("sortBy=emails", [&ada, &bob, &cy]),
    ] {
        let (status, body) = list(&app, query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(ids(&body), expected.map(String::as_str), "{query}");
    }
    for query in [
        "sortBy=groups",
        "sortBy=userName&sortOrder=sideways",
        "count=many",
    ] {
        let (status, body) = list(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_error(&body, "400", Some("invalidValue"));
    }
    let (_, page) = list(&app, "sortBy=userName&startIndex=3&count=5").await;
    assert_eq!(
        (
            page["totalResults"].clone(),
            page["startIndex"].clone(),
            page["itemsPerPage"].clone()
        ),
        (json!(3), json!(3), json!(1))
    );
    assert_eq!(ids(&page), [cy.as_str()]);
    let (_, none) = list(&app, "count=0").await;
    assert_eq!(
        none,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 3,
               "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );

    let filter = urlencode("userName eq \"ada\"");
    let (_, only) = list(
        &app,
        &format!("filter={filter}&attributes=userName,name.familyName"),
    )
    .await;
    assert_eq!(
        only["Resources"],
        json!([{"schemas": [USER, STAFF], "id": ada, "userName": "ada",
                "name": {"familyName": "Lovelace"}}])
    );
    let without = format!("filter={filter}&excludedAttributes=meta,groups,emails,name,{STAFF}");
    let (_, rest) = list(&app, &without).await;
    assert_eq!(
        rest["Resources"],
        json!([{"schemas": [USER, STAFF], "id": ada, "userName": "ada", "externalId": "okta-ada",
                "active": true}])
    );
    let path = format!("/scim/v2/Users/{ada}?attributes=emails.value,{STAFF}:retailStores");
    let (_, one) = scim(&app, Method::GET, &path, Some(&app.token), None).await;
    let stores = one[STAFF]["retailStores"].clone();
    assert_eq!(
        one,
        json!({"schemas": [USER, STAFF], "id": ada, "emails": [{"value": "ada@example.com"}],
               STAFF: {"retailStores": stores}})
    );
    assert_eq!(stores.as_array().map(Vec::len), Some(1));
}
