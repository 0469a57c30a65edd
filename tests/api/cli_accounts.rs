//! The account commands of the binary (`user …`, `instore staff …`) and what each command's
//! help shows: success, refusal in words, exit codes.

use crate::helpers::{Backend, TestDb};
use crate::per_backend;
use crate::process::{kadro_args, kadro_on, run_code, scalar};

per_backend!(b2b_user_commands, instore_staff_commands);

async fn b2b_user_commands(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let (code, _, stderr) = kadro_args(&db, &["seed-demo"], "");
    assert_eq!(code, 0, "{stderr}");
    let division = scalar(&db, "SELECT MIN(id) FROM divisions").await;
    let division = division.to_string();

    // A refused password: in words, exit 1, nothing written.
    let (code, _, stderr) = kadro_args(
        &db,
        &[
            "createsuperuser",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ],
        "12345\n",
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("too short")
            && !stderr.contains("Validation")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    let (code, stdout, stderr) = kadro_args(
        &db,
        &[
            "createsuperuser",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    assert_eq!(code, 0, "{stderr}");
    let admin: i64 = stdout.trim().parse().unwrap();

    // user create: the API's validation, then success.
    let create = |email: &'static str, division: &str| {
        vec![
            "user".to_owned(),
            "create".into(),
            "--email".into(),
            email.into(),
            "--first-name".into(),
            "Ada".into(),
            "--last-name".into(),
            "Lovelace".into(),
            "--division".into(),
            division.into(),
            "--password-stdin".into(),
        ]
    };
    let args = create("ada@example.com", "999999");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = kadro_args(&db, &args, "analytical engine\n");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--division: Invalid pk \"999999\""),
        "{stderr}"
    );
    let args = create("ada@example.com", &division);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = kadro_args(&db, &args, "analytical engine\n");
    assert_eq!(code, 0, "{stderr}");
    let ada: i64 = stdout.trim().parse().unwrap();
    let (code, _, stderr) = kadro_args(&db, &args, "analytical engine\n");
    assert!(code == 1 && stderr.contains("already exists"), "{stderr}");

    // set-password by email: the new password signs in, the old tokens are gone.
    let (code, token, _) = kadro_args(&db, &["token", "issue", "--email", "ada@example.com"], "");
    assert_eq!(code, 0);
    let (code, _, stderr) = kadro_args(
        &db,
        &[
            "user",
            "set-password",
            "ADA@example.com",
            "--password-stdin",
        ],
        "difference engine\n",
    );
    assert_eq!(code, 0, "{stderr}");
    let tokens = format!(
        "SELECT COUNT(*) FROM api_tokens WHERE account_id = {ada} AND account_kind = 'user'"
    );
    assert_eq!(scalar(&db, &tokens).await, 0, "{token}");
    let (code, _, stderr) = kadro_args(&db, &["user", "set-password", "nobody@example.com"], "x\n");
    assert!(
        code == 1 && stderr.contains("no account with email"),
        "{stderr}"
    );

    // deactivate, activate, list.
    let active =
        format!("SELECT CASE WHEN is_active THEN 1 ELSE 0 END FROM users WHERE id = {ada}");
    let (code, _, stderr) = kadro_args(&db, &["user", "deactivate", &ada.to_string()], "");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(scalar(&db, &active).await, 0);
    let (code, stdout, _) = kadro_args(&db, &["user", "list", "--email", "ada@"], "");
    assert_eq!(code, 0);
    let line = stdout
        .lines()
        .find(|l| l.contains("ada@example.com"))
        .unwrap();
    assert!(line.contains(" no ") && line.contains("user"), "{stdout}");
    let (code, _, _) = kadro_args(&db, &["user", "activate", "ada@example.com"], "");
    assert_eq!(code, 0);
    assert_eq!(scalar(&db, &active).await, 1);
    let (code, _, stderr) = kadro_args(&db, &["user", "activate", "424242"], "");
    assert!(
        code == 1 && stderr.contains("no account with id 424242"),
        "{stderr}"
    );

    // The last active superuser stays.
    let (code, _, stderr) = kadro_args(&db, &["user", "deactivate", &admin.to_string()], "");
    assert_eq!(code, 1);
    assert!(stderr.contains("last active superuser"), "{stderr}");
    let (code, stdout, _) = kadro_args(&db, &["user", "list", "--limit", "2", "--page", "2"], "");
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().count(),
        3,
        "header and two accounts:\n{stdout}"
    );

    // Usage errors: exit 2.
    let (code, _, _) = kadro_args(&db, &["user", "deactivate"], "");
    assert_eq!(code, 2);
}

async fn instore_staff_commands(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let (code, _, stderr) = kadro_args(&db, &["seed-demo"], "");
    assert_eq!(code, 0, "{stderr}");
    let store = scalar(&db, "SELECT MIN(id) FROM retail_stores")
        .await
        .to_string();
    let group = scalar(&db, "SELECT MIN(id) FROM permission_groups")
        .await
        .to_string();
    let create = |store: &str, username: &str| {
        [
            "instore",
            "staff",
            "create",
            "--email",
            "kim@example.com",
            "--first-name",
            "Kim",
            "--last-name",
            "Lee",
            "--store",
            store,
            "--group",
            &group,
            "--username",
            username,
            "--password-stdin",
        ]
        .map(str::to_owned)
    };
    let args = create("999999", "kim");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = kadro_args(&db, &args, "till receipts\n");
    assert_eq!(code, 1);
    assert!(stderr.starts_with("kadro: --store: Invalid pk"), "{stderr}");
    let args = create(&store, "kim");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = kadro_args(&db, &args, "till receipts\n");
    assert_eq!(code, 0, "{stderr}");
    let kim: i64 = stdout.trim().parse().unwrap();
    let (code, _, stderr) = kadro_args(&db, &args, "till receipts\n");
    assert!(
        code == 1 && stderr.contains("--username: A staff with that username"),
        "{stderr}"
    );

    let (code, _, stderr) = kadro_args(
        &db,
        &[
            "instore",
            "staff",
            "set-password",
            &kim.to_string(),
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(code == 1 && stderr.contains("too short"), "{stderr}");
    let (code, _, stderr) = kadro_args(
        &db,
        &[
            "instore",
            "staff",
            "set-password",
            &kim.to_string(),
            "--password-stdin",
        ],
        "new till receipts\n",
    );
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, _) = kadro_args(&db, &["instore", "staff", "list", "--store", &store], "");
    assert_eq!(code, 0);
    let line = stdout
        .lines()
        .find(|l| l.contains("kim@example.com"))
        .unwrap();
    assert!(line.contains("kim") && line.contains(" yes "), "{stdout}");
    let (code, _, _) = kadro_args(
        &db,
        &["instore", "staff", "deactivate", &kim.to_string()],
        "",
    );
    assert_eq!(code, 0);
    let active =
        format!("SELECT CASE WHEN is_active THEN 1 ELSE 0 END FROM staffs WHERE id = {kim}");
    assert_eq!(scalar(&db, &active).await, 0);
    let (code, _, stderr) = kadro_args(&db, &["instore", "staff", "deactivate", "424242"], "");
    assert!(
        code == 1 && stderr.contains("no staff with id 424242"),
        "{stderr}"
    );
    let (code, _, _) = kadro_args(
        &db,
        &["instore", "staff", "create", "--email", "x@y.zz"],
        "",
    );
    assert_eq!(code, 2, "missing required options are a usage error");
}

/// Each command's help lists its own options and the global ones, never the server's.
#[test]
fn help_texts_list_only_their_commands_options() {
    let help = |args: &[&str]| {
        let mut cmd = kadro_on("sqlite://unused.db");
        cmd.args(args).arg("--help");
        let (code, stdout, _) = run_code(cmd, "");
        assert_eq!(code, 0);
        stdout
    };
    for args in [
        &["token", "revoke"][..],
        &["token", "issue"],
        &["user", "deactivate"],
        &["instore", "staff", "create"],
        &["createsuperuser"],
        &["check"],
        &[],
    ] {
        let text = help(args);
        assert!(
            text.contains("--database-url") && text.contains("Global options"),
            "{text}"
        );
        for server in ["--bind", "KADRO_BIND", "--commerce-url", "--workers"] {
            assert!(
                !text.contains(server),
                "`{args:?} --help` lists {server}:\n{text}"
            );
        }
    }
    let token_issue = help(&["token", "issue"]);
    assert!(
        token_issue.contains("Email address of the account"),
        "{token_issue}"
    );
    let serve = help(&["serve"]);
    for server in [
        "--bind",
        "KADRO_BIND",
        "--commerce-url",
        "--workers",
        "--database-url",
    ] {
        assert!(
            serve.contains(server),
            "serve --help lacks {server}:\n{serve}"
        );
    }
    // A server option given to another command is a usage error.
    let mut cmd = kadro_on("sqlite://unused.db");
    cmd.args(["--bind", "127.0.0.1:0", "check"]);
    let (code, _, stderr) = run_code(cmd, "");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--bind is an option of `kadro serve`"),
        "{stderr}"
    );
}
