//! `kadro seed-bench`: fills either backend fast with realistic, deterministic data for the
//! load benchmark (multi-row inserts, one transaction per batch, one precomputed password hash).

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::auth::password;
use crate::db::{Db, Query};
use crate::http::time;

/// Rows per INSERT statement and statements per transaction.
const ROWS_PER_STATEMENT: usize = 500;
const STATEMENTS_PER_TX: usize = 20;

/// The size of the data set.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchSize {
    /// B2B users.
    #[arg(long, default_value_t = 1_000_000)]
    pub users: usize,
    /// Instore staffs.
    #[arg(long, default_value_t = 100_000)]
    pub staffs: usize,
    /// B2B divisions (about one in ten is a main division).
    #[arg(long, default_value_t = 200)]
    pub divisions: usize,
    /// Retail stores.
    #[arg(long, default_value_t = 500)]
    pub stores: usize,
    /// Seed of the generator: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub const FIRST_NAMES: &[&str] = &[
    "Ayşe", "Mehmet", "Elif", "Can", "Zeynep", "Emre", "Selin", "Burak", "Deniz", "Ece", "Olivia",
    "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Lucas", "Mia", "Ethan", "Anna", "Jonas",
    "Lea", "Paul", "Marie", "Luca", "Giulia", "Marco", "Chiara", "Hugo", "Chloé", "Louis", "Inès",
    "Mateo", "Lucía", "Pablo", "Sofía", "Yuki", "Haruto", "Sakura", "Wei", "Mei", "Arjun", "Priya",
    "Omar", "Fatima", "Ali", "Layla", "Ivan", "Olga", "Piotr", "Zofia", "João", "Beatriz", "Kwame",
    "Amara", "Sven", "Astrid", "Nikos", "Eleni",
];
pub const LAST_NAMES: &[&str] = &[
    "Yılmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Aydın",
    "Öztürk",
    "Arslan",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Rossi",
    "Russo",
    "Ferrari",
    "Bianchi",
    "Martin",
    "Bernard",
    "Dubois",
    "Moreau",
    "López",
    "Fernández",
    "González",
    "Sato",
    "Suzuki",
    "Takahashi",
    "Wang",
    "Li",
    "Zhang",
    "Patel",
    "Sharma",
    "Khan",
    "Hassan",
    "Ivanov",
    "Petrova",
    "Kowalski",
    "Nowak",
    "Silva",
    "Santos",
    "Mensah",
    "Okafor",
    "Andersson",
    "Johansson",
    "Papadopoulos",
];
/// The account the login benchmark signs in with.
pub const BENCH_LOGIN_EMAIL: &str = "bench@kadro.local";
pub const BENCH_LOGIN_PASSWORD: &str = "bench-password-1";

const DOMAINS: &[&str] = &[
    "example.com",
    "mail.test",
    "shop.example",
    "b2b.example.org",
    "corp.test",
];

/// Lower-case ASCII spelling of a name, for email addresses.
pub fn email_part(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'ş' | 'Ş' => 's',
            'ı' | 'İ' => 'i',
            'ç' | 'Ç' => 'c',
            'ğ' | 'Ğ' => 'g',
            'ö' | 'Ö' | 'ó' => 'o',
            'ü' | 'Ü' | 'ú' => 'u',
            'é' | 'è' | 'É' => 'e',
            'í' => 'i',
            'ã' | 'á' => 'a',
            c => c.to_ascii_lowercase(),
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// Fills the B2B part: divisions, then users. Returns rows written.
pub async fn seed_b2b(db: &Db, size: &BenchSize) -> anyhow::Result<usize> {
    let mut rng = StdRng::seed_from_u64(size.seed);
    let now = time::now();
    let mut tx = db.begin().await?;
    let mains = (size.divisions / 10).max(1);
    let mut division_ids = Vec::with_capacity(size.divisions);
    for i in 0..size.divisions.max(1) {
        let (kind, parent) = if i < mains {
            ("main", None)
        } else {
            ("sub", Some(division_ids[rng.gen_range(0..mains)]))
        };
        let id: i64 = Query::new(
            "INSERT INTO divisions (name, division_type, parent_id, erp_code, is_active, extra_data, created_date, modified_date) \
             VALUES ($1, $2, $3, $4, TRUE, $5, $6, $6) RETURNING id",
        )
        .bind(format!("{} Division {i}", LAST_NAMES[i % LAST_NAMES.len()]))
        .bind(kind)
        .bind(parent)
        .bind(format!("BENCH-{i:05}"))
        .bind(serde_json::json!({}))
        .bind(now)
        .scalar(&mut tx)
        .await?;
        division_ids.push(id);
    }
    tx.commit().await?;

    let hash = password::hash_now(BENCH_LOGIN_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let mut generator = UserGenerator {
        rng,
        now,
        hash,
        divisions: division_ids.clone(),
    };
    let written = match db {
        Db::Postgres(pool) => copy_users_postgres(pool, &mut generator, size.users).await?,
        Db::Sqlite(..) => insert_users(db, &mut generator, size.users).await?,
    };
    let rate = written as f64 / started.elapsed().as_secs_f64();
    eprintln!("users: {written} ({rate:.0} rows/s)");
    // A known B2B superuser for the login benchmark and for the token the benchmark calls with.
    Query::new(
        "INSERT INTO users (email, password_hash, is_active, is_staff, is_superuser, date_joined) \
         VALUES ($1, $2, TRUE, TRUE, TRUE, $3) ON CONFLICT DO NOTHING",
    )
    .bind(BENCH_LOGIN_EMAIL)
    .bind(password::hash_now(BENCH_LOGIN_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?)
    .bind(now)
    .execute(db)
    .await?;
    Ok(written + division_ids.len())
}

/// Generates user rows, one at a time, from a seeded generator.
struct UserGenerator {
    rng: StdRng,
    now: chrono::DateTime<chrono::Utc>,
    hash: String,
    divisions: Vec<i64>,
}

/// One generated user.
struct GeneratedUser {
    email: String,
    first: &'static str,
    last: &'static str,
    phone: String,
    division: i64,
    active: bool,
    shop_token: String,
    remote_id: Option<i64>,
    joined: chrono::DateTime<chrono::Utc>,
}

impl UserGenerator {
    fn user(&mut self, i: usize) -> GeneratedUser {
        let rng = &mut self.rng;
        let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
        GeneratedUser {
            email: format!(
                "{}.{}.{i}@{}",
                email_part(first),
                email_part(last),
                DOMAINS[i % DOMAINS.len()]
            ),
            first,
            last,
            phone: format!("05{:09}", rng.gen_range(0..1_000_000_000u64)),
            division: self.divisions[rng.gen_range(0..self.divisions.len())],
            active: rng.gen_range(0..10) != 0,
            shop_token: format!("{:040x}", rng.r#gen::<u128>()),
            remote_id: (rng.gen_range(0..20) != 0).then_some(10_000_000 + i as i64),
            joined: self.now - chrono::Duration::seconds(rng.gen_range(0..3 * 365 * 86_400)),
        }
    }
}

/// Multi-row INSERTs, several per transaction (SQLite).
async fn insert_users(
    db: &Db,
    generator: &mut UserGenerator,
    total: usize,
) -> anyhow::Result<usize> {
    let mut written = 0;
    while written < total {
        let mut tx = db.begin().await?;
        for _ in 0..STATEMENTS_PER_TX {
            let n = ROWS_PER_STATEMENT.min(total - written);
            if n == 0 {
                break;
            }
            let mut q = Query::new(
                "INSERT INTO users (email, password_hash, first_name, last_name, phone_number, division_id, is_active, \
                 is_staff, is_superuser, shop_token, remote_id, language, date_joined) VALUES ",
            );
            for row in 0..n {
                let u = generator.user(written + row);
                if row > 0 {
                    q.push(", ");
                }
                q.push("(")
                    .push_bind(u.email)
                    .push(", ")
                    .push_bind(generator.hash.as_str())
                    .push(", ");
                q.push_bind(u.first)
                    .push(", ")
                    .push_bind(u.last)
                    .push(", ")
                    .push_bind(u.phone)
                    .push(", ");
                q.push_bind(u.division)
                    .push(", ")
                    .push_bind(u.active)
                    .push(", FALSE, FALSE, ");
                q.push_bind(u.shop_token)
                    .push(", ")
                    .push_bind(u.remote_id)
                    .push(", 'en', ")
                    .push_bind(u.joined)
                    .push(")");
            }
            q.execute(&mut tx).await?;
            written += n;
        }
        tx.commit().await?;
    }
    Ok(written)
}

/// `COPY … FROM STDIN` in chunks (PostgreSQL). The secondary indexes of `users` (all but the
/// primary and unique keys) are dropped first and rebuilt afterwards, two at a time: building an
/// index once, GIN trigram indexes above all, is many times faster than maintaining it per row.
async fn copy_users_postgres(
    pool: &sqlx::PgPool,
    generator: &mut UserGenerator,
    total: usize,
) -> anyhow::Result<usize> {
    let mut conn = pool.acquire().await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexname::text, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname \
         JOIN pg_index x ON x.indexrelid = c.oid WHERE i.tablename = 'users' AND i.schemaname = current_schema() \
         AND NOT x.indisunique",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(&format!("DROP INDEX IF EXISTS {name}"))
            .execute(&mut *conn)
            .await?;
    }
    let mut written = 0;
    while written < total {
        let n = (ROWS_PER_STATEMENT * STATEMENTS_PER_TX * 5).min(total - written);
        let mut copy = conn
            .copy_in_raw(
                "COPY users (email, password_hash, first_name, last_name, phone_number, division_id, is_active, \
                 is_staff, is_superuser, shop_token, remote_id, language, date_joined) FROM STDIN",
            )
            .await?;
        let mut buf = String::with_capacity(n * 256);
        for row in 0..n {
            let u = generator.user(written + row);
            // Generated values hold no tab, newline or backslash, so COPY's text format needs no escaping.
            let remote = u
                .remote_id
                .map_or_else(|| "\\N".to_owned(), |r| r.to_string());
            buf.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\tf\tf\t{}\t{}\ten\t{}\n",
                u.email,
                generator.hash,
                u.first,
                u.last,
                u.phone,
                u.division,
                if u.active { "t" } else { "f" },
                u.shop_token,
                remote,
                time::format(&u.joined)
            ));
        }
        copy.send(buf.as_bytes()).await?;
        copy.finish().await?;
        written += n;
    }
    eprintln!("users copied; rebuilding {} indexes", indexes.len());
    drop(conn);
    let mut builds = tokio::task::JoinSet::new();
    let (left, right): (Vec<_>, Vec<_>) = indexes
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    for half in [left, right] {
        let pool = pool.clone();
        builds.spawn(async move {
            let mut conn = pool.acquire().await?;
            sqlx::query("SET maintenance_work_mem = '256MB'")
                .execute(&mut *conn)
                .await?;
            for (_, (_, definition)) in half {
                sqlx::query(&definition).execute(&mut *conn).await?;
            }
            Ok::<_, sqlx::Error>(())
        });
    }
    while let Some(done) = builds.join_next().await {
        done??;
    }

    Ok(written)
}

/// Multi-row INSERTs of `rows` after `head` (`"table (a, b, c)"`), several per transaction;
/// returns the new ids in order.
async fn bulk_insert(
    db: &Db,
    head: &str,
    rows: Vec<Vec<crate::db::Arg>>,
) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut tx = db.begin().await?;
        for _ in 0..STATEMENTS_PER_TX {
            if rows.peek().is_none() {
                break;
            }
            let mut q = Query::new(format!("INSERT INTO {head} VALUES "));
            for (n, row) in rows.by_ref().take(ROWS_PER_STATEMENT).enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                for (c, value) in row.into_iter().enumerate() {
                    if c > 0 {
                        q.push(", ");
                    }
                    q.push_bind(value);
                }
                q.push(")");
            }
            q.push(" RETURNING id");
            ids.extend(q.scalars::<i64>(&mut tx).await?);
        }
        tx.commit().await?;
    }
    Ok(ids)
}

/// Links rows of a join table (no id column), in the same batches.
async fn bulk_link(db: &Db, head: &str, pairs: Vec<(i64, i64)>) -> anyhow::Result<()> {
    for chunk in pairs.chunks(ROWS_PER_STATEMENT * STATEMENTS_PER_TX) {
        let mut tx = db.begin().await?;
        for statement in chunk.chunks(ROWS_PER_STATEMENT) {
            let mut q = Query::new(format!("INSERT INTO {head} VALUES "));
            for (n, (a, b)) in statement.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" })
                    .push_bind(*a)
                    .push(", ")
                    .push_bind(*b)
                    .push(")");
            }
            q.execute(&mut tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

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
        Db::Postgres(pool) => {
            sqlx::query("VACUUM ANALYZE").execute(pool).await?;
        }
        Db::Sqlite(pool, _) => {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
    }
    Ok(staffs.len() + stores.len() * 2)
}
