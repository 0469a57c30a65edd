//! Asking for a new password: on a terminal without echo and twice, explaining a refusal and
//! asking again; from standard input (`--password-stdin`, or no terminal) one line, at once.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use rustix::termios::{self, LocalModes, OptionalActions};

/// Prompts on a terminal give up after this many refused or mistyped passwords.
const ATTEMPTS: usize = 3;

/// A new password that `policy` accepts (`Err` holds the refusal in words).
pub fn new_password(
    from_stdin: bool,
    policy: impl Fn(&str) -> Result<(), String>,
) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        policy(&password).map_err(|refusal| anyhow::anyhow!("password refused: {refusal}"))?;
        return Ok(password);
    }
    for _ in 0..ATTEMPTS {
        let password = read_hidden("Password: ")?;
        if let Err(refusal) = policy(&password) {
            eprintln!("This password is refused: {refusal}");
            continue;
        }
        if read_hidden("Password (again): ")? != password {
            eprintln!("The two passwords differ; try again.");
            continue;
        }
        return Ok(password);
    }
    anyhow::bail!("no acceptable password after {ATTEMPTS} attempts")
}

/// Reads a line from the terminal on standard input with echo off.
fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let saved = termios::tcgetattr(&stdin).context("cannot read the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    termios::tcsetattr(&stdin, OptionalActions::Now, &quiet)
        .context("cannot turn the terminal's echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let restored = termios::tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    read.context("cannot read the password")?;
    restored.context("cannot turn the terminal's echo back on")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
