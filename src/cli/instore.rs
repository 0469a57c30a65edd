//! Instore staffs (the people who work in retail stores, `/api/v1/staffs/`): create, set a
//! password, deactivate, list. Each goes through the same functions as the API.

use clap::{Args, Subcommand};

use super::accounts::range;
use super::prompt;
use super::words::{human, password_refusal};
use crate::app::App;
use crate::auth::AccountKind;
use crate::auth::account_admin;
use crate::config::Config;
use crate::db::list::Window;
use crate::http::json::Body;
use crate::instore::staffs::write::{self, Mode};
use crate::instore::staffs::{ChangePasswordIn, StaffFilter, StaffIn, queries};

#[derive(Debug, Subcommand)]
pub enum InstoreCommand {
    /// Instore staffs: create, set a password, deactivate, unlock, list.
    #[command(subcommand)]
    Staff(StaffCommand),
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create an Instore staff working in the given stores; prints its id.
    Create(CreateArgs),
    /// Set a staff's password; the staff is signed out everywhere.
    SetPassword {
        /// The staff's id.
        id: i64,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a staff: it can no longer sign in and its tokens are revoked.
    Deactivate {
        /// The staff's id.
        id: i64,
    },
    /// Lift a staff's login lock (after too many wrong passwords) and forget its failures.
    Unlock {
        /// The staff's id.
        id: i64,
    },
    /// List staffs, in id order.
    List {
        /// Only staffs of this retail store.
        #[arg(long, value_name = "ID")]
        store: Option<i64>,
        /// Only emails containing this text (case-insensitive).
        #[arg(long)]
        email: Option<String>,
        /// Staffs per page.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Page to show, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Email address.
    #[arg(long)]
    email: String,
    /// First name.
    #[arg(long)]
    first_name: String,
    /// Last name.
    #[arg(long)]
    last_name: String,
    /// Id of a retail store the staff works in; repeat for several (at least one).
    #[arg(long = "store", value_name = "ID", required = true)]
    stores: Vec<i64>,
    /// Id of a permission group the staff belongs to; repeat for several.
    #[arg(long = "group", value_name = "ID")]
    groups: Vec<i64>,
    /// Name to sign in with (unique, case-insensitive); none: the staff signs in by email.
    #[arg(long)]
    username: Option<String>,
    /// The staff's id in the Commerce platform.
    #[arg(long)]
    remote_id: Option<String>,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

/// The API's field names as this command's options.
const LABELS: &[(&str, &str)] = &[
    ("retail_stores", "--store"),
    ("permission_groups", "--group"),
    ("staff", "staff"),
];

pub async fn run(
    config: Config,
    InstoreCommand::Staff(command): InstoreCommand,
) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let (db, passwords) = (&app.state.db, &app.state.passwords);
    let policy = |password: &str| {
        passwords
            .validate("password", password)
            .map_err(password_refusal)
    };
    match command {
        StaffCommand::Create(args) => {
            let password = prompt::new_password(args.password_stdin, policy)?;
            let body = StaffIn {
                retail_stores: Some(args.stores),
                first_name: Some(args.first_name),
                last_name: Some(args.last_name),
                email: Some(args.email),
                password: Some(password),
                remote_id: Some(args.remote_id),
                username: Some(args.username),
                permission_groups: Some(args.groups),
                ..StaffIn::default()
            };
            let id = write::save(db, passwords, None, Body::new(body), Mode::Create)
                .await
                .map_err(|e| human(e, LABELS, ""))?;
            println!("{id}");
        }
        StaffCommand::SetPassword { id, password_stdin } => {
            let password = prompt::new_password(password_stdin, policy)?;
            write::change_password(
                db,
                passwords,
                Body::new(ChangePasswordIn {
                    staff: Some(id),
                    new_password: Some(password),
                }),
            )
            .await
            .map_err(|e| human(e, LABELS, ""))?;
            eprintln!("password of staff {id} set; its tokens are revoked");
        }
        StaffCommand::Deactivate { id } => {
            anyhow::ensure!(write::deactivate(db, id).await?, "no staff with id {id}");
            eprintln!("staff {id} deactivated");
        }
        StaffCommand::Unlock { id } => {
            account_admin::unlock(db, AccountKind::Staff, id)
                .await
                .map_err(|e| human(e, LABELS, &format!("no staff with id {id}")))?;
            eprintln!("staff {id} unlocked");
        }
        StaffCommand::List {
            store,
            email,
            limit,
            page,
        } => {
            anyhow::ensure!(limit > 0 && page > 0, "--limit and --page start at 1");
            let filter = StaffFilter {
                retail_stores: store,
                email,
                ..StaffFilter::default()
            };
            let window = Window {
                limit: i64::from(limit),
                offset: i64::from(limit) * i64::from(page - 1),
            };
            let (count, staffs) = queries::page(db, &filter, window).await?;
            println!(
                "{:>8}  {:<24} {:<36} {:<8} {:<12} GROUPS",
                "ID", "USERNAME", "EMAIL", "ACTIVE", "STORES"
            );
            for s in &staffs {
                let ids = |ids: &mut dyn Iterator<Item = i64>| {
                    ids.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
                };
                let stores = ids(&mut s.retail_stores.iter().map(|r| r.id));
                let groups = ids(&mut s.permission_groups.iter().copied());
                let active = if s.is_active { "yes" } else { "no" };
                println!(
                    "{:>8}  {:<24} {:<36} {active:<8} {stores:<12} {groups}",
                    s.id,
                    s.username.as_deref().unwrap_or("-"),
                    s.email
                );
            }
            let end = window.offset + staffs.len() as i64;
            eprintln!("{} of {count} staffs", range(window.offset, end));
        }
    }
    Ok(())
}
