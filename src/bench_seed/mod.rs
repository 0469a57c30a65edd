//! `kadro seed-bench`: fills either backend fast with realistic, deterministic data for the
//! load benchmark (multi-row inserts, one transaction per batch, one precomputed password hash).
//!
//! `users` loads B2B divisions and users (`COPY` on PostgreSQL), `instore` geography, stores,
//! groups and staffs; both share the names and batching below.

mod instore;
mod users;

pub use instore::{BENCH_STAFF_USERNAME, seed_instore};
pub use users::seed_b2b;

use crate::db::{Db, Query};

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
