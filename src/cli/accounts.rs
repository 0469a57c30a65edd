//! B2B accounts and their API tokens: `createsuperuser`, `staff create`, `user …`, `token …`.
//! Each goes through the same validation and service functions as the API.

use anyhow::Context;
use clap::{Args, Subcommand};

use super::prompt;
use super::words::{human, password_refusal};
use crate::app::App;
use crate::auth::account_admin;
use crate::auth::token::{self, AccountKind};
use crate::b2b::accounts::{self, NewStaffAccount};
use crate::b2b::user_filter::UserFilter;
use crate::b2b::users::service::{self, UserCreateIn};
use crate::b2b::users::store::UserScope;
use crate::config::Config;
use crate::db::list::Window;
use crate::http::json::Body;
use crate::http::validate::Validator;
use crate::state::AppState;

#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Email address the account signs in with.
    #[arg(long)]
    pub email: String,
    /// Id of the account's B2B division (none: no division).
    #[arg(long, value_name = "ID")]
    pub division: Option<i64>,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a B2B staff account (not an Instore staff: see `kadro instore staff`); prints
    /// its id.
    Create {
        #[command(flatten)]
        account: AccountArgs,
        /// Make the account a superuser.
        #[arg(long)]
        superuser: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a B2B user in a division (with Commerce configured, also on Commerce); prints
    /// its id.
    Create {
        /// Email address the user signs in with.
        #[arg(long)]
        email: String,
        /// First name.
        #[arg(long)]
        first_name: String,
        /// Last name.
        #[arg(long)]
        last_name: String,
        /// Id of the user's division (must be active).
        #[arg(long, value_name = "ID")]
        division: i64,
        /// Phone number.
        #[arg(long, default_value = "")]
        phone_number: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set the password an account signs in with; its tokens are revoked.
    SetPassword {
        #[command(flatten)]
        account: AccountRef,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Activate an account (with Commerce configured, on Commerce first, as the API does).
    Activate(AccountRef),
    /// Deactivate an account (with Commerce configured, on Commerce first, as the API does);
    /// the last active superuser is refused.
    Deactivate(AccountRef),
    /// Lift an account's login lock (after too many wrong passwords) and forget its failures.
    Unlock(AccountRef),
    /// List accounts (staff and users), in id order.
    List {
        /// Only emails containing this text (case-insensitive).
        #[arg(long)]
        email: Option<String>,
        /// Only accounts of this division.
        #[arg(long, value_name = "ID")]
        division: Option<i64>,
        /// Accounts per page.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Page to show, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
    },
}

/// Which account a command acts on.
#[derive(Debug, Args)]
pub struct AccountRef {
    /// The account's id or email address.
    #[arg(value_name = "ID_OR_EMAIL")]
    pub account: String,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a new API token for a B2B account; prints the token (shown only this once).
    Issue {
        /// Email address of the account.
        #[arg(long)]
        email: String,
    },
    /// Revoke an API token: requests carrying it get 401 from then on.
    Revoke {
        /// The token, as printed by `kadro token issue` or the login endpoint.
        token: String,
    },
}

/// `createsuperuser` and `staff create`.
pub async fn create_staff(
    config: Config,
    args: AccountArgs,
    superuser: bool,
) -> anyhow::Result<()> {
    let mut v = Validator::new();
    v.email("email", &args.email, false);
    v.finish().map_err(|e| human(e, &[], ""))?;
    let app = App::build(config).await?;
    let password = new_password(&app.state, args.password_stdin)?;
    let hash = app
        .state
        .passwords
        .hash(password)
        .await
        .map_err(|e| human(e, &[], ""))?;
    let mut tx = app.state.db.begin().await?;
    let email = args.email.trim();
    let inserted = accounts::create_staff(
        &mut tx,
        NewStaffAccount {
            email,
            password_hash: &hash,
            is_superuser: superuser,
            division_id: args.division,
        },
    )
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if crate::db::is_foreign_key_violation(&e) => {
            anyhow::bail!("no division with id {}", args.division.unwrap_or_default())
        }
        Err(e) => return Err(human(e.into(), &[], "")),
    };
    tx.commit().await?;
    println!("{id}");
    Ok(())
}

pub async fn staff(config: Config, command: StaffCommand) -> anyhow::Result<()> {
    match command {
        StaffCommand::Create { account, superuser } => {
            create_staff(config, account, superuser).await
        }
    }
}

pub async fn user(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let state = &app.state;
    match command {
        UserCommand::Create {
            email,
            first_name,
            last_name,
            division,
            phone_number,
            password_stdin,
        } => {
            let password = new_password(state, password_stdin)?;
            let body = UserCreateIn {
                first_name: Some(first_name),
                last_name: Some(last_name),
                email: Some(email),
                password: Some(password),
                phone_number: Some(phone_number),
                division: Some(division),
            };
            let created = service::create(state, UserScope::All, Body::new(body))
                .await
                .map_err(|e| human(e, &[], ""))?;
            println!("{}", created.id);
        }
        UserCommand::SetPassword {
            account,
            password_stdin,
        } => {
            let id = resolve(state, &account.account).await?;
            let password = new_password(state, password_stdin)?;
            accounts::set_password(&state.db, &state.passwords, id, password)
                .await
                .map_err(|e| human(e, &[], &format!("no account with id {id}")))?;
            eprintln!("password of account {id} set; its tokens are revoked");
        }
        UserCommand::Activate(account) => set_active(state, &account.account, true).await?,
        UserCommand::Deactivate(account) => set_active(state, &account.account, false).await?,
        UserCommand::Unlock(account) => {
            let id = resolve(state, &account.account).await?;
            account_admin::unlock(&state.db, AccountKind::User, id)
                .await
                .map_err(|e| human(e, &[], &format!("no account with id {id}")))?;
            eprintln!("account {id} unlocked");
        }
        UserCommand::List {
            email,
            division,
            limit,
            page,
        } => list(state, email, division, limit, page).await?,
    }
    Ok(())
}

async fn set_active(state: &AppState, account: &str, active: bool) -> anyhow::Result<()> {
    let id = resolve(state, account).await?;
    service::set_active(state, UserScope::All, id, active)
        .await
        .map_err(|e| human(e, &[], &format!("no account with id {id}")))?;
    let done = if active { "activated" } else { "deactivated" };
    eprintln!("account {id} {done}");
    Ok(())
}

async fn list(
    state: &AppState,
    email: Option<String>,
    division: Option<i64>,
    limit: u32,
    page: u32,
) -> anyhow::Result<()> {
    anyhow::ensure!(limit > 0 && page > 0, "--limit and --page start at 1");
    let filter = UserFilter {
        email,
        division,
        ..UserFilter::default()
    };
    let window = Window {
        limit: i64::from(limit),
        offset: i64::from(limit) * i64::from(page - 1),
    };
    let (count, rows) = accounts::list(&state.db, &filter, window).await?;
    println!(
        "{:>8}  {:<36} {:<8} {:<10} DIVISION",
        "ID", "EMAIL", "ACTIVE", "ROLE"
    );
    for a in &rows {
        let role = match (a.is_superuser, a.is_staff) {
            (true, _) => "superuser",
            (false, true) => "staff",
            (false, false) => "user",
        };
        let division = a.division_id.map(|d| d.to_string()).unwrap_or_default();
        let active = if a.is_active { "yes" } else { "no" };
        println!(
            "{:>8}  {:<36} {active:<8} {role:<10} {division}",
            a.id, a.email
        );
    }
    let shown_to = window.offset + rows.len() as i64;
    eprintln!("{} of {count} accounts", range(window.offset, shown_to));
    Ok(())
}

/// `first–last` (1-based) of a page, or `none` for an empty one.
pub fn range(offset: i64, end: i64) -> String {
    if end > offset {
        format!("{}–{end}", offset + 1)
    } else {
        "none".into()
    }
}

pub async fn token(config: Config, command: TokenCommand) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let db = &app.state.db;
    match command {
        TokenCommand::Issue { email } => {
            let id = accounts::id_by_email(db, &email)
                .await?
                .with_context(|| format!("no account with email {email}"))?;
            let mut tx = db.begin().await?;
            let token = token::grant(&mut tx, AccountKind::User, id).await?;
            tx.commit().await?;
            println!("{token}");
        }
        TokenCommand::Revoke { token: key } => {
            anyhow::ensure!(
                token::revoke_as(db, &key, "token.revoke").await?,
                "no such token"
            );
            eprintln!("token revoked");
        }
    }
    Ok(())
}

/// An account's id from its id or email address.
async fn resolve(state: &AppState, account: &str) -> anyhow::Result<i64> {
    if let Ok(id) = account.parse::<i64>() {
        return Ok(id);
    }
    accounts::id_by_email(&state.db, account)
        .await?
        .with_context(|| format!("no account with email {account}"))
}

/// A new password that the policy accepts (prompted, or read from standard input).
pub fn new_password(state: &AppState, from_stdin: bool) -> anyhow::Result<String> {
    prompt::new_password(from_stdin, |password| {
        state
            .passwords
            .validate("password", password)
            .map_err(password_refusal)
    })
}
