//! The command's results on standard output.
//!
//! `println!` panics when the write fails, and the Rust runtime ignores SIGPIPE, so
//! `certgate ca list --json | head -c 100` would end in a panic message once `head` has read
//! enough. A command whose reader has gone ends quietly instead, with the status a Unix tool
//! killed by SIGPIPE leaves (128 + 13); any other write failure (a full disk under a
//! redirection) is said on standard error and ends the command with EX_IOERR.

use std::io::{ErrorKind, Write};

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
