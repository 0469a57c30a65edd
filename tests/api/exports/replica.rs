//! `KADRO_DATABASE_REPLICA_URL`: export rows are read from the replica, the export's record
//! stays on the primary.

use kadro::config::Secret;
use kadro::db::{Db, DbOptions, Query};
use kadro::http::time;

use super::*;
use crate::helpers::{Backend, TestApp, TestDb};
use crate::per_backend;

per_backend!(export_rows_come_from_the_replica);

async fn export_rows_come_from_the_replica(backend: Backend) {
    let Some(replica_db) = TestDb::create(backend).await else {
        return;
    };
    // A database of the same schema holding other rows than the primary, so the file shows
    // which one was read (a real replica copies the primary, a moment late).
    let replica = Db::connect(&replica_db.url, &DbOptions::default())
        .await
        .unwrap();
    replica.migrate().await.unwrap();
    Query::new(
        "INSERT INTO users (email, is_active, is_staff, date_joined) \
         VALUES ('on-the-replica@example.com', TRUE, TRUE, $1)",
    )
    .bind(time::now())
    .execute(&replica)
    .await
    .unwrap();
    let url = replica_db.url.clone();
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.database_replica_url = Some(Secret::new(url));
    })
    .await
    else {
        return;
    };
    let key = start_export(&app, "fields=email&format=csv").await;
    let (_, _, bytes) = build_and_download(&app, &key).await;
    assert_eq!(
        read_csv(&bytes),
        vec![vec!["email"], vec!["on-the-replica@example.com"]],
        "the replica's rows, not the primary's root@example.com"
    );
    // The export's record is written on the primary only.
    assert_eq!(app.count("SELECT COUNT(*) FROM exports").await, 1);
    let on_replica: i64 = Query::new("SELECT COUNT(*) FROM exports")
        .scalar(&replica)
        .await
        .unwrap();
    assert_eq!(on_replica, 0);
    replica.close().await;
}
