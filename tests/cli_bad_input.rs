//! The bad-input matrix of the command-line tool: every subcommand × every
//! class of bad input (missing, empty, truncated, corrupt and wrong-kind
//! files, absurd counts, non-finite values, unwritable and special output
//! paths, a closed or full standard output). Each case must exit non-zero
//! (never 101, a panic), print one `boltzmann: error:` line naming the
//! problem, and leave the fixture folder — where every output would go —
//! exactly as it was: no file added, changed or removed.
#![cfg(feature = "cli")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_boltzmann");

/// Every file under `dir` with its bytes' checksum and kind, recursively.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("link to {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                "dir".into()
            } else if m.is_file() {
                format!("{:016x}", boltzmann::checksum::checksum64(&std::fs::read(&p).unwrap()))
            } else {
                "special".into()
            };
            out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), what);
        }
    }
    out
}

struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    /// A folder with a small model, checkpoint, DBN, data files and broken
    /// copies of them.
    fn new(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("boltzmann-badinput-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let o = Command::new(BIN).args(args).current_dir(&dir).output().unwrap();
            assert!(o.status.success(), "fixture {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        run(&["train", "--epochs", "2", "--limit", "200", "--hidden", "12", "--out", "run", "--quiet"]);
        run(&["dbn", "train", "--limit", "200", "--layers", "12", "--layer-epochs", "1", "--out", "dbn"]);
        let bin: String = (0..40)
            .map(|i| {
                (0..9)
                    .map(|j| ((i * 7 + j * 3) % 5 == 0) as u8)
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect();
        std::fs::write(dir.join("bin.csv"), &bin).unwrap();
        let grey: String = (0..40)
            .map(|i| {
                (0..9)
                    .map(|j| format!("{:.3}", ((i * 13 + j * 7) % 10) as f32 / 10.0))
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect();
        std::fs::write(dir.join("grey.csv"), &grey).unwrap();
        let model = std::fs::read(dir.join("run/model.safetensors")).unwrap();
        std::fs::write(dir.join("empty.safetensors"), b"").unwrap();
        std::fs::write(dir.join("truncated.safetensors"), &model[..model.len() / 2]).unwrap();
        let mut flipped = model.clone();
        let at = model.len() - 100; // inside the tensor bytes
        flipped[at] ^= 0x10;
        std::fs::write(dir.join("flipped.safetensors"), &flipped).unwrap();
        std::fs::write(dir.join("not-a-dir"), b"a file").unwrap();
        std::fs::create_dir_all(dir.join("a-dir")).unwrap();
        Fixture { dir }
    }

    fn p(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Runs one bad case and checks the promise.
    fn check(&self, args: &[String], needle: &str) {
        let before = snapshot(&self.dir);
        let o = Command::new(BIN).args(args).current_dir(&self.dir).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        let code = o.status.code();
        assert!(!o.status.success(), "{args:?} succeeded; stderr: {err}");
        assert_ne!(code, Some(101), "{args:?} panicked: {err}");
        assert!(code.is_some(), "{args:?} was killed by a signal: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: no error message: {err}");
        assert!(
            err.to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: expected {needle:?} in: {err}"
        );
        let after = snapshot(&self.dir);
        assert_eq!(before, after, "{args:?} changed the folder; stderr: {err}");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

/// Missing, empty, truncated, corrupt (a flipped bit, caught by the
/// checksum) and wrong-kind model files, for every command that reads one.
#[test]
fn bad_model_files() {
    let f = Fixture::new("models");
    let rbm_users: Vec<Vec<String>> = vec![
        args(&["sample", "--steps", "2", "--out", &f.p("s.png"), "--model"]),
        args(&["filters", "--out", &f.p("f.png"), "--model"]),
        args(&["eval", "--model"]),
        args(&[
            "bench",
            "gibbs",
            "--visible",
            "784",
            "--hidden",
            "12",
            "--sweeps",
            "1",
            "--repeats",
            "1",
            "--model",
        ]),
        args(&["langevin", "--steps", "2", "--out", &f.p("l.png"), "--model"]),
        args(&["train", "--epochs", "3", "--limit", "200", "--out", &f.p("run"), "--resume"]),
    ];
    let dbn_users: Vec<Vec<String>> = vec![
        args(&["dbn", "sample", "--out", &f.p("s.png"), "--model"]),
        args(&["dbn", "eval", "--model"]),
        args(&["dbn", "classify", "--epochs", "1", "--model"]),
    ];
    let broken = [
        ("missing.safetensors", "no such file"),
        ("empty.safetensors", "truncated"),
        ("truncated.safetensors", "truncated"),
        ("flipped.safetensors", "corrupt"),
        ("bin.csv", "header"),
    ];
    for base in rbm_users.iter().chain(&dbn_users) {
        for (file, needle) in broken {
            let mut a = base.clone();
            a.push(f.p(file));
            f.check(&a, needle);
        }
    }
    // Wrong kinds: a DBN where an RBM is expected and the other way round.
    for base in &rbm_users {
        let mut a = base.clone();
        a.push(f.p("dbn/dbn.safetensors"));
        f.check(&a, if a[0] == "langevin" { "dbn" } else { "expected" });
    }
    for base in &dbn_users {
        let mut a = base.clone();
        a.push(f.p("run/checkpoint.safetensors"));
        f.check(&a, "dbn");
    }
    // A checkpoint is not a model for `eval`, and a model not a checkpoint.
    f.check(&args(&["eval", "--model", &f.p("run/checkpoint.safetensors")]), "expected");
    f.check(
        &args(&[
            "train",
            "--epochs",
            "3",
            "--limit",
            "200",
            "--out",
            &f.p("run"),
            "--resume",
            &f.p("run/model.safetensors"),
        ]),
        "expected",
    );
    f.check(
        &args(&[
            "train",
            "--epochs",
            "3",
            "--limit",
            "200",
            "--out",
            &f.p("run"),
            "--resume",
            &f.p("flipped.safetensors"),
        ]),
        "corrupt",
    );
}

/// Missing, empty, non-binary and malformed data, for every command that
/// reads data.
#[test]
fn bad_data() {
    let f = Fixture::new("data");
    std::fs::write(f.dir.join("empty.csv"), b"").unwrap();
    std::fs::write(f.dir.join("ragged.csv"), b"0,1,0\n1,0\n").unwrap();
    std::fs::write(f.dir.join("nan.csv"), b"0,1,0\n1,nan,0\n").unwrap();
    std::fs::write(f.dir.join("word.csv"), b"0,x,1\n1,0,1\n").unwrap();
    let out = f.p("out");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (args(&["train", "--out", &out, "--data", &f.p("missing.csv")]), "no such file"),
        (args(&["train", "--out", &out, "--data", &f.p("empty.csv")]), "no data"),
        (args(&["train", "--out", &out, "--data", &f.p("ragged.csv"), "--csv-labels", "none"]), "line 2"),
        (args(&["train", "--out", &out, "--data", &f.p("nan.csv"), "--csv-labels", "none"]), "line 2"),
        (args(&["train", "--out", &out, "--data", &f.p("word.csv"), "--csv-labels", "none"]), "not a number"),
        (
            args(&[
                "train",
                "--out",
                &out,
                "--data",
                &f.p("grey.csv"),
                "--csv-labels",
                "none",
                "--batch",
                "10",
            ]),
            "binary",
        ),
        (
            args(&[
                "train",
                "--out",
                &out,
                "--data",
                &f.p("bin.csv"),
                "--csv-labels",
                "none",
                "--batch",
                "10",
                "--valid",
                &f.p("grey.csv"),
            ]),
            "binary",
        ),
        (args(&["train", "--out", &out, "--valid", &f.p("bin.csv")]), "--valid applies to --data"),
        (args(&["train", "--out", &out, "--data", &f.p("bin.csv"), "--binarize", "bogus"]), "--binarize"),
        (args(&["train", "--out", &out, "--data", &f.p("bin.csv"), "--scale", "nan"]), "--scale"),
        (
            args(&["train", "--out", &out, "--data", &f.p("bin.csv"), "--valid-fraction", "1"]),
            "--valid-fraction",
        ),
        (args(&["bench", "train", "--data", &f.p("missing.csv")]), "no such file"),
        (
            args(&["eval", "--model", &f.p("run/model.safetensors"), "--data", &f.p("missing.csv")]),
            "no such file",
        ),
        (args(&["eval", "--model", &f.p("run/model.safetensors"), "--base-data", &f.p("grey.csv")]), "label"),
        (args(&["dbn", "train", "--out", &out, "--layers", "4", "--data", &f.p("empty.csv")]), "no data"),
        (
            args(&["dbn", "eval", "--model", &f.p("dbn/dbn.safetensors"), "--data", &f.p("ragged.csv")]),
            "line 2",
        ),
        (args(&["ebm", "train", "--out", &out, "--data", &f.p("missing.csv")]), "nor a file"),
        (args(&["ebm", "train", "--out", &out, "--data", &f.p("nan.csv")]), "non-finite"),
        (args(&["bench", "gibbs", "--hidden", "4", "--sweeps", "1", "--data", &f.p("ragged.csv")]), "line 2"),
        // Resume refuses other data and other settings.
        (
            args(&[
                "train",
                "--epochs",
                "3",
                "--limit",
                "150",
                "--out",
                &f.p("run"),
                "--resume",
                &f.p("run/checkpoint.safetensors"),
            ]),
            "other data",
        ),
        (
            args(&[
                "train",
                "--epochs",
                "3",
                "--limit",
                "200",
                "--hidden",
                "13",
                "--out",
                &f.p("run"),
                "--resume",
                &f.p("run/checkpoint.safetensors"),
            ]),
            "--hidden",
        ),
        (
            args(&[
                "train",
                "--epochs",
                "1",
                "--limit",
                "200",
                "--out",
                &f.p("run"),
                "--resume",
                &f.p("run/checkpoint.safetensors"),
            ]),
            "already trained 2 epochs",
        ),
    ];
    for (a, needle) in &cases {
        f.check(a, needle);
    }
}

/// Counts that would allocate more than the machine has or run for days,
/// and non-finite or out-of-range settings.
#[test]
fn absurd_counts_and_values() {
    let f = Fixture::new("counts");
    let m = f.p("run/model.safetensors");
    let d = f.p("dbn/dbn.safetensors");
    let out = f.p("out");
    let png = f.p("out.png");
    let huge = "18446744073709551615";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (args(&["train", "--out", &out, "--k", "4000000000"]), "--k"),
        (args(&["train", "--out", &out, "--epochs", huge]), "--epochs"),
        (
            args(&["train", "--out", &out, "--ais-every", "1", "--ais-steps", "100000000000000"]),
            "--ais-steps",
        ),
        (args(&["train", "--out", &out, "--threads", "100000"]), "--threads"),
        (args(&["train", "--out", &out, "--chains", "0"]), "--chains"),
        (args(&["train", "--out", &out, "--lr", "-1"]), "learning_rate"),
        (args(&["train", "--out", &out, "--lr", "nan"]), "learning_rate"),
        (args(&["train", "--out", &out, "--adapt-ladder", "0.5"]), "ladder_step"),
        (args(&["train", "--out", &out, "--algorithm", "pt", "--adapt-ladder", "2"]), "ladder_step"),
        (args(&["bench", "train", "--epochs", "0"]), "--epochs"),
        (args(&["sample", "--model", &m, "--out", &png, "--steps", huge]), "--steps"),
        (args(&["sample", "--model", &m, "--out", &png, "--chains", "0"]), "--chains"),
        (args(&["sample", "--model", &m, "--out", &png, "--replicas", "1"]), "--replicas"),
        (args(&["sample", "--model", &m, "--out", &png, "--replicas", "4", "--beta-min", "1"]), "beta_min"),
        (args(&["sample", "--model", &m, "--out", &png, "--replicas", "4", "--beta-min", "nan"]), "beta_min"),
        (args(&["sample", "--model", &m, "--out", &png, "--beta-min", "0.5"]), "--beta-min"),
        (args(&["sample", "--model", &m, "--out", &png, "--replicas", "3", "--mpi"]), "--replicas"),
        (args(&["bench", "gibbs", "--replicas", "3", "--beta-min", "0"]), "beta_min"),
        (
            args(&["sample", "--model", &m, "--out", &png, "--incremental", "--replicas", "3"]),
            "--incremental",
        ),
        (args(&["bench", "gibbs", "--incremental", "--packed"]), "incremental"),
        (args(&["bench", "gibbs", "--incremental", "--breakdown"]), "breakdown"),
        (args(&["filters", "--model", &m, "--out", &png, "--units", "100000000000"]), "--units"),
        (args(&["eval", "--model", &m, "--force-ais", "--schedule", "linear:100000000000000"]), "--schedule"),
        (args(&["eval", "--model", &m, "--raise-schedule", "linear:0"]), "--raise-schedule"),
        (args(&["eval", "--model", &m, "--monitor", "0"]), "--monitor"),
        (args(&["dbn", "eval", "--model", &d, "--schedule", "linear:100000000000000"]), "--schedule"),
        (args(&["dbn", "sample", "--model", &d, "--out", &png, "--sweeps", "0"]), "--sweeps"),
        (
            args(&["dbn", "train", "--out", &out, "--layers", "8", "--layer-epochs", "1", "--lr", "1e9"]),
            "diverged",
        ),
        (args(&["dbn", "train", "--out", &out, "--layers", "8", "--gaussian", "--sigma", "1e30"]), "sigma"),
        (args(&["dbn", "classify", "--model", &d, "--layer", "5"]), "--layer"),
        (args(&["langevin", "--out", &png, "--steps", huge]), "--steps"),
        (args(&["langevin", "--out", &png, "--sigmas", "20,1,4000000000"]), "--sigmas"),
        (args(&["langevin", "--out", &png, "--steps", "10", "--step", "1e30"]), "non-finite"),
        (args(&["ebm", "train", "--out", &out, "--iterations", huge]), "--iterations"),
        (args(&["ebm", "train", "--out", &out, "--batch", "10000000000"]), "would need"),
        (
            args(&["ebm", "train", "--out", &out, "--model", "score", "--sigmas", "5,0.05,4000000000"]),
            "--sigmas",
        ),
        (args(&["ebm", "train", "--out", &out, "--model", "score", "--sample-step", "0"]), "--sample-step"),
        (args(&["ebm", "train", "--out", &out, "--alpha", "-1"]), "alpha"),
        (args(&["bench", "gibbs", "--repeats", "10000000000"]), "--repeats"),
        (args(&["bench", "gibbs", "--mpi"]), "--features mpi"),
        (args(&["bench", "gibbs", "--sweeps", huge]), "--sweeps"),
        (args(&["bench", "langevin", "--repeats", huge]), "--repeats"),
    ];
    for (a, needle) in &cases {
        f.check(a, needle);
    }
}

/// Outputs that cannot be written are refused before any work; a directory
/// is not replaced by a file.
#[test]
fn unwritable_and_special_outputs() {
    let f = Fixture::new("outputs");
    let m = f.p("run/model.safetensors");
    let d = f.p("dbn/dbn.safetensors");
    let under_file = f.p("not-a-dir/x.png");
    let dir = f.p("a-dir");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            args(&["train", "--epochs", "1", "--limit", "200", "--out", &f.p("not-a-dir/sub")]),
            "not a directory",
        ),
        (args(&["train", "--epochs", "1", "--limit", "200", "--out", &f.p("not-a-dir")]), "not-a-dir"),
        (args(&["sample", "--model", &m, "--steps", "1", "--out", &under_file]), "not a directory"),
        (args(&["sample", "--model", &m, "--steps", "1", "--out", &dir]), "is a directory"),
        (args(&["filters", "--model", &m, "--out", &under_file]), "not a directory"),
        (args(&["filters", "--model", &m, "--out", &dir]), "is a directory"),
        (args(&["dbn", "sample", "--model", &d, "--out", &dir]), "is a directory"),
        (args(&["dbn", "train", "--layers", "4", "--out", &f.p("not-a-dir/sub")]), "not a directory"),
        (args(&["langevin", "--steps", "5", "--out", &dir]), "is a directory"),
        (
            args(&["langevin", "--steps", "5", "--out", &f.p("ok.png"), "--csv", &under_file]),
            "not a directory",
        ),
        (args(&["ebm", "train", "--iterations", "2", "--out", &f.p("not-a-dir/sub")]), "not a directory"),
    ];
    for (a, needle) in &cases {
        f.check(a, needle);
    }
    // A full device: the error is reported, the device stays a device.
    if Path::new("/dev/full").exists() {
        f.check(&args(&["filters", "--model", &m, "--out", "/dev/full"]), "no space");
        let meta = std::fs::symlink_metadata("/dev/full").unwrap();
        assert!(!meta.is_file(), "/dev/full was replaced by a regular file");
    }
}

/// A symbolic link is followed: the file it points to is written, the link
/// stays; writing to /dev/null works and leaves it a device.
#[test]
fn links_and_devices_are_written_through() {
    let f = Fixture::new("links");
    let m = f.p("run/model.safetensors");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("target.png", f.dir.join("link.png")).unwrap();
        let o =
            Command::new(BIN).args(["filters", "--model", &m, "--out", &f.p("link.png")]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::symlink_metadata(f.dir.join("link.png")).unwrap().file_type().is_symlink());
        assert!(std::fs::read(f.dir.join("target.png")).unwrap().starts_with(b"\x89PNG"));
    }
    if Path::new("/dev/null").exists() {
        let o = Command::new(BIN).args(["filters", "--model", &m, "--out", "/dev/null"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(!std::fs::symlink_metadata("/dev/null").unwrap().is_file());
    }
}

/// A closed standard output ends the command quietly with status 141 (as a
/// shell reports SIGPIPE), a full one with status 74 and a message; never a
/// panic. Every subcommand that prints.
#[test]
fn closed_and_full_stdout() {
    let f = Fixture::new("stdout");
    let m = f.p("run/model.safetensors");
    let d = f.p("dbn/dbn.safetensors");
    let out = f.p("out");
    let commands: Vec<Vec<String>> = vec![
        args(&["info"]),
        args(&["train", "--epochs", "2", "--limit", "200", "--hidden", "8", "--json", "--out", &out]),
        args(&["bench", "train", "--epochs", "2", "--limit", "200", "--hidden", "8"]),
        args(&[
            "bench",
            "gibbs",
            "--visible",
            "16",
            "--hidden",
            "8",
            "--chains",
            "10",
            "--sweeps",
            "5",
            "--repeats",
            "1",
        ]),
        args(&[
            "bench",
            "langevin",
            "--visible",
            "16",
            "--hidden",
            "8",
            "--chains",
            "10",
            "--steps",
            "5",
            "--repeats",
            "1",
        ]),
        args(&["eval", "--model", &m, "--exact-max", "12"]),
        args(&[
            "sample",
            "--model",
            &m,
            "--steps",
            "5",
            "--rows",
            "10",
            "--diagnostics",
            "--out",
            &f.p("s.png"),
        ]),
        args(&["dbn", "train", "--limit", "200", "--layers", "6", "--layer-epochs", "1", "--out", &out]),
        args(&["dbn", "eval", "--model", &d, "--limit", "50", "--samples", "2"]),
        args(&["dbn", "classify", "--model", &d, "--epochs", "1"]),
        args(&["langevin", "--steps", "5", "--out", &f.p("l.png")]),
        args(&["ebm", "train", "--iterations", "3", "--out", &out]),
    ];
    for a in &commands {
        // Closed: the reading end is gone before the command starts (closing
        // it after the spawn raced with fast commands such as `info`, whose
        // output could land in the pipe's buffer first).
        let before = snapshot(&f.dir);
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let child = Command::new(BIN)
            .args(a)
            .current_dir(&f.dir)
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(141), "{a:?} with a closed stdout: {err}");
        assert!(!err.contains("panicked") && !err.contains("error"), "{a:?}: {err}");
        assert_eq!(before, snapshot(&f.dir), "{a:?} with a closed stdout left files");
        // Full.
        if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
            let o = Command::new(BIN).args(a).current_dir(&f.dir).stdout(full).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(74), "{a:?} > /dev/full: {err}");
            assert!(err.contains("cannot write to standard output"), "{a:?}: {err}");
            assert_eq!(before, snapshot(&f.dir), "{a:?} > /dev/full left files");
        }
    }
}

/// IDX images (`n` × 28 × 28, grey levels from `pixel`) and labels.
fn write_idx(dir: &Path, name: &str, labels: &[u8], pixel: impl Fn(usize, usize) -> u8) -> (String, String) {
    let n = labels.len();
    let mut img = vec![0, 0, 8, 3];
    for d in [n as u32, 28, 28] {
        img.extend_from_slice(&d.to_be_bytes());
    }
    for i in 0..n {
        img.extend((0..784).map(|j| pixel(i, j)));
    }
    let mut lab = vec![0, 0, 8, 1];
    lab.extend_from_slice(&(n as u32).to_be_bytes());
    lab.extend_from_slice(labels);
    let (pi, pl) =
        (dir.join(format!("{name}-images-idx3-ubyte")), dir.join(format!("{name}-labels-idx1-ubyte")));
    std::fs::write(&pi, img).unwrap();
    std::fs::write(&pl, lab).unwrap();
    (pi.display().to_string(), pl.display().to_string())
}

/// Labels: a test label the classifier never saw, a stray label that would
/// add empty classes, grey images where binary ones are needed.
#[test]
fn bad_labels_and_grey_images() {
    let f = Fixture::new("labels");
    let d = f.p("dbn/dbn.safetensors");
    let ok: Vec<u8> = (0..40).map(|i| (i % 10) as u8).collect();
    let mut stray = ok.clone();
    stray[7] = 11;
    let binary = |i: usize, j: usize| if (i * 31 + j * 7).is_multiple_of(5) { 255 } else { 0 };
    let grey = |i: usize, j: usize| ((i * 31 + j * 7) % 256) as u8;
    let (bi, bl) = write_idx(&f.dir, "ok", &ok, binary);
    let (si, sl) = write_idx(&f.dir, "stray", &stray, binary);
    let (gi, gl) = write_idx(&f.dir, "grey", &ok, grey);
    let classify = |data: (&str, &str), test: (&str, &str), extra: &[&str]| {
        let mut a = args(&["dbn", "classify", "--model", &d, "--epochs", "1"]);
        a.extend(args(&[
            "--data",
            data.0,
            "--labels",
            data.1,
            "--test-data",
            test.0,
            "--test-labels",
            test.1,
        ]));
        a.extend(args(extra));
        a
    };
    f.check(&classify((&bi, &bl), (&si, &sl), &[]), "test label 11");
    f.check(&classify((&si, &sl), (&bi, &bl), &[]), "label 10 never occurs");
    f.check(&classify((&gi, &gl), (&bi, &bl), &[]), "binary");
    f.check(
        &args(&[
            "dbn",
            "train",
            "--layers",
            "8",
            "--layer-epochs",
            "1",
            "--label-top",
            "8",
            "--batch",
            "10",
            "--out",
            &f.p("out"),
            "--data",
            &si,
            "--labels",
            &sl,
            "--binarize",
            "threshold",
        ]),
        "label 10 never occurs",
    );
    // The same files where they are right: classify runs.
    let o = Command::new(BIN).args(classify((&bi, &bl), (&bi, &bl), &[])).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(BIN).args(classify((&gi, &gl), (&bi, &bl), &["--binarize"])).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `crbm`: broken and wrong-kind model files, impossible geometries, bad
/// data and values — a message, a non-zero exit, nothing written.
#[test]
fn crbm_bad_input() {
    let f = Fixture::new("crbm");
    let out = f.p("out");
    let png = f.p("out.png");
    for base in [
        args(&["crbm", "sample", "--sweeps", "2", "--out", &png, "--model"]),
        args(&["crbm", "filters", "--out", &png, "--model"]),
    ] {
        for (file, needle) in [
            ("missing.safetensors", "no such file"),
            ("empty.safetensors", "truncated"),
            ("truncated.safetensors", "truncated"),
            ("flipped.safetensors", "corrupt"),
            ("run/model.safetensors", "expected a \"conv-rbm\""),
        ] {
            let mut a = base.clone();
            a.push(f.p(file));
            f.check(&a, needle);
        }
    }
    let train = |extra: &[&str]| {
        let mut a = args(&["crbm", "train", "--epochs", "1", "--limit", "50", "--out", &out]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let eval = |model: &str, extra: &[&str]| {
        let mut a = args(&["crbm", "eval", "--model", &f.p(model)]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (eval("missing.safetensors", &[]), "no such file"),
        (eval("flipped.safetensors", &[]), "corrupt"),
        (eval("run/model.safetensors", &[]), "expected a \"conv-rbm\""),
        (eval("missing.safetensors", &["--schedule", "linear:0"]), "--schedule"),
        (eval("missing.safetensors", &["--schedule", "sideways"]), "--schedule"),
        (eval("missing.safetensors", &["--ais-runs", "0"]), "--ais-runs"),
        (eval("missing.safetensors", &["--raise-runs", "0"]), "--raise-runs"),
        (train(&["--pool", "3"]), "tile"),
        (train(&["--filter-size", "40"]), "larger than the image"),
        (train(&["--filters", "0"]), "--filters"),
        (train(&["--image", "5x5x1"]), "holds 25 values"),
        (train(&["--image", "28xx28"]), "--image"),
        (train(&["--binarize", "threshold"]), "--binarize applies to --data"),
        (train(&["--data", &f.p("grey.csv")]), "--binarize"),
        (train(&["--data", &f.p("bin.csv")]), "--image"),
        (
            train(&[
                "--data",
                &f.p("bin.csv"),
                "--image",
                "3x3",
                "--pool",
                "2",
                "--filter-size",
                "1",
                "--binarize",
                "sideways",
            ]),
            "--binarize",
        ),
        (train(&["--data", &f.p("missing.csv")]), "no such file"),
        (train(&["--lr", "-1"]), "learning_rate"),
        (train(&["--lr", "nan"]), "learning_rate"),
        (train(&["--momentum", "1"]), "momentum"),
        (train(&["--sparsity", "0"]), "sparsity_target"),
        (train(&["--sparsity-cost", "-1"]), "sparsity_cost"),
        (train(&["--chains", "0"]), "--chains"),
        (train(&["--epochs", "18446744073709551615"]), "--epochs"),
        (train(&["--lr", "1e30", "--momentum", "0"]), "diverged"),
        (train(&["--filters", "4,5", "--filter-size", "9,5,3"]), "one per layer"),
        (train(&["--visible", "poisson"]), "--visible"),
        (train(&["--filters", "4,5", "--filter-size", "9,11"]), "larger than the image"),
        (train(&["--filters", "4,5", "--pool", "2,3"]), "tile"),
        (args(&["crbm", "filters", "--model", &f.p("run/model.safetensors"), "--out", &png]), "expected a"),
        (args(&["crbm", "classify", "--model", &f.p("run/model.safetensors")]), "expected a"),
        (
            args(&[
                "crbm",
                "features",
                "--model",
                &f.p("run/model.safetensors"),
                "--out",
                &f.p("f.safetensors"),
            ]),
            "expected a",
        ),
        (
            args(&["crbm", "features", "--model", &f.p("missing.safetensors"), "--labels", &f.p("bin.csv")]),
            "required",
        ),
        (
            args(&["crbm", "classify", "--model", &f.p("missing.safetensors"), "--data", &f.p("bin.csv")]),
            "required",
        ),
        (
            args(&["crbm", "sample", "--model", &f.p("missing.safetensors"), "--out", &png, "--chains", "0"]),
            "--chains",
        ),
        (
            args(&[
                "crbm",
                "sample",
                "--model",
                &f.p("missing.safetensors"),
                "--out",
                &png,
                "--sweeps",
                "18446744073709551615",
            ]),
            "--sweeps",
        ),
    ];
    for (a, needle) in &cases {
        f.check(a, needle);
    }
}
