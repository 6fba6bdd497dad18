//! Output into a pipe whose reader has gone (`certgate ca list --json | head -c 100`) ends
//! the command quietly, as Unix tools do, instead of a panic.

mod common;

use std::process::Stdio;

use common::Env;

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let env = Env::sqlite();
    env.ok(&["pki", "init", "--organization", "Contoso", "--trust"]);
    for args in [
        &["ca", "list", "--json"][..],
        &["ca", "list"],
        &["pki", "list"],
    ] {
        // The reader is closed before the command starts, so its first write fails for sure.
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let output = env
            .command(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run certgate");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}: nothing to say on stderr either");
        // What a shell reports for a tool that SIGPIPE ended.
        assert_eq!(output.status.code(), Some(141), "{args:?}");
    }
}
