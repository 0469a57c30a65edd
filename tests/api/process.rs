//! The `kadro` binary as a child process: killed when the test ends (even when it fails), its
//! output read line by line, and every wait bounded by a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use kadro::db::{Db, DbOptions, Query};

use crate::helpers::TestDb;

/// How long a command may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// `kadro` on `db`, logging warnings.
pub fn kadro(db: &TestDb) -> Command {
    let mut cmd = kadro_on(&db.url);
    cmd.env("KADRO_LOG", "warn");
    cmd
}

/// `kadro` with `KADRO_DATABASE_URL` set to `url` and no other `KADRO_*` variable of the
/// test's environment.
pub fn kadro_on(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kadro"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("KADRO_")) {
        cmd.env_remove(key);
    }
    cmd.env("KADRO_DATABASE_URL", url);
    cmd
}

/// A running child; dropping it kills it.
pub struct Kadro {
    child: Child,
    lines: Receiver<(Stream, String)>,
    /// Every line read so far, in order.
    pub seen: Vec<(Stream, String)>,
}

impl Kadro {
    /// Starts `cmd` with stdin, stdout and stderr piped.
    pub fn spawn(mut cmd: Command) -> Kadro {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kadro");
        let (send, lines) = mpsc::channel();
        forward(
            child.stdout.take().expect("stdout"),
            Stream::Stdout,
            send.clone(),
        );
        forward(child.stderr.take().expect("stderr"), Stream::Stderr, send);
        Kadro {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Writes `input` to the child's stdin and closes it.
    pub fn input(&mut self, input: &str) {
        let mut stdin = self.child.stdin.take().expect("stdin still open");
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }

    /// Reads lines until one satisfies `wanted`, failing after `within`.
    pub fn wait_for_line(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(Stream, &str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        if let Some((_, line)) = self.seen.iter().find(|(s, l)| wanted(*s, l)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((stream, line)) => {
                    self.seen.push((stream, line.clone()));
                    if wanted(stream, &line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {within:?}; output:\n{}", self.output())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("kadro ended without {what}; output:\n{}", self.output())
                }
            }
        }
    }

    /// Takes in every line the child has written so far, without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// Waits for the child to exit, then for the rest of its output.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        drop(self.child.stdin.take());
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "kadro did not exit within {within:?}; output:\n{}",
                self.output()
            );
            thread::sleep(Duration::from_millis(20));
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.max(Duration::from_secs(1))) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("kadro's output did not end"),
            }
        }
        status
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The lines of one stream, each ended by a newline.
    pub fn text(&self, stream: Stream) -> String {
        self.seen
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    }

    fn output(&self) -> String {
        self.seen
            .iter()
            .map(|(s, l)| format!("{s:?}: {l}\n"))
            .collect()
    }
}

impl Drop for Kadro {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(from: impl Read + Send + 'static, stream: Stream, to: mpsc::Sender<(Stream, String)>) {
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if to.send((stream, line)).is_err() {
                break;
            }
        }
    });
}

/// Runs `cmd` to its end with `stdin` as input: (success, stdout, stderr).
pub fn run(cmd: Command, stdin: &str) -> (bool, String, String) {
    let (code, stdout, stderr) = run_code(cmd, stdin);
    (code == 0, stdout, stderr)
}

/// Runs `cmd` to its end with `stdin` as input: (exit code, stdout, stderr).
pub fn run_code(cmd: Command, stdin: &str) -> (i32, String, String) {
    let mut child = Kadro::spawn(cmd);
    child.input(stdin);
    let status = child.wait(DEADLINE);
    (
        status.code().unwrap_or(-1),
        child.text(Stream::Stdout),
        child.text(Stream::Stderr),
    )
}

/// `kadro ARGS` on `db` with `stdin`: (exit code, stdout, stderr).
pub fn kadro_args(db: &TestDb, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut cmd = kadro(db);
    cmd.args(args);
    run_code(cmd, stdin)
}

/// The one value `sql` selects in the database a command ran on, as a BIGINT on either
/// backend (a short-lived pool of its own, closed before returning).
pub async fn scalar(db: &TestDb, sql: &str) -> i64 {
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let value = Query::new(format!("SELECT CAST(({sql}) AS BIGINT)"))
        .scalar::<i64>(&pool)
        .await
        .unwrap();
    pool.close().await;
    value
}
