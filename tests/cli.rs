//! The command-line tool: success paths print what they promise, bad input
//! exits non-zero with a one-line message.
#![cfg(feature = "cli")]

use std::process::Command;

fn boltzmann(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_boltzmann")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const SMALL: &[&str] = &[
    "bench",
    "gibbs",
    "--visible",
    "20",
    "--hidden",
    "9",
    "--chains",
    "33",
    "--threads",
    "2",
    "--sweeps",
    "3",
    "--repeats",
    "2",
];

#[test]
fn bench_gibbs_text_and_json() {
    let (ok, out, err) = boltzmann(SMALL);
    assert!(ok, "{err}");
    for needle in ["sweeps/s", "chain-sweeps/s", "unit-updates/s", "GFLOP/s", "isa="] {
        assert!(out.contains(needle), "missing {needle} in {out}");
    }
    let mut args = SMALL.to_vec();
    args.extend(["--json", "--breakdown", "--isa", "scalar"]);
    let (ok, out, err) = boltzmann(&args);
    assert!(ok, "{err}");
    let line = out.trim();
    assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
    for key in [
        "\"sweeps_per_s\":",
        "\"chain_sweeps_per_s\":",
        "\"gflops\":",
        "\"isa\":\"scalar\"",
        "\"breakdown_fraction\"",
    ] {
        assert!(line.contains(key), "missing {key} in {line}");
    }
}

#[test]
fn info_runs() {
    let (ok, out, _) = boltzmann(&["info"]);
    assert!(ok);
    assert!(out.contains("active:"));
}

#[test]
fn bad_arguments_fail_cleanly() {
    let cases: &[(&[&str], &str)] = &[
        (&["bench", "gibbs", "--chains", "0"], "batch"),
        (&["bench", "gibbs", "--visible", "0"], "n_visible"),
        (&["bench", "gibbs", "--threads", "0"], "threads"),
        (&["bench", "gibbs", "--isa", "sse9"], "unknown --isa"),
        (&["bench", "gibbs", "--chains", "100000000000000"], "would need"),
        (&["bench", "gibbs", "--visible", "4000000000", "--hidden", "4000000000"], "would need"),
        (&["bench", "gibbs", "--chains", "-3"], "error"),
        (&["bench", "gibbs", "--chains", "many"], "error"),
        (&["frobnicate"], "error"),
    ];
    for (args, needle) in cases {
        let (ok, _, err) = boltzmann(args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(needle), "{args:?}: stderr {err:?} lacks {needle:?}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}
