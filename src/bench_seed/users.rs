//! Bulk B2B data: divisions, then users (`COPY` on PostgreSQL, multi-row inserts on SQLite).

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::auth::password;
use crate::db::{Db, Query};
use crate::http::time;

use super::{
    BENCH_LOGIN_EMAIL, BENCH_LOGIN_PASSWORD, BenchSize, DOMAINS, FIRST_NAMES, LAST_NAMES,
    ROWS_PER_STATEMENT, STATEMENTS_PER_TX, email_part,
};

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
        Db::Postgres(pool, _) => copy_users_postgres(pool, &mut generator, size.users).await?,
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
