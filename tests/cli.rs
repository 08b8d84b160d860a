//! `handshake_exporter probe` on loopback, without the lab: a refused port gives the refused
//! verdict and exit 2, and colours appear on a terminal (a pseudo-terminal made by script(1)) but
//! never with `NO_COLOR`, nor on a pipe.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_handshake_exporter");
const RED: &str = "\x1b[1;31m";

#[test]
fn refused_port_is_critical_without_colours_on_a_pipe() {
    let out = Command::new(BIN)
        .args(["probe", "127.0.0.1:1"])
        .env_remove("NO_COLOR")
        .output()
        .expect("failed to run the probe command");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.starts_with("127.0.0.1:1 (module tcp_connect)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nFAILED in connect: refused (ECONNREFUSED). 127.0.0.1 answered the SYN"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "colours on a pipe:\n{stdout}");
}

/// Runs the command under script(1), which gives it a pseudo-terminal as stdout; `None` when
/// script(1) is not installed (util-linux).
fn on_a_terminal(no_color: Option<&str>) -> Option<String> {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{BIN} probe 127.0.0.1:1"), "/dev/null"]);
    match no_color {
        Some(value) => cmd.env("NO_COLOR", value),
        None => cmd.env_remove("NO_COLOR"),
    };
    let out = cmd.output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn colours_only_on_a_terminal_and_never_with_no_color() {
    let Some(coloured) = on_a_terminal(None) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("script(1) (util-linux) is missing, and CI=true forbids skipping");
        }
        eprintln!("skipping: script(1) is not installed");
        return;
    };
    assert!(
        coloured.contains(&format!("{RED}FAILED in connect")),
        "{coloured:?}"
    );
    let plain = on_a_terminal(Some("1")).unwrap();
    assert!(plain.contains("FAILED in connect"), "{plain:?}");
    assert!(
        !plain.contains('\x1b'),
        "colours despite NO_COLOR:\n{plain:?}"
    );
    // An empty NO_COLOR does not count (no-color.org).
    let empty = on_a_terminal(Some("")).unwrap();
    assert!(empty.contains(RED), "{empty:?}");
}
