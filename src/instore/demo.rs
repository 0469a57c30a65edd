//! The Instore part of the demo data set (`seed-demo`): a little geography, three stores, two
//! permission groups and four staffs, two of whom share an email address.

use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::auth::password::Passwords;
use crate::db::list::replace_links;
use crate::db::{Db, Query, Tx};
use crate::http::time;
use crate::instore::permissions::GROUP_PERMISSIONS;
use crate::instore::staffs::queries::{STAFF_GROUPS, STAFF_STORES};

/// What the demo data set created; the password is shared by the demo staffs and shown once.
#[derive(Debug)]
pub struct Demo {
    pub usernames: Vec<&'static str>,
    pub password: String,
}

/// Fills an Instore without stores with the demo data set, in one transaction; `None` when
/// there are stores already (the demo never mixes with real data).
pub async fn seed(db: &Db, passwords: &Passwords) -> anyhow::Result<Option<Demo>> {
    let stores: i64 = Query::new("SELECT COUNT(*) FROM retail_stores")
        .scalar(db)
        .await?;
    if stores > 0 {
        return Ok(None);
    }
    let password: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    let hash = passwords
        .hash(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = db.begin().await?;
    let country = insert(
        &mut tx,
        "countries (name, code, omnitron_id",
        "'Türkiye', 'TR', 1",
    )
    .await?;
    let istanbul = insert(
        &mut tx,
        "cities (name, country_id, omnitron_id",
        &format!("'İstanbul', {country}, 34"),
    )
    .await?;
    let ankara = insert(
        &mut tx,
        "cities (name, country_id, omnitron_id",
        &format!("'Ankara', {country}, 6"),
    )
    .await?;
    let kadikoy = insert(
        &mut tx,
        "townships (name, city_id, omnitron_id",
        &format!("'Kadıköy', {istanbul}, 3401"),
    )
    .await?;
    let besiktas = insert(
        &mut tx,
        "townships (name, city_id, omnitron_id",
        &format!("'Beşiktaş', {istanbul}, 3402"),
    )
    .await?;
    let cankaya = insert(
        &mut tx,
        "townships (name, city_id, omnitron_id",
        &format!("'Çankaya', {ankara}, 601"),
    )
    .await?;
    let mut stores = Vec::new();
    for (name, remote_id, township, line, phone) in [
        (
            "Kadıköy Store",
            "kdk-01",
            kadikoy,
            "Moda Cd. 12",
            "+902163300001",
        ),
        (
            "Beşiktaş Store",
            "bjk-01",
            besiktas,
            "Barbaros Blv. 45",
            "+902123300002",
        ),
        (
            "Ankara Warehouse",
            "ank-wh",
            cankaya,
            "Atatürk Blv. 210",
            "+903124400003",
        ),
    ] {
        let store = insert(
            &mut tx,
            "retail_stores (name, email, remote_id, is_active, fast_delivery, omnitron_id",
            &format!("'{name}', 'stores@kadro.local', '{remote_id}', TRUE, FALSE, NULL"),
        )
        .await?;
        insert(
            &mut tx,
            "addresses (retail_store_id, township_id, phone_number, line, postcode",
            &format!("{store}, {township}, '{phone}', '{line}', NULL"),
        )
        .await?;
        stores.push(store);
    }
    let managers = insert(&mut tx, "permission_groups (name", "'Store managers'").await?;
    let cashiers = insert(&mut tx, "permission_groups (name", "'Cashiers'").await?;
    let all: Vec<i64> = Query::new(
        "SELECT id FROM permissions WHERE parent IN ('Staffs', 'Retail Stores') ORDER BY id",
    )
    .scalars(&mut tx)
    .await?;
    let reading: Vec<i64> = Query::new(
        "SELECT id FROM permissions WHERE method = 'GET' AND parent = 'Retail Stores' ORDER BY id",
    )
    .scalars(&mut tx)
    .await?;
    replace_links(&mut tx, &GROUP_PERMISSIONS, managers, &all).await?;
    replace_links(&mut tx, &GROUP_PERMISSIONS, cashiers, &reading).await?;
    let staffs = [
        (
            "ayse",
            "Ayşe",
            "Yılmaz",
            "ayse.yilmaz@kadro.local",
            vec![stores[0], stores[1]],
            managers,
        ),
        (
            "mehmet",
            "Mehmet",
            "Demir",
            "mehmet.demir@kadro.local",
            vec![stores[0]],
            cashiers,
        ),
        (
            "zeynep",
            "Zeynep",
            "Kaya",
            "shared.inbox@kadro.local",
            vec![stores[1]],
            cashiers,
        ),
        (
            "can",
            "Can",
            "Öztürk",
            "shared.inbox@kadro.local",
            vec![stores[2]],
            cashiers,
        ),
    ];
    let mut usernames = Vec::new();
    for (username, first, last, email, assigned, group) in staffs {
        let now = time::now();
        let id: i64 = Query::new(
            "INSERT INTO staffs (first_name, last_name, email, username, remote_id, is_active, \
             is_staff, password_hash, is_superuser, date_joined, created_date, modified_date) \
             VALUES ($1, $2, $3, $4, $4, TRUE, FALSE, $5, FALSE, $6, $6, $6) RETURNING id",
        )
        .bind(first)
        .bind(last)
        .bind(email)
        .bind(username)
        .bind(hash.as_str())
        .bind(now)
        .scalar(&mut tx)
        .await?;
        replace_links(&mut tx, &STAFF_STORES, id, &assigned).await?;
        replace_links(&mut tx, &STAFF_GROUPS, id, &[group]).await?;
        usernames.push(username);
    }
    tx.commit().await?;
    Ok(Some(Demo {
        usernames,
        password,
    }))
}

/// Inserts one row of kadro's own constant values plus the two timestamps; returns its id.
async fn insert(tx: &mut Tx, table_and_columns: &str, values: &str) -> Result<i64, sqlx::Error> {
    Query::new(format!(
        "INSERT INTO {table_and_columns}, created_date, modified_date) VALUES ({values}, $1, $1) \
         RETURNING id"
    ))
    .bind(time::now())
    .scalar(tx)
    .await
}
