//! `kadro seed-demo`: a small, realistic data set so a newcomer can try every endpoint.

use anyhow::Context;

use crate::auth::password;
use crate::b2b::accounts::{self, NewStaffAccount};
use crate::b2b::divisions::store::{self as divisions, DivisionFields};
use crate::b2b::users::store::{self as users, NewUser};
use crate::db::Query;
use crate::state::AppState;

/// The password of every demo account (printed by the command).
pub const DEMO_PASSWORD: &str = "kadro-demo-2024";

const FIRST_NAMES: &[&str] = &[
    "Ayşe", "Mehmet", "Elif", "Can", "Zeynep", "Emre", "Selin", "Burak", "Deniz", "Ece",
];
const LAST_NAMES: &[&str] = &[
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Aydın", "Öztürk", "Arslan",
];

/// What the demo created, for the summary the command prints.
pub struct DemoSummary {
    pub divisions: usize,
    pub staff: Vec<String>,
    pub users: usize,
}

/// Fills the database once; a second run changes nothing and says so.
pub async fn seed(state: &AppState) -> anyhow::Result<Option<DemoSummary>> {
    anyhow::ensure!(
        state.commerce.is_local(),
        "seed-demo fills a local-mode database; unset KADRO_COMMERCE_URL to use it"
    );
    let exists: i64 = Query::new("SELECT COUNT(*) FROM divisions WHERE erp_code = 'DEMO-IST'")
        .scalar(&state.db)
        .await?;
    if exists > 0 {
        return Ok(None);
    }
    let hash = password::hash_now(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = state.db.begin().await?;
    let mut division_ids = Vec::new();
    for (name, code, subs) in [
        (
            "Istanbul Wholesale",
            "DEMO-IST",
            &["Kadıköy Branch", "Beşiktaş Branch"][..],
        ),
        ("Ankara Wholesale", "DEMO-ANK", &["Çankaya Branch"][..]),
    ] {
        let main = divisions::insert(&mut tx, &fields(name, "main", None, code)).await?;
        division_ids.push(main);
        for (i, sub) in subs.iter().enumerate() {
            let code = format!("{code}-{}", i + 1);
            division_ids
                .push(divisions::insert(&mut tx, &fields(sub, "sub", Some(main), &code)).await?);
        }
    }
    let mut staff = Vec::new();
    for (email, division) in [
        ("staff.istanbul@demo.kadro.local", division_ids[0]),
        ("staff.ankara@demo.kadro.local", division_ids[3]),
    ] {
        accounts::insert_staff(
            &mut tx,
            NewStaffAccount {
                email,
                password_hash: &hash,
                is_superuser: false,
                division_id: Some(division),
            },
        )
        .await
        .with_context(|| format!("{email} already exists"))?;
        staff.push(email.to_owned());
    }
    let mut created = 0;
    for i in 0..24 {
        let first = FIRST_NAMES[i % FIRST_NAMES.len()];
        let last = LAST_NAMES[(i * 7) % LAST_NAMES.len()];
        let email = format!("{}.{}{i}@demo.kadro.local", ascii(first), ascii(last));
        let phone = format!("0532{:07}", 1_000_000 + i * 7919);
        let token = crate::auth::token::generate();
        let new = NewUser {
            email: &email,
            password_hash: &hash,
            first_name: first,
            last_name: last,
            phone_number: &phone,
            division_id: division_ids[i % division_ids.len()],
            shop_token: &token,
        };
        let id = users::insert(&mut tx, &new, false).await?;
        users::set_remote_id(&mut tx, id, id).await?;
        if i % 10 == 9 {
            users::set_active(&mut tx, id, false).await?;
        }
        created += 1;
    }
    tx.commit().await?;
    Ok(Some(DemoSummary {
        divisions: division_ids.len(),
        staff,
        users: created,
    }))
}

fn fields(name: &str, kind: &str, parent: Option<i64>, code: &str) -> DivisionFields {
    DivisionFields {
        name: name.into(),
        division_type: kind.into(),
        parent_id: parent,
        erp_code: Some(code.into()),
        is_active: true,
        extra_data: serde_json::json!({ "demo": true }),
    }
}

/// Email-safe spelling of a Turkish name.
fn ascii(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'ş' | 'Ş' => 's',
            'ı' | 'İ' => 'i',
            'ç' | 'Ç' => 'c',
            'ğ' | 'Ğ' => 'g',
            'ö' | 'Ö' => 'o',
            'ü' | 'Ü' => 'u',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}
