//! Bulk Instore data: geography, stores with addresses, permission groups, staffs.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::auth::password;
use crate::db::{Db, Query};
use crate::http::time;

use super::{
    BENCH_LOGIN_PASSWORD, BenchSize, FIRST_NAMES, LAST_NAMES, bulk_insert, bulk_link, email_part,
};

/// The staff the staff-login benchmark signs in with (`"username"`, store 1 of the data set).
pub const BENCH_STAFF_USERNAME: &str = "bench.staff";

/// Fills the Instore part: geography, stores with addresses, permission groups, then staffs
/// with 1–3 stores and 1–2 groups each, about 1% sharing an email with another staff.
pub async fn seed_instore(db: &Db, size: &BenchSize) -> anyhow::Result<usize> {
    use crate::db::Arg;
    let mut rng = StdRng::seed_from_u64(size.seed.wrapping_add(1));
    let now = time::now();
    let t = || Arg::from(now);
    let country = bulk_insert(
        db,
        "countries (name, code, omnitron_id, created_date, modified_date)",
        vec![vec!["Türkiye".into(), "TR".into(), 1i64.into(), t(), t()]],
    )
    .await?[0];
    let cities = bulk_insert(
        db,
        "cities (name, country_id, omnitron_id, created_date, modified_date)",
        (0..10i64)
            .map(|i| {
                vec![
                    format!("City {i}").into(),
                    country.into(),
                    i.into(),
                    t(),
                    t(),
                ]
            })
            .collect(),
    )
    .await?;
    let townships = bulk_insert(
        db,
        "townships (name, city_id, omnitron_id, created_date, modified_date)",
        (0..50i64)
            .map(|i| {
                vec![
                    format!("Township {i}").into(),
                    cities[i as usize % cities.len()].into(),
                    i.into(),
                    t(),
                    t(),
                ]
            })
            .collect(),
    )
    .await?;
    let stores = bulk_insert(
        db,
        "retail_stores (name, email, remote_id, is_active, fast_delivery, omnitron_id, created_date, modified_date)",
        (0..size.stores.max(1) as i64)
            .map(|i| {
                vec![
                    format!("{} Store {i}", LAST_NAMES[i as usize % LAST_NAMES.len()]).into(),
                    format!("store{i}@stores.example").into(),
                    format!("store-{i}").into(),
                    true.into(),
                    (i % 3 == 0).into(),
                    i.into(),
                    t(),
                    t(),
                ]
            })
            .collect(),
    )
    .await?;
    bulk_insert(
        db,
        "addresses (retail_store_id, township_id, phone_number, line, postcode, created_date, modified_date)",
        stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                vec![
                    (*store).into(),
                    townships[i % townships.len()].into(),
                    format!("+90212{:07}", i).into(),
                    format!("{i} Market Street").into(),
                    Arg::Text((i % 4 != 0).then(|| format!("{:05}", 34_000 + i))),
                    t(),
                    t(),
                ]
            })
            .collect(),
    )
    .await?;
    let permissions: Vec<i64> = Query::new("SELECT id FROM permissions ORDER BY id")
        .scalars(db)
        .await?;
    let groups = bulk_insert(
        db,
        "permission_groups (name, created_date, modified_date)",
        (0..10)
            .map(|i| vec![format!("Bench group {i}").into(), t(), t()])
            .collect(),
    )
    .await?;
    let mut grants = Vec::new();
    for group in &groups {
        for permission in &permissions {
            if rng.gen_range(0..2) == 0 {
                grants.push((*group, *permission));
            }
        }
    }
    bulk_link(
        db,
        "permission_group_permissions (group_id, permission_id)",
        grants,
    )
    .await?;

    let hash = password::hash_now(BENCH_LOGIN_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut staff_rows = Vec::with_capacity(size.staffs + 1);
    let mut store_choice = Vec::with_capacity(size.staffs + 1);
    let mut previous_email = String::new();
    for i in 0..=size.staffs {
        let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
        let shared = i > 0 && rng.gen_range(0..100) == 0;
        let email = if shared {
            previous_email.clone()
        } else {
            format!(
                "{}.{}.{i}@staff.example",
                email_part(first),
                email_part(last)
            )
        };
        previous_email = email.clone();
        let mut mine: Vec<i64> = (0..rng.gen_range(1..=3))
            .map(|_| stores[rng.gen_range(0..stores.len())])
            .collect();
        let username = if i == size.staffs {
            BENCH_STAFF_USERNAME.to_owned()
        } else {
            format!("staff{i}")
        };
        if i == size.staffs {
            mine = vec![stores[0]];
        }
        mine.sort_unstable();
        mine.dedup();
        let current = (rng.gen_range(0..2) == 0).then(|| mine[0]);
        staff_rows.push(vec![
            first.into(),
            last.into(),
            email.into(),
            username.into(),
            hash.as_str().into(),
            format!("R{i:07}").into(),
            (i == size.staffs || rng.gen_range(0..10) != 0).into(),
            true.into(),
            false.into(),
            Arg::I64(current),
            now.into(),
            t(),
            t(),
        ]);
        store_choice.push(mine);
    }
    let staffs = bulk_insert(
        db,
        "staffs (first_name, last_name, email, username, password_hash, remote_id, is_active, is_staff, \
         is_superuser, current_store_id, date_joined, created_date, modified_date)",
        staff_rows,
    )
    .await?;
    let mut store_links = Vec::new();
    let mut group_links = Vec::new();
    for (staff, mine) in staffs.iter().zip(&store_choice) {
        store_links.extend(mine.iter().map(|s| (*staff, *s)));
        let first = groups[rng.gen_range(0..groups.len())];
        group_links.push((*staff, first));
        if rng.gen_range(0..2) == 0 {
            let second = groups[rng.gen_range(0..groups.len())];
            if second != first {
                group_links.push((*staff, second));
            }
        }
    }
    bulk_link(
        db,
        "staff_retail_stores (staff_id, retail_store_id)",
        store_links,
    )
    .await?;
    bulk_link(
        db,
        "staff_permission_groups (staff_id, group_id)",
        group_links,
    )
    .await?;
    // Settle the tables as a running database's autovacuum would: statistics for the planner and
    // a visibility map that lets counts and deep pages read indexes alone.
    match db {
        Db::Postgres(pool, _) => {
            sqlx::query("VACUUM ANALYZE").execute(pool).await?;
        }
        Db::Sqlite(pool, ..) => {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
    }
    Ok(staffs.len() + stores.len() * 2)
}
