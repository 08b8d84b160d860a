//! Teardown leaves nothing behind: after a lab is dropped, normally or by a panicking test, none
//! of its namespaces, `/etc/netns` directories, scratch files or processes remain.

#[macro_use]
mod lab;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use lab::netns;

/// What a lab leaves to check after it is gone.
struct Traces {
    prefix: String,
    namespaces: Vec<String>,
    dir: PathBuf,
    child: Child,
}

/// Builds a lab, starts a long-running process inside its client namespace, records its names.
fn build() -> Option<(lab::Lab, Traces)> {
    let lab = lab::Lab::new()?;
    let child = Command::new("ip")
        .args(["netns", "exec", &lab.client, "sleep", "60"])
        .spawn()
        .expect("failed to start sleep in the client namespace");
    let traces = Traces {
        prefix: lab.prefix().to_string(),
        namespaces: lab.namespaces().iter().map(|s| s.to_string()).collect(),
        dir: lab.dir.clone(),
        child,
    };
    let listed = netns::list();
    for ns in &traces.namespaces {
        assert!(listed.contains(ns), "{ns} missing while the lab is up");
    }
    Some((lab, traces))
}

/// Asserts nothing of the lab remains.
fn assert_gone(mut traces: Traces) {
    let left: Vec<String> = netns::list()
        .into_iter()
        .filter(|n| n.starts_with(&traces.prefix))
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
    for ns in &traces.namespaces {
        let etc = Path::new(netns::NETNS_ETC_DIR).join(ns);
        assert!(!etc.exists(), "{} left behind", etc.display());
        let run = Path::new(netns::NETNS_RUN_DIR).join(ns);
        assert!(!run.exists(), "{} left behind", run.display());
    }
    assert!(!traces.dir.exists(), "{} left behind", traces.dir.display());
    let status = traces.child.wait().expect("the sleep process");
    assert!(
        !status.success(),
        "the process in the namespace was not killed"
    );
}

#[test]
fn lab_teardown() {
    let Some((lab, traces)) = build() else {
        return;
    };
    drop(lab);
    assert_gone(traces);
}

#[test]
fn lab_teardown_after_panic() {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let Some((_lab, traces)) = build() else {
            return;
        };
        tx.send(traces).expect("the receiver is alive");
        panic!("expected panic: a test failing while its lab is up");
    });
    let joined = handle.join();
    let Ok(traces) = rx.recv() else {
        // No lab was built: either skipped, or Lab::new itself failed (CI=true without root).
        if let Err(payload) = joined {
            std::panic::resume_unwind(payload);
        }
        return;
    };
    assert!(joined.is_err(), "the thread should have panicked");
    assert_gone(traces);
}
