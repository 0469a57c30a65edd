//! `kadro import users|staffs FILE`: the API's import run by the command, its summary, the
//! refused rows on stderr and the exit code.

use crate::helpers::{Backend, TestDb};
use crate::per_backend;
use crate::process::{kadro, kadro_args, run_code, scalar};

per_backend!(import_command_runs_the_import);

async fn import_command_runs_the_import(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let (code, _, stderr) = kadro_args(&db, &["seed-demo"], "");
    assert_eq!(code, 0, "{stderr}");
    let division = scalar(&db, "SELECT MIN(id) FROM divisions").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(
        &file,
        format!(
            "email,first_name,last_name,division,password\n\
             cli-a@example.com,Cli,A,{division},a-good-password\n\
             not-an-email,Cli,B,{division},a-good-password\n\
             cli-c@example.com,Cli,C,{division},a-good-password\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut cmd = kadro(&db);
        cmd.env("KADRO_EXPORT_DIR", dir.path().join("exports"));
        cmd.arg("import").args(args);
        run_code(cmd, "")
    };
    let file = file.to_str().unwrap();
    let imported = "SELECT COUNT(*) FROM users WHERE email LIKE 'cli-%'";

    // A dry run checks every row and writes nothing; a refused row makes it exit 1.
    let (code, _, stderr) = run(&["users", file, "--dry-run"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("row 3: email: Enter a valid email address."),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 rows, 2 created, 0 updated, 1 failed (dry run: nothing written)"),
        "{stderr}"
    );
    assert!(!stderr.contains("a-good-password"), "{stderr}");
    assert_eq!(scalar(&db, imported).await, 0);

    let (code, _, stderr) = run(&["users", file]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("3 rows, 2 created, 0 updated, 1 failed"),
        "{stderr}"
    );
    assert_eq!(scalar(&db, imported).await, 2);

    // Upsert of a clean file: nothing changes, exit 0; the job is done and the upload gone.
    let clean = dir.path().join("clean.csv");
    std::fs::write(&clean, "email,first_name\ncli-a@example.com,Cli\n").unwrap();
    let (code, _, stderr) = run(&["users", clean.to_str().unwrap(), "--mode", "upsert"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("1 rows, 0 created, 0 updated, 0 failed"),
        "{stderr}"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'import.run' AND status <> 'done'"
        )
        .await,
        0
    );
    let left = std::fs::read_dir(dir.path().join("exports").join(".imports"))
        .unwrap()
        .count();
    assert_eq!(left, 0);
    // Each of the three imports was started and finished by the command line.
    for action in ["import.start", "import.finish"] {
        let sql = format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND actor_kind = 'cli'"
        );
        assert_eq!(scalar(&db, &sql).await, 3, "{action}");
    }
    let finished = "SELECT COUNT(*) FROM audit_events WHERE action = 'import.finish' \
        AND changes LIKE '%\"created\":[null,2]%' AND changes LIKE '%\"failed\":[null,1]%'";
    assert_eq!(scalar(&db, finished).await, 2);

    // A missing column or file: exit 1, in words.
    let (code, _, stderr) = run(&["staffs", file]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("FILE: One of the columns \"username\", \"remote_id\" is required."),
        "{stderr}"
    );
    let (code, _, _) = run(&["users", "/nonexistent.csv"]);
    assert_eq!(code, 1);
}
