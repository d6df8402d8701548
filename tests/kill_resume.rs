//! `kill -9` at spread-out moments of `train` and of a two-layer `crbm
//! train`, then `--resume` (or a fresh
//! start when no checkpoint was written yet): the final model is
//! byte-identical to an uninterrupted run's, also on another thread count,
//! and no temporary file survives — neither those of the killed process nor
//! a stale one planted as a kill during a checkpoint write would leave it.
#![cfg(all(feature = "cli", unix))]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_boltzmann");

fn train_args(out: &Path, threads: &str) -> Vec<String> {
    [
        "train",
        "--limit",
        "1500",
        "--hidden",
        "48",
        "--epochs",
        "8",
        "--monitor",
        "0",
        "--threads",
        threads,
        "--quiet",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

fn run(args: &[String]) {
    let o = Command::new(BIN).args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn killed_runs_resume_to_the_same_model_and_leave_no_temporaries() {
    kill_and_resume("train", train_args);
}

/// A two-layer `crbm train` (a greedy convolutional DBN, checkpointed after
/// every epoch of either layer).
fn crbm_args(out: &Path, threads: &str) -> Vec<String> {
    [
        "crbm",
        "train",
        "--limit",
        "1000",
        "--filters",
        "3,40",
        "--filter-size",
        "7,4",
        "--pool",
        "2,2",
        "--epochs",
        "3",
        "--sample-sweeps",
        "10",
        "--threads",
        threads,
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

#[test]
fn killed_convolutional_dbn_runs_resume_to_the_same_model() {
    kill_and_resume("crbm", crbm_args);
}

/// Runs `args` once uninterrupted, then kills copies at spread-out moments
/// and resumes each from its checkpoint: every final model must be the
/// uninterrupted one's, with no temporary file left.
fn kill_and_resume(name: &str, args_of: fn(&Path, &str) -> Vec<String>) {
    let root = std::env::temp_dir().join(format!("boltzmann-kill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let reference = root.join("reference");
    let t0 = Instant::now();
    run(&args_of(&reference, "2"));
    let full = t0.elapsed();
    let want = std::fs::read(reference.join("model.safetensors")).unwrap();

    // Kill moments spread over the run (fixed, so the test is repeatable),
    // resumed on 1, 2 or 3 threads.
    let fractions = [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95];
    for (i, f) in fractions.iter().enumerate() {
        let out = root.join(format!("run{i}"));
        let mut child = Command::new(BIN)
            .args(args_of(&out, "2"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(*f));
        let _ = child.kill(); // SIGKILL; it may have finished already
        child.wait().unwrap();
        // A kill during a checkpoint write leaves `.NAME.tmp-PID`; plant one
        // of a process that cannot be running.
        let ckpt = out.join("checkpoint.safetensors");
        if out.is_dir() {
            std::fs::write(out.join(".checkpoint.safetensors.tmp-4000000000"), b"half a checkpoint").unwrap();
        }
        let threads = ["1", "2", "3"][i % 3];
        let mut args = args_of(&out, threads);
        if ckpt.exists() {
            args.extend(["--resume".to_string(), ckpt.display().to_string()]);
        }
        let started = Instant::now();
        run(&args);
        assert!(started.elapsed() < full * 20, "resume took too long");
        let got = std::fs::read(out.join("model.safetensors")).unwrap();
        assert!(
            got == want,
            "{name}: kill at {f} of the run, resumed on {threads} threads: the model differs"
        );
        assert_eq!(temporaries(&out), Vec::<String>::new(), "temporary files left after resuming");
    }
    std::fs::remove_dir_all(&root).unwrap();
}
