//! What lands in the files: fields in the requested order, filters, unicode, formula
//! neutralisation, value types, sheet splitting, and the users list's source.

use calamine::Data;
use kadro::auth::Caller;
use kadro::b2b::export::UsersExport;
use kadro::b2b::user_filter::UserFilter;
use kadro::b2b::users::store::UserScope;
use kadro::exports::format::Format;
use kadro::exports::{self, ExportList};
use kadro::http::time;
use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    every_format_keeps_order_filters_unicode_and_defuses_formulas,
    xls_continues_past_65535_rows_on_new_sheets,
    unknown_fields_and_formats_are_refused,
    users_export_keeps_to_remote_ids_filters_and_scope,
);

const FIELDS: &[&str] = &[
    "email",
    "division__name",
    "id",
    "first_name",
    "last_name",
    "phone_number",
    "is_active",
    "division__division_type",
    "division",
    "remote_id",
    "last_login",
    "language",
];

async fn every_format_keeps_order_filters_unicode_and_defuses_formulas(app: TestApp) {
    let division = insert_division(&app, "Kadıköy Şube 東京", "main").await;
    let login = time::now();
    let zoe = insert_account(
        &app,
        Account {
            email: "zoe@shop.example.org",
            first_name: "Zoë 🎉",
            last_name: "=HYPERLINK(\"http://evil\")",
            phone_number: "+90 555 123",
            division: Some(division),
            last_login: Some(login),
            ..Account::default()
        },
    )
    .await;
    let ada = insert_account(
        &app,
        Account {
            email: "ada@shop.example.org",
            first_name: "@SUM(A1)",
            last_name: "-2+3",
            phone_number: "\tcmd",
            ..Account::default()
        },
    )
    .await;
    // Not matched by the filter.
    insert_account(
        &app,
        Account {
            email: "other@elsewhere.test",
            ..Account::default()
        },
    )
    .await;
    let stamp = time::format(&login);
    let expected: Vec<Vec<String>> = [
        FIELDS.to_vec(),
        vec![
            "zoe@shop.example.org",
            "Kadıköy Şube 東京",
            &zoe.to_string(),
            "Zoë 🎉",
            "'=HYPERLINK(\"http://evil\")",
            "'+90 555 123",
            "true",
            "main",
            &division.to_string(),
            "",
            &stamp,
            "tr",
        ],
        vec![
            "ada@shop.example.org",
            "",
            &ada.to_string(),
            "'@SUM(A1)",
            "'-2+3",
            "'\tcmd",
            "true",
            "",
            "",
            "",
            "",
            "tr",
        ],
    ]
    .iter()
    .map(|row| row.iter().map(|s| (*s).to_owned()).collect())
    .collect();

    let fields: String = FIELDS.iter().map(|f| format!("fields={f}&")).collect();
    for (format, query) in [
        ("xls", String::new()),
        ("xls", "format=xls&".to_owned()),
        ("csv", "format=csv&".to_owned()),
        ("xlsx", "format=xlsx&".to_owned()),
    ] {
        let key = start_export(&app, &format!("{fields}{query}email=SHOP.example")).await;
        let (status, body) = export_status(&app, &key).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"is_ready": false, "url": null, "status": "waiting",
                   "progress": {"rows_written": 0, "rows_total": null}})
        );
        let (content_type, disposition, bytes) = build_and_download(&app, &key).await;
        let ext = Format::parse(format).unwrap();
        assert_eq!(content_type, ext.content_type(), "{format}");
        assert!(
            disposition.starts_with("attachment; filename=\"staff-users-")
                && disposition.ends_with(&format!(".{format}\"")),
            "{disposition}"
        );
        assert_eq!(read_text(format, &bytes), expected, "{format}");
        let (_, body) = export_status(&app, &key).await;
        assert_eq!(
            body["progress"],
            json!({"rows_written": 2, "rows_total": 2})
        );
        if format != "csv" {
            // Numbers stay numbers and booleans booleans.
            let sheets = read_workbook(format, &bytes);
            let row = &sheets[0].1[1];
            assert_eq!(row[2], Data::Float(zoe as f64), "{format}");
            assert_eq!(row[6], Data::Bool(true), "{format}");
            assert_eq!(row[8], Data::Float(division as f64), "{format}");
        }
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for format in ["csv", "xls", "xlsx"] {
        assert!(
            metrics.contains(&format!(
                "kadro_export_duration_seconds_count{{format=\"{format}\"}}"
            )),
            "{metrics}"
        );
    }
}

async fn xls_continues_past_65535_rows_on_new_sheets(app: TestApp) {
    let n = 65_600; // plus the superuser root@example.com
    insert_many_staff(&app, n).await;
    let key = start_export(&app, "fields=id&fields=email").await;
    let (_, _, bytes) = build_and_download(&app, &key).await;
    let sheets = read_workbook("xls", &bytes);
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Sheet1", "Sheet2"]);
    assert_eq!(sheets[0].1.len(), 65_536);
    assert_eq!(sheets[1].1.len(), 1 + (n + 1) - 65_535);
    let mut previous = 0.0;
    for (_, rows) in &sheets {
        assert_eq!(
            rows[0],
            [Data::String("id".into()), Data::String("email".into())]
        );
        for row in &rows[1..] {
            let Data::Float(id) = row[0] else {
                panic!("id is not a number: {row:?}")
            };
            assert!(id > previous, "ids ascend across sheets");
            previous = id;
        }
    }
    let last = &sheets[1].1.last().unwrap()[1];
    assert_eq!(last, &Data::String(format!("bulk{}@example.com", n - 1)));
}

async fn unknown_fields_and_formats_are_refused(app: TestApp) {
    let allowed = "id, email, first_name, last_name, phone_number, division, is_active, \
        shop_token, remote_id, date_joined, language, last_login, division__name, division__id, \
        division__division_type";
    let (status, body) = app
        .get("/api/v1/staff-users/?fields=email&fields=password_hash&fields=x")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"fields": [
            format!("Unknown field \"password_hash\". Allowed: {allowed}"),
            format!("Unknown field \"x\". Allowed: {allowed}"),
        ]})
    );
    let (status, body) = app.get("/api/v1/staff-users/?fields=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"fields": [format!("Select at least one field. Allowed: {allowed}")]})
    );
    for bad in ["pdf", "json"] {
        let (status, body) = app
            .get(&format!("/api/v1/staff-users/?fields=id&format={bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["format"][0].as_str().unwrap().contains(bad), "{body}");
    }
    // The list's own filters are checked too.
    let (status, body) = app
        .get("/api/v1/staff-users/?fields=id&is_active=maybe")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["is_active"].is_array(), "{body}");
    // Nothing was queued by a refused request.
    assert_eq!(app.count("SELECT COUNT(*) FROM exports").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM jobs").await, 0);
    // Only superusers may export staff users.
    let (_, token) =
        crate::helpers::create_b2b_staff(&app.state, "s@example.com", false, None).await;
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/staff-users/?fields=id",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The schema documents the export parameters and the download route.
    let (_, schema) = app.get("/api/schema/").await;
    assert!(schema["paths"]["/export_file/{file}"]["get"].is_object());
    let params = &schema["paths"]["/api/v1/staff-users/"]["get"]["parameters"];
    let names: Vec<&str> = params
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["fields", "format", "status_cache_key"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}

async fn users_export_keeps_to_remote_ids_filters_and_scope(app: TestApp) {
    let north = insert_division(&app, "North", "main").await;
    let south = insert_division(&app, "South", "main").await;
    for (email, division, remote_id) in [
        ("a@north.test", Some(north), Some(11)),
        ("b@north.test", Some(north), None), // not yet known to Commerce: not listed
        ("c@south.test", Some(south), Some(13)),
        ("d@nowhere.test", None, Some(14)),
        ("e@north.test", Some(north), Some(15)),
    ] {
        insert_account(
            &app,
            Account {
                email,
                division,
                remote_id,
                is_staff: false,
                ..Account::default()
            },
        )
        .await;
    }
    let cases = [
        (
            UserFilter::default(),
            UserScope::All,
            vec![
                "a@north.test",
                "c@south.test",
                "d@nowhere.test",
                "e@north.test",
            ],
        ),
        (
            UserFilter::default(),
            UserScope::Division(north),
            vec!["a@north.test", "e@north.test"],
        ),
        (UserFilter::default(), UserScope::Nothing, vec![]),
        (
            UserFilter {
                email: Some("E@NORTH".into()),
                ..UserFilter::default()
            },
            UserScope::Division(north),
            vec!["e@north.test"],
        ),
        (
            UserFilter {
                email: Some("E@NORTH".into()),
                ..UserFilter::default()
            },
            UserScope::Division(south),
            vec![],
        ),
    ];
    for (filter, scope, emails) in cases {
        let list = ExportList::of(UsersExport { filter, scope });
        let fields = vec![
            "email".to_owned(),
            "remote_id".to_owned(),
            "division__name".to_owned(),
        ];
        let key = exports::start(&app.state, &Caller::Service, &list, &fields, Format::Csv)
            .await
            .unwrap();
        let (_, _, bytes) = build_and_download(&app, &key).await;
        let rows = read_csv(&bytes);
        assert_eq!(rows[0], fields);
        let got: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(got, emails);
    }
}
