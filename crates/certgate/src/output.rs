//! The command's results on standard output: records and lists as JSON or for people, and
//! refusals with their reason codes.
//!
//! `println!` panics when the write fails, and the Rust runtime ignores SIGPIPE, so
//! `certgate ca list --json | head -c 100` would end in a panic message once `head` has read
//! enough. A command whose reader has gone ends quietly instead, with the status a Unix tool
//! killed by SIGPIPE leaves (128 + 13); any other write failure (a full disk under a
//! redirection) is said on standard error and ends the command with EX_IOERR.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use serde::Serialize;
use serde_json::json;

/// What a shell reports for a process that SIGPIPE ended.
const EXIT_READER_GONE: i32 = 128 + 13;
/// sysexits.h EX_IOERR.
const EXIT_OUTPUT_FAILED: i32 = 74;

/// Writes one line of results.
pub(crate) fn line(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(b"\n"));
    if let Err(err) = written {
        // Nothing more can reach the reader. A command reports on work it has done, so
        // ending here loses only output that no one would read.
        if err.kind() == ErrorKind::BrokenPipe {
            std::process::exit(EXIT_READER_GONE);
        }
        eprintln!("certgate: cannot write the results to standard output: {err}");
        std::process::exit(EXIT_OUTPUT_FAILED);
    }
}

/// One record: pretty JSON, or what `text` writes for people. Exit 0.
pub(crate) fn record<T: Serialize>(
    value: &T,
    json: bool,
    text: impl FnOnce(&T),
) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(value)?);
    } else {
        text(value);
    }
    Ok(ExitCode::SUCCESS)
}

/// Records: `{"<key>": [...]}` as pretty JSON; for people `empty` when there are none, else
/// what `row` writes for each. Exit 0.
pub(crate) fn list<T: Serialize>(
    key: &str,
    items: &[T],
    json: bool,
    empty: &str,
    row: impl FnMut(&T),
) -> anyhow::Result<ExitCode> {
    if json {
        let mut object = serde_json::Map::new();
        object.insert(key.to_owned(), serde_json::to_value(items)?);
        outln!("{}", serde_json::to_string_pretty(&object)?);
    } else if items.is_empty() {
        outln!("{empty}");
    } else {
        items.iter().for_each(row);
    }
    Ok(ExitCode::SUCCESS)
}

/// A record the command removed: `{"ok": true, "removed": ...}` on one line, or `line` for
/// people. Exit 0.
pub(crate) fn removed<T: Serialize>(
    value: &T,
    json: bool,
    line: std::fmt::Arguments<'_>,
) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", json!({ "ok": true, "removed": value }));
    } else {
        outln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A refusal with its reason code: `{"ok": false, ...}` on standard output for `--json`, else
/// `certgate COMMAND: MESSAGE (CODE)` on standard error. Exit 1.
pub(crate) fn refused(command: &str, code: &str, message: &str, json: bool) -> ExitCode {
    if json {
        outln!(
            "{}",
            json!({ "ok": false, "code": code, "message": message })
        );
    } else {
        eprintln!("certgate {command}: {message} ({code})");
    }
    ExitCode::FAILURE
}

/// A usage error (exit 2), as clap reports its own.
pub(crate) fn usage(command: &str, message: &str) -> ExitCode {
    eprintln!("certgate {command}: {message}");
    ExitCode::from(2)
}
