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
        (&["bench", "gibbs", "--chains", "0"], "--chains"),
        (&["bench", "gibbs", "--visible", "0"], "--visible"),
        (&["bench", "gibbs", "--threads", "0"], "threads"),
        (&["bench", "gibbs", "--isa", "sse9"], "unknown --isa"),
        (&["bench", "gibbs", "--chains", "100000000000000"], "--chains"),
        (&["bench", "gibbs", "--chains", "100000000000"], "would need"),
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

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("boltzmann-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 40 binary examples of 16 features (4×4 "images"), label last.
fn csv(dir: &std::path::Path) -> String {
    let mut s = String::new();
    for e in 0..40 {
        let row: Vec<String> =
            (0..16).map(|i| if ((e * 7 + i * 3) % 5) < 2 { "1" } else { "0" }.to_string()).collect();
        s += &format!("{},{}\n", row.join(","), e % 10);
    }
    let p = dir.join("d.csv");
    std::fs::write(&p, s).unwrap();
    p.display().to_string()
}

#[test]
fn train_sample_filters_resume() {
    let dir = tmpdir("train");
    let data = csv(&dir);
    let out = dir.join("run").display().to_string();
    let base = [
        "train",
        "--data",
        &data,
        "--hidden",
        "6",
        "--batch",
        "5",
        "--monitor",
        "10",
        "--threads",
        "2",
        "--out",
        &out,
    ];
    let mut args = base.to_vec();
    args.extend(["--epochs", "2", "--json"]);
    let (ok, stdout, err) = boltzmann(&args);
    assert!(ok, "{err}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[1].contains("\"epoch\":2") && lines[1].contains("\"pseudo_ll\""), "{stdout}");
    for f in ["model.safetensors", "checkpoint.safetensors"] {
        assert!(dir.join("run").join(f).exists(), "{f} missing");
    }
    // Resume to 4 epochs.
    let ck = dir.join("run/checkpoint.safetensors").display().to_string();
    let mut args = base.to_vec();
    args.extend(["--epochs", "4", "--resume", &ck]);
    let (ok, stdout, err) = boltzmann(&args);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("epoch   3") && stdout.contains("epoch   4") && !stdout.contains("epoch   2"),
        "{stdout}"
    );
    // Pictures from the model.
    let model = dir.join("run/model.safetensors").display().to_string();
    let png = dir.join("s.png").display().to_string();
    let (ok, _, err) =
        boltzmann(&["sample", "--model", &model, "--shape", "4x4", "--steps", "5", "--out", &png]);
    assert!(ok, "{err}");
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    let fpng = dir.join("f.png").display().to_string();
    let (ok, _, err) = boltzmann(&["filters", "--model", &model, "--shape", "4x4", "--out", &fpng]);
    assert!(ok, "{err}");
    let (ok, _, err) = boltzmann(&["filters", "--model", &model, "--out", &fpng, "--shape", "3x5"]);
    assert!(!ok && err.contains("not the model"), "{err}");
}

#[test]
fn train_on_embedded_data_writes_everything() {
    let dir = tmpdir("embedded");
    let out = dir.join("run").display().to_string();
    let (ok, _, err) = boltzmann(&[
        "train",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--monitor",
        "50",
        "--limit",
        "500",
        "--out",
        &out,
    ]);
    assert!(ok, "{err}");
    for f in ["model.safetensors", "checkpoint.safetensors", "filters.png", "samples.png"] {
        assert!(dir.join("run").join(f).exists(), "{f} missing: {err}");
    }
    assert!(err.contains("samples.png"), "{err}");
}

#[test]
fn train_bad_input_fails_cleanly_without_outputs() {
    let dir = tmpdir("bad");
    let data = csv(&dir);
    let garbage = dir.join("x-ubyte");
    std::fs::write(&garbage, b"\x01\x02\x03\x04garbage").unwrap();
    let grey = dir.join("g.csv");
    std::fs::write(&grey, "0.5,0.2,1\n0.1,0.9,2\n").unwrap();
    let bad_ck = dir.join("bad.safetensors");
    std::fs::write(&bad_ck, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}").unwrap();
    let out = dir.join("out").display().to_string();
    let g = garbage.display().to_string();
    let gr = grey.display().to_string();
    let bc = bad_ck.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--data", "/nonexistent/file.csv"], "No such file"),
        (vec!["--data", &g], "magic"),
        (vec!["--data", &data, "--batch", "1000"], "larger than the data set"),
        (vec!["--data", &data, "--epochs", "0"], "epochs"),
        (vec!["--data", &data, "--lr=-1"], "learning_rate"),
        (vec!["--data", &gr, "--batch", "1"], "binary"),
        (vec!["--data", &data, "--resume", &bc], "corrupt"),
        (vec!["--data", &data, "--lr-schedule", "sometimes"], "lr-schedule"),
        (vec!["--data", &data, "--binarize", "maybe"], "binarize"),
        (vec!["--data", &data, "--limit", "0"], "limit"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["train", "--hidden", "4", "--epochs", "1", "--out", &out];
        args.extend(extra.iter().copied());
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok, "{extra:?} should fail");
        assert!(err.contains(needle), "{extra:?}: stderr {err:?} lacks {needle:?}");
        assert!(!err.contains("panicked"), "{extra:?} panicked");
        assert!(!dir.join("out/model.safetensors").exists(), "{extra:?} left a model");
    }
    // Unwritable output directory.
    let (ok, _, err) = boltzmann(&[
        "train",
        "--data",
        &data,
        "--hidden",
        "4",
        "--epochs",
        "1",
        "--batch",
        "5",
        "--out",
        "/proc/boltzmann-out",
    ]);
    assert!(!ok && !err.contains("panicked"), "{err}");
    // Sampling a missing or corrupt model.
    let (ok, _, err) = boltzmann(&["sample", "--model", &bc]);
    assert!(!ok && err.contains("corrupt"), "{err}");
}

#[test]
fn eval_exact_and_ais_and_bad_input() {
    let dir = tmpdir("eval");
    let data = csv(&dir);
    let out = dir.join("run").display().to_string();
    let train_args = [
        "train",
        "--data",
        &data,
        "--hidden",
        "5",
        "--batch",
        "5",
        "--epochs",
        "2",
        "--monitor",
        "10",
        "--out",
        &out,
        "--ais-every",
        "1",
        "--ais-steps",
        "100",
        "--json",
    ];
    let (ok, stdout, err) = boltzmann(&train_args);
    assert!(ok, "{err}");
    assert_eq!(stdout.matches("\"ais_log_z\"").count(), 2, "{stdout}");
    let model = dir.join("run/model.safetensors").display().to_string();
    let (ok, stdout, err) = boltzmann(&["eval", "--model", &model, "--data", &data, "--json"]);
    assert!(ok, "{err}");
    assert!(stdout.contains("\"method\":\"exact\"") && stdout.contains("\"avg_log_prob\""), "{stdout}");
    let (ok, stdout, err) = boltzmann(&[
        "eval",
        "--model",
        &model,
        "--data",
        &data,
        "--force-ais",
        "--schedule",
        "linear:2000",
        "--ais-runs",
        "50",
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("AIS (50 runs, 2000 distributions)") && stdout.contains("interval"), "{stdout}");
    // The conservative RAISE estimate, beside the forward one on the same examples.
    let num_after = |s: &str, key: &str| -> f64 {
        let t = &s[s.find(key).unwrap_or_else(|| panic!("{key} in {s}")) + key.len()..];
        t.trim_start()
            .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(stdout.contains("conservative estimate (RAISE"), "{stdout}");
    let low = num_after(&stdout, " s):");
    let fwd = num_after(&stdout, "AIS on the same examples:");
    // A tiny model and 2000 distributions: both are accurate, and agree.
    assert!((low - fwd).abs() < 0.05, "RAISE {low} vs AIS {fwd}: {stdout}");
    let (ok, stdout, err) = boltzmann(&[
        "eval",
        "--model",
        &model,
        "--data",
        &data,
        "--force-ais",
        "--schedule",
        "linear:50",
        "--ais-runs",
        "3",
        "--json",
    ]);
    assert!(ok, "{err}");
    // Valid JSON even when an interval end is infinite (written as null).
    assert!(!stdout.contains("inf") && !stdout.contains("NaN"), "{stdout}");
    assert!(stdout.contains("\"log_z_low\":") && stdout.trim_end().ends_with('}'), "{stdout}");
    assert!(stdout.contains("\"raise\":{\"examples\":") && stdout.contains("\"reverse_log_z\":"), "{stdout}");
    // The Gibbs benchmark on this trained model, chains started from the data.
    let (ok, stdout, err) = boltzmann(&[
        "bench",
        "gibbs",
        "--model",
        &model,
        "--data",
        &data,
        "--chains",
        "64",
        "--threads",
        "2",
        "--repeats",
        "1",
        "--sweeps",
        "2",
        "--json",
    ]);
    assert!(
        ok && stdout.contains("\"density_visible\":") && stdout.contains("\"n_visible\":16"),
        "{stdout}{err}"
    );
    // Bit-packed chains: 16 visible units = one word + a 32-byte stream.
    let (ok, stdout, err) = boltzmann(&[
        "bench",
        "gibbs",
        "--model",
        &model,
        "--data",
        &data,
        "--chains",
        "5000",
        "--threads",
        "2",
        "--repeats",
        "1",
        "--sweeps",
        "2",
        "--packed",
        "--json",
    ]);
    assert!(
        ok && stdout.contains("\"packed\":true") && stdout.contains("\"bytes_per_chain\":40"),
        "{stdout}{err}"
    );
    assert!(stdout.contains("\"density_hidden\":null"), "{stdout}");
    let (ok, _, err) =
        boltzmann(&["bench", "gibbs", "--packed", "--breakdown", "--chains", "10", "--repeats", "1"]);
    assert!(!ok && err.contains("breakdown") && !err.contains("panicked"), "{err}");
    // Bad input: wrong schedule, zero runs, data of another width, missing model.
    let wide = dir.join("w.csv");
    std::fs::write(&wide, "1,0,1\n0,1,1\n").unwrap();
    let w = wide.display().to_string();
    for (args, needle) in [
        (vec!["eval", "--model", &model, "--data", &data, "--force-ais", "--schedule", "cubic"], "schedule"),
        (vec!["eval", "--model", &model, "--data", &data, "--force-ais", "--ais-runs", "0"], "run"),
        (
            vec!["eval", "--model", &model, "--data", &data, "--force-ais", "--raise-schedule", "linear:0"],
            "schedule",
        ),
        (
            vec!["eval", "--model", &model, "--data", &data, "--force-ais", "--raise-runs", "0"],
            "--raise-runs",
        ),
        (
            vec!["eval", "--model", &model, "--data", &data, "--force-ais", "--schedule", "default:0"],
            "schedule",
        ),
        (vec!["eval", "--model", &model, "--data", &w], "n_visible"),
        (
            vec!["bench", "gibbs", "--model", &model, "--data", &w, "--repeats", "1", "--sweeps", "1"],
            "n_visible",
        ),
        (vec!["eval", "--model", "/nonexistent.safetensors"], "No such file"),
    ] {
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok && err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
    }
}

/// Training on sparse data with a model large enough for the binary × dense
/// products gives the same model as the dense products up to rounding
/// (`BOLTZMANN_DENSE_PRODUCTS=1` forces the dense path): one epoch of
/// CD-1 and of PCD-1 from the same seed. The runs must differ in their
/// bits (so the binary path did run) but only by rounding.
#[test]
fn binary_products_train_like_dense_products() {
    use boltzmann::io::load_rbm;
    let dir = tmpdir("binary-train");
    let mut s = String::new();
    for e in 0..60usize {
        let row: Vec<&str> =
            (0..256usize).map(|i| if (e * 131 + i * i * 7 + i / 16) % 9 == 0 { "1" } else { "0" }).collect();
        s += &format!("{}\n", row.join(","));
    }
    let data = dir.join("sparse.csv");
    std::fs::write(&data, s).unwrap();
    let data = data.display().to_string();
    for alg in ["cd", "pcd"] {
        let mut models = Vec::new();
        for dense in ["1", "0"] {
            let out = dir.join(format!("{alg}-{dense}")).display().to_string();
            let run = Command::new(env!("CARGO_BIN_EXE_boltzmann"))
                .args([
                    "train",
                    "--data",
                    &data,
                    "--hidden",
                    "50",
                    "--batch",
                    "20",
                    "--epochs",
                    "1",
                    "--algorithm",
                    alg,
                    "--chains",
                    "20",
                    "--valid-fraction",
                    "0",
                    "--monitor",
                    "0",
                    "--threads",
                    "2",
                    "--out",
                    &out,
                ])
                .env("BOLTZMANN_DENSE_PRODUCTS", dense)
                .output()
                .unwrap();
            assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
            models.push(load_rbm(std::path::Path::new(&out).join("model.safetensors")).unwrap());
        }
        let (a, b) = (models[0].weights(), models[1].weights());
        let max_diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        let scale = a.iter().map(|x| x.abs()).fold(0.0f32, f32::max);
        assert!(max_diff > 0.0, "{alg}: identical bits, the binary path did not run");
        assert!(max_diff <= 1e-4 * scale, "{alg}: differ by {max_diff} (max |w| {scale})");
    }
}

/// `dbn train | sample | eval` on a small CSV, and their bad inputs.
#[test]
fn dbn_train_sample_eval_and_bad_input() {
    let dir = tmpdir("dbn");
    let data = csv(&dir);
    let out = dir.join("run").display().to_string();
    let base = [
        "dbn",
        "train",
        "--data",
        &data,
        "--batch",
        "5",
        "--monitor",
        "0",
        "--threads",
        "2",
        "--out",
        &out,
        "--valid-fraction",
        "0",
    ];
    let mut args = base.to_vec();
    args.extend(["--layers", "6,5", "--layer-epochs", "3,2", "--json"]);
    let (ok, stdout, err) = boltzmann(&args);
    assert!(ok, "{err}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(lines[0].contains("\"layer\":1") && lines[4].contains("\"layer\":2"), "{stdout}");
    assert!(lines[5].contains("\"sizes\":[16,6,5]") && lines[5].contains("\"layer_seconds\""), "{stdout}");
    let model = dir.join("run/dbn.safetensors").display().to_string();
    let png = dir.join("d.png").display().to_string();
    let (ok, _, err) =
        boltzmann(&["dbn", "sample", "--model", &model, "--shape", "4x4", "--n", "20", "--out", &png]);
    assert!(ok, "{err}");
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    let (ok, stdout, err) =
        boltzmann(&["dbn", "eval", "--model", &model, "--data", &data, "--json", "--samples", "5"]);
    assert!(ok, "{err}");
    assert!(stdout.contains("\"lower_bound\":") && stdout.contains("\"log_z_method\":\"exact\""), "{stdout}");
    let (ok, stdout, err) = boltzmann(&["dbn", "eval", "--model", &model, "--data", &data, "--depth", "1"]);
    assert!(ok && stdout.contains("DBN 16-6 (1 layers)"), "{err}{stdout}");
    let probs_out = dir.join("probs").display().to_string();
    let mut args = base[..base.len() - 4].to_vec();
    args.extend(["--out", &probs_out, "--valid-fraction", "0", "--layers", "6,5", "--propagate", "probs"]);
    let (ok, _, err) = boltzmann(&args);
    assert!(ok && dir.join("probs/dbn.safetensors").exists(), "{err}");
    // Up-down fine-tuning: an untied model that eval, sample and classify read.
    let ud_out = dir.join("ud").display().to_string();
    let mut args = base[..base.len() - 4].to_vec();
    args.extend(["--out", &ud_out, "--valid-fraction", "0", "--layers", "6,5", "--up-down-epochs", "2"]);
    let (ok, stdout, err) = boltzmann(&args);
    assert!(ok && stdout.contains("up-down epoch   2"), "{err}{stdout}");
    let ud = dir.join("ud/dbn.safetensors").display().to_string();
    let (ok, stdout, err) = boltzmann(&["dbn", "eval", "--model", &ud, "--data", &data, "--json"]);
    assert!(ok && stdout.contains("\"lower_bound\":"), "{err}{stdout}");
    let (ok, _, err) = boltzmann(&["dbn", "eval", "--model", &ud, "--data", &data, "--depth", "1"]);
    assert!(!ok && err.contains("fine-tuned"), "{err}");
    let (ok, _, err) =
        boltzmann(&["dbn", "sample", "--model", &ud, "--shape", "4x4", "--n", "5", "--out", &png]);
    assert!(ok, "{err}");
    // Bad input: one line, non-zero exit, no model written.
    for (extra, needle) in [
        (vec!["--layers", "6,0"], "≥ 1"),
        (vec!["--layers", "six"], "--layers"),
        (vec!["--layers", "6,5", "--layer-epochs", "3"], "entries"),
        (vec!["--layers", "6,7", "--tied-init"], "tied"),
        (vec!["--layers", "6", "--resume", &model], "--resume"),
        (vec!["--layers", "6,5", "--propagate", "means"], "--propagate"),
        (vec!["--layers", "6,5", "--up-down-epochs", "1", "--up-down-lr", "0"], "--up-down-lr"),
        (vec!["--layers", "6", "--up-down-epochs", "1"], "two --layers"),
    ] {
        let bad_out = dir.join("bad").display().to_string();
        let mut args = base[..base.len() - 4].to_vec();
        args.extend(["--out", &bad_out, "--valid-fraction", "0"]);
        args.extend(extra.iter().copied());
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok && err.contains(needle), "{extra:?}: {err}");
        assert!(!dir.join("bad/dbn.safetensors").exists(), "{extra:?} wrote a model");
    }
    let (ok, _, err) = boltzmann(&["dbn", "eval", "--model", &model, "--data", &data, "--depth", "3"]);
    assert!(!ok && err.contains("--depth"), "{err}");
    let (ok, _, err) = boltzmann(&["dbn", "sample", "--model", &model, "--n", "0", "--shape", "4x4"]);
    assert!(!ok && err.contains("--n"), "{err}");
    // An RBM file is not a DBN file, and a truncated DBN file is refused.
    let rbm_out = dir.join("rbm").display().to_string();
    let (ok, _, err) = boltzmann(&[
        "train",
        "--data",
        &data,
        "--hidden",
        "4",
        "--batch",
        "5",
        "--epochs",
        "1",
        "--monitor",
        "0",
        "--out",
        &rbm_out,
    ]);
    assert!(ok, "{err}");
    let rbm_model = dir.join("rbm/model.safetensors").display().to_string();
    let (ok, _, err) = boltzmann(&["dbn", "sample", "--model", &rbm_model, "--shape", "4x4"]);
    assert!(!ok && err.contains("\"rbm\""), "{err}");
    let bytes = std::fs::read(&model).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let (ok, _, err) = boltzmann(&["dbn", "eval", "--model", &cut.display().to_string(), "--data", &data]);
    assert!(!ok && err.lines().count() == 1, "{err}");
}

/// `dbn classify` on the embedded digits: raw pixels against a small DBN's
/// features, and its bad input.
#[test]
fn dbn_classify_embedded() {
    let dir = tmpdir("dbn-classify");
    let out = dir.join("run").display().to_string();
    let (ok, _, err) = boltzmann(&[
        "dbn",
        "train",
        "--limit",
        "300",
        "--layers",
        "20",
        "--epochs",
        "1",
        "--batch",
        "50",
        "--monitor",
        "0",
        "--out",
        &out,
    ]);
    assert!(ok, "{err}");
    let model = dir.join("run/dbn.safetensors").display().to_string();
    let (ok, stdout, err) = boltzmann(&[
        "dbn",
        "classify",
        "--model",
        &model,
        "--epochs",
        "2",
        "--json",
        "--joint",
        "--joint-hidden",
        "8",
        "--joint-epochs",
        "1",
    ]);
    assert!(ok, "{err}");
    for key in [
        "\"raw\":{\"train_error\":",
        "\"dbn\":{\"train_error\":",
        "\"features\":20",
        "\"train\":10000",
        "\"joint\":{\"hidden\":8,\"on_layer\":0",
    ] {
        assert!(stdout.contains(key), "missing {key} in {stdout}");
    }
    let (ok, _, err) = boltzmann(&["dbn", "classify", "--model", &model, "--layer", "2"]);
    assert!(!ok && err.contains("--layer"), "{err}");
    let (ok, _, err) = boltzmann(&["dbn", "classify", "--model", &model, "--data", "x.gz"]);
    assert!(!ok && err.contains("--test-data"), "{err}");
}

/// `dbn train --label-top` on the embedded digits, then `dbn classify`
/// (the model's own label-joined top), `dbn sample --label`, `dbn eval`
/// of the layers below, and their bad input.
#[test]
fn dbn_labelled_top_embedded() {
    let dir = tmpdir("dbn-labelled");
    let out = dir.join("run").display().to_string();
    let base = ["dbn", "train", "--layers", "20", "--epochs", "1", "--batch", "10", "--monitor", "0"];
    let mut args = base.to_vec();
    args.extend(["--limit", "300", "--label-top", "16", "--label-epochs", "2", "--json", "--out", &out]);
    let (ok, stdout, err) = boltzmann(&args);
    assert!(ok, "{err}");
    assert!(stdout.contains("\"labelled\":true,\"epoch\":2"), "{stdout}");
    assert!(stdout.contains("\"sizes\":[784,20,16],\"labels\":10"), "{stdout}");
    assert!(dir.join("run/samples.png").exists());
    let model = dir.join("run/dbn.safetensors").display().to_string();
    let (ok, stdout, err) = boltzmann(&["dbn", "classify", "--model", &model, "--epochs", "1", "--json"]);
    assert!(ok, "{err}");
    assert!(stdout.contains("\"joint\":{\"hidden\":16,\"on_layer\":1"), "{stdout}");
    // The SVM read-out of the same features; bad costs refused.
    let (ok, stdout, err) = boltzmann(&[
        "dbn",
        "classify",
        "--model",
        &model,
        "--classifier",
        "svm",
        "--svm-passes",
        "5",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["classifier"], "svm", "{v}");
    assert!((0.0..=1.0).contains(&v["dbn"]["test_error"].as_f64().unwrap()), "{v}");
    let (ok, _, err) =
        boltzmann(&["dbn", "classify", "--model", &model, "--classifier", "svm", "--svm-c", "-1"]);
    assert!(!ok && err.contains("--svm-c -1"), "{err}");
    let (ok, _, err) = boltzmann(&["dbn", "classify", "--model", &model, "--joint"]);
    assert!(!ok && err.contains("already has a label-joined top"), "{err}");
    let png = dir.join("three.png").display().to_string();
    let (ok, _, err) = boltzmann(&[
        "dbn", "sample", "--model", &model, "--label", "3", "--n", "5", "--sweeps", "20", "--out", &png,
    ]);
    assert!(ok, "{err}");
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    let (ok, _, err) = boltzmann(&["dbn", "sample", "--model", &model, "--label", "10", "--out", &png]);
    assert!(!ok && err.contains("labels 0..10"), "{err}");
    let (ok, _, err) = boltzmann(&["dbn", "eval", "--model", &model, "--limit", "20"]);
    assert!(!ok && err.contains("--depth 1..=1"), "{err}");
    let (ok, stdout, err) =
        boltzmann(&["dbn", "eval", "--model", &model, "--limit", "20", "--depth", "1", "--json", "--quiet"]);
    assert!(ok && stdout.contains("\"lower_bound\":"), "{err}{stdout}");
    // An unlabelled DBN has no --label; bad settings are refused before training.
    let plain_out = dir.join("plain").display().to_string();
    let mut args = base.to_vec();
    args.extend(["--limit", "300", "--out", &plain_out]);
    let (ok, _, err) = boltzmann(&args);
    assert!(ok, "{err}");
    let plain = dir.join("plain/dbn.safetensors").display().to_string();
    let (ok, _, err) = boltzmann(&["dbn", "sample", "--model", &plain, "--label", "1", "--out", &png]);
    assert!(!ok && err.contains("no label units"), "{err}");
    let csv_data = csv(&dir);
    for (extra, needle) in [
        (vec!["--label-top", "0"], "--label-top"),
        (vec!["--label-top", "8", "--up-down-epochs", "1"], "not implemented"),
        (vec!["--label-top", "8", "--data", &csv_data, "--csv-labels", "none"], "labelled data"),
    ] {
        let bad_out = dir.join("bad").display().to_string();
        let mut args = base.to_vec();
        args.extend(["--out", &bad_out]);
        args.extend(extra.iter().copied());
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok && err.contains(needle), "{extra:?}: {err}");
        assert!(!dir.join("bad/dbn.safetensors").exists(), "{extra:?} wrote a model");
    }
}

/// `langevin` on the built-in mixtures (annealed recovers the Song & Ermon
/// weights; PNG and CSV written) and `bench langevin`, with bad input.
#[test]
fn langevin_cli_and_bench() {
    let dir = tmpdir("langevin");
    let png = dir.join("l.png").display().to_string();
    let csv = dir.join("l.csv").display().to_string();
    let (ok, stdout, err) = boltzmann(&[
        "langevin",
        "--sampler",
        "annealed",
        "--chains",
        "1000",
        "--json",
        "--out",
        &png,
        "--csv",
        &csv,
        "--threads",
        "2",
    ]);
    assert!(ok, "{err}");
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 1000);
    let share: f64 = stdout.split("\"shares\":[").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!((share - 0.8).abs() < 0.06, "{stdout}");
    for sampler in ["ula", "mala", "du-mordatch"] {
        let (ok, stdout, err) = boltzmann(&[
            "langevin",
            "--energy",
            "mixture8",
            "--sampler",
            sampler,
            "--chains",
            "200",
            "--steps",
            "20",
            "--out",
            &png,
        ]);
        assert!(ok && stdout.contains("component 7"), "{sampler}: {err}{stdout}");
    }
    let (ok, stdout, err) = boltzmann(&[
        "bench",
        "langevin",
        "--visible",
        "64",
        "--hidden",
        "32",
        "--chains",
        "50",
        "--repeats",
        "2",
        "--json",
    ]);
    assert!(
        ok && stdout.contains("\"steps_per_s\":") && stdout.contains("\"kind\":\"ula\""),
        "{err}{stdout}"
    );
    let (ok, stdout, err) = boltzmann(&[
        "bench",
        "langevin",
        "--visible",
        "64",
        "--hidden",
        "32",
        "--chains",
        "50",
        "--repeats",
        "2",
        "--mala",
    ]);
    assert!(ok && stdout.contains("acceptance rate"), "{err}{stdout}");
    for (args, needle) in [
        (vec!["langevin", "--energy", "rings"], "--energy"),
        (vec!["langevin", "--sampler", "hmc"], "--sampler"),
        (vec!["langevin", "--sigmas", "1,2,10"], "σ₁"),
        (vec!["langevin", "--sigmas", "20,1"], "--sigmas"),
        (vec!["langevin", "--step", "0"], "step"),
        (vec!["langevin", "--chains", "0"], "--chains"),
        (vec!["langevin", "--sampler", "ula", "--clamp", "1,0"], "clamp"),
        (vec!["bench", "langevin", "--step=-1", "--visible", "8", "--hidden", "4", "--chains", "4"], "step"),
    ] {
        let bad_png = dir.join("bad.png");
        let mut a = args.clone();
        let p = bad_png.display().to_string();
        if a[0] == "langevin" {
            a.extend(["--out", &p]);
        }
        let (ok, _, err) = boltzmann(&a);
        // One line from the tool, or clap's usage error naming the option.
        let first = err.lines().next().unwrap_or_default();
        assert!(!ok && first.contains(needle), "{args:?}: {err}");
        assert!(err.lines().count() == 1 || first.starts_with("error: invalid value"), "{args:?}: {err}");
        assert!(!bad_png.exists(), "{args:?} wrote a picture");
    }
}

/// `ebm train` for each model kind on the built-in sets (model file and
/// picture written, sampled again by `langevin --model`), and bad input.
#[test]
fn ebm_train_and_langevin_model() {
    let dir = tmpdir("ebm");
    for (model, extra) in [
        ("mlp", vec!["--iterations", "30", "--langevin-steps", "10", "--hidden", "16,16"]),
        ("score", vec!["--iterations", "50", "--hidden", "16"]),
        ("gb-rbm", vec!["--epochs", "2", "--hidden", "8", "--lr", "0.01"]),
    ] {
        let out = dir.join(model).display().to_string();
        let mut args = vec![
            "ebm", "train", "--data", "moons", "--n-data", "300", "--model", model, "--batch", "32", "--json",
        ];
        args.extend(extra.iter().copied());
        args.extend(["--out", &out, "--threads", "2"]);
        let (ok, stdout, err) = boltzmann(&args);
        assert!(ok, "{model}: {err}");
        assert!(stdout.contains("\"done\":true") && stdout.contains("\"mmd2\":"), "{model}: {stdout}");
        let file = dir.join(model).join("model.safetensors").display().to_string();
        assert_eq!(&std::fs::read(dir.join(model).join("samples.png")).unwrap()[..4], b"\x89PNG");
        let sampler = if model == "score" { "annealed" } else { "mala" };
        let png = dir.join(format!("{model}-l.png")).display().to_string();
        let (ok, stdout, err) = boltzmann(&[
            "langevin",
            "--model",
            &file,
            "--sampler",
            sampler,
            "--chains",
            "100",
            "--steps",
            "10",
            "--step",
            "0.01",
            "--out",
            &png,
            "--json",
        ]);
        assert!(ok && stdout.contains("\"dim\":2"), "{model}: {err}{stdout}");
    }
    // A data file (CSV, 16 columns): gb-rbm writes an image grid.
    let csv_data = csv(&dir);
    let out = dir.join("csv").display().to_string();
    let (ok, _, err) = boltzmann(&[
        "ebm", "train", "--data", &csv_data, "--model", "gb-rbm", "--hidden", "4", "--epochs", "1",
        "--batch", "10", "--out", &out,
    ]);
    assert!(ok && dir.join("csv/samples.png").exists(), "{err}");
    // `eval` of the GB-RBM: exact log Z (4 hidden units) and AIS agree.
    let gb = dir.join("csv/model.safetensors").display().to_string();
    let ev = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["eval", "--model", &gb, "--data", &csv_data, "--json"];
        args.extend_from_slice(extra);
        let (ok, stdout, err) = boltzmann(&args);
        assert!(ok, "{extra:?}: {err}");
        serde_json::from_str(stdout.trim()).unwrap()
    };
    let exact = ev(&[]);
    let ais = ev(&["--force-ais", "--schedule", "linear:2000", "--ais-runs", "50"]);
    assert_eq!(exact["method"], "exact", "{exact}");
    let (ze, za) = (exact["log_z"].as_f64().unwrap(), ais["log_z"].as_f64().unwrap());
    assert!((ze - za).abs() < 0.05, "exact {ze} vs AIS {za}");
    assert!(exact["avg_log_density"].as_f64().unwrap().is_finite() && exact["base_avg_log_density"].is_f64());
    // RAISE beside AIS (not with the exact log Z): on the first examples,
    // close to the forward estimate on the same examples.
    assert!(exact.get("raise").is_none(), "{exact}");
    let r = &ais["raise"];
    assert_eq!(r["examples"], 40, "{ais}");
    let (rm, fwd) = (r["mean"].as_f64().unwrap(), r["ais_same_examples"].as_f64().unwrap());
    assert!((rm - fwd).abs() < 0.5, "RAISE {rm} vs AIS {fwd}");
    let few = ev(&["--force-ais", "--schedule", "linear:200", "--raise-examples", "5", "--raise-runs", "2"]);
    assert!(few["raise"]["examples"] == 5 && few["raise"]["runs_per_example"] == 2, "{few}");
    let none = ev(&["--force-ais", "--schedule", "linear:200", "--raise-examples", "0"]);
    assert!(none.get("raise").is_none(), "{none}");
    for (extra, needle) in [
        (vec!["--force-ais", "--raise-runs", "0"], "--raise-runs"),
        (vec!["--force-ais", "--raise-schedule", "linear:0"], "--raise-schedule"),
        (vec!["--binarize"], "--binarize"),
        (vec!["--force-ais", "--ais-runs", "0"], "runs"),
        (vec!["--force-ais", "--schedule", "linear:0"], "schedule"),
    ] {
        let mut args = vec!["eval", "--model", &gb, "--data", &csv_data];
        args.extend(extra.iter().copied());
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok && err.contains(needle), "{extra:?}: {err}");
    }
    let (ok, _, err) = boltzmann(&["eval", "--model", &gb]);
    assert!(!ok && err.contains("needs --data"), "{err}");
    let file = dir.join("score/model.safetensors").display().to_string();
    let png = dir.join("bad.png").display().to_string();
    let (ok, _, err) = boltzmann(&["langevin", "--model", &file, "--sampler", "ula", "--out", &png]);
    assert!(!ok && err.contains("--sampler annealed"), "{err}");
    for (extra, needle) in [
        (vec!["--data", "spirals"], "--data"),
        (vec!["--model", "vae"], "--model"),
        (vec!["--activation", "relu"], "--activation"),
        (vec!["--hidden", "16,0"], "--hidden"),
        (vec!["--model", "gb-rbm", "--hidden", "8,8"], "one hidden layer"),
        (vec!["--model", "gb-rbm", "--lr-schedule", "linear:-1"], "final learning rate"),
        (vec!["--model", "gb-rbm", "--lr-schedule", "cosine"], "--lr-schedule"),
        (vec!["--model", "gb-rbm", "--momentum", "1"], "momentum"),
        (vec!["--model", "score", "--sigmas", "0.1,1,5"], "σ"),
        (vec!["--iterations", "0"], "--iterations"),
        (vec!["--n-data", "1"], "--n-data"),
        (vec!["--step", "0"], "step"),
    ] {
        let bad_out = dir.join("bad").display().to_string();
        let mut args = vec!["ebm", "train", "--out", &bad_out];
        args.extend(extra.iter().copied());
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok && err.contains(needle), "{extra:?}: {err}");
        assert!(!dir.join("bad/model.safetensors").exists(), "{extra:?} wrote a model");
    }
    // JSON output stays valid for any path: quotes and backslashes escaped.
    let odd = dir.join("we\"ird\\name.safetensors");
    std::fs::copy(dir.join("mlp/model.safetensors"), &odd).unwrap();
    let odd_png = dir.join("odd.png").display().to_string();
    let (ok, stdout, err) = boltzmann(&[
        "langevin",
        "--model",
        &odd.display().to_string(),
        "--sampler",
        "mala",
        "--chains",
        "10",
        "--steps",
        "3",
        "--out",
        &odd_png,
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["target"], odd.display().to_string());
    assert!(stdout.starts_with("{\"target\":"), "fields in the documented order: {stdout}");
    let cut = dir.join("cut.safetensors");
    let bytes = std::fs::read(dir.join("mlp/model.safetensors")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
    let (ok, _, err) = boltzmann(&["langevin", "--model", &cut.display().to_string(), "--out", &png]);
    assert!(!ok && err.lines().count() == 1, "{err}");
}

/// `dbn train --gaussian` (GB-RBM bottom layer) on a small CSV, then
/// `dbn sample` and `dbn eval` (the bound on the log-density), and its bad
/// input.
#[test]
fn dbn_gaussian_bottom() {
    let dir = tmpdir("dbn-gauss");
    let data = csv(&dir);
    let out = dir.join("run").display().to_string();
    let base = [
        "dbn",
        "train",
        "--data",
        &data,
        "--batch",
        "5",
        "--monitor",
        "0",
        "--valid-fraction",
        "0",
        "--gaussian",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--layers",
        "6,4",
        "--layer-epochs",
        "2,2",
        "--gaussian-lr",
        "0.01",
        "--json",
        "--out",
        &out,
    ]);
    let (ok, stdout, err) = boltzmann(&args);
    assert!(ok, "{err}");
    assert!(stdout.contains("\"gaussian\":true") && stdout.contains("\"sizes\":[16,6,4]"), "{stdout}");
    assert!(stdout.contains("\"reconstruction_error\""), "{stdout}");
    let model = dir.join("run/dbn.safetensors").display().to_string();
    let png = dir.join("g.png").display().to_string();
    let (ok, _, err) =
        boltzmann(&["dbn", "sample", "--model", &model, "--shape", "4x4", "--n", "10", "--out", &png]);
    assert!(ok, "{err}");
    let (ok, stdout, err) =
        boltzmann(&["dbn", "eval", "--model", &model, "--data", &data, "--json", "--samples", "3"]);
    assert!(
        ok && stdout.contains("\"gaussian\":true") && stdout.contains("\"lower_bound\":"),
        "{err}{stdout}"
    );
    let (ok, _, err) = boltzmann(&["dbn", "eval", "--model", &model, "--data", &data, "--depth", "1"]);
    assert!(!ok && err.contains("--depth"), "{err}");
    let (ok, _, err) = boltzmann(&["dbn", "eval", "--model", &model]);
    assert!(!ok && err.contains("--data"), "{err}");
    for (extra, needle) in [
        (vec!["--layers", "6,4", "--label-top", "5"], "not implemented"),
        (vec!["--layers", "6,16", "--tied-init"], "not implemented"),
        (vec!["--layers", "6", "--gaussian-lr", "0"], "learning_rate"),
        (vec!["--layers", "6", "--sigma", "0"], "init_sigma"),
    ] {
        let bad_out = dir.join("bad").display().to_string();
        let mut args = base.to_vec();
        args.extend(["--out", &bad_out]);
        args.extend(extra.iter().copied());
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok && err.contains(needle), "{extra:?}: {err}");
        assert!(!dir.join("bad/dbn.safetensors").exists(), "{extra:?} wrote a model");
    }
}

#[test]
fn train_with_tempering_centering_and_fast_weights_reports_and_draws_curves() {
    let dir = tmpdir("pt");
    let data = csv(&dir);
    let out = dir.join("run").display().to_string();
    let args = [
        "train",
        "--data",
        &data,
        "--hidden",
        "6",
        "--batch",
        "5",
        "--monitor",
        "10",
        "--epochs",
        "3",
        "--algorithm",
        "pt",
        "--chains",
        "8",
        "--replicas",
        "3",
        "--beta-min",
        "0.3",
        "--centering",
        "0.05",
        "--fast-lr",
        "0.01",
        "--json",
        "--threads",
        "2",
        "--out",
        &out,
    ];
    let (ok, stdout, err) = boltzmann(&args);
    assert!(ok, "{err}");
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["tempering"]["swap_rates"].as_array().unwrap().len(), 2, "{last}");
    assert!(last["chain_diagnostics"]["split_rhat"].as_f64().unwrap().is_finite(), "{last}");
    let png = std::fs::read(dir.join("run/curves.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let csv_text = std::fs::read_to_string(dir.join("run/curves.csv")).unwrap();
    assert_eq!(csv_text.lines().count(), 4, "{csv_text}");
    // Resume continues the tempered, centered run.
    let mut resume = args.to_vec();
    resume[10] = "4";
    let ckpt = format!("{out}/checkpoint.safetensors");
    resume.extend(["--resume", &ckpt]);
    let (ok, stdout, err) = boltzmann(&resume);
    assert!(ok, "{err}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

#[test]
fn bad_learning_options_fail_cleanly_and_write_nothing() {
    let dir = tmpdir("badlearn");
    let data = csv(&dir);
    for extra in [
        &["--centering", "0"][..],
        &["--centering", "1.5"],
        &["--centering", "yes"],
        &["--algorithm", "pt", "--replicas", "1"],
        &["--algorithm", "pt", "--replicas", "0"],
        &["--algorithm", "pt", "--beta-min", "1.5"],
        &["--algorithm", "pt", "--beta-min", "0"],
        &["--algorithm", "cd", "--fast-lr", "0.1"],
        &["--fast-lr", "0"],
        &["--fast-lr", "0.1", "--fast-decay", "1"],
        &["--average", "1"],
        &["--average", "0"],
        &["--average", "nan"],
        &["--average-from", "0"],
        &["--average", "0.9", "--average-from", "1"],
    ] {
        let out = dir.join("out").display().to_string();
        let mut args =
            vec!["train", "--data", &data, "--hidden", "4", "--epochs", "1", "--batch", "5", "--out", &out];
        args.extend_from_slice(extra);
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok && err.contains("error"), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!dir.join("out").exists(), "{extra:?} wrote output");
    }
    // Diagnostics need two chains and four sweeps.
    let out = dir.join("run").display().to_string();
    let (ok, _, err) = boltzmann(&[
        "train", "--data", &data, "--hidden", "4", "--epochs", "1", "--batch", "5", "--out", &out,
    ]);
    assert!(ok, "{err}");
    let model = format!("{out}/model.safetensors");
    let png = dir.join("s.png").display().to_string();
    for extra in [&["--chains", "1"][..], &["--rows", "1", "--steps", "3"]] {
        let mut args = vec!["sample", "--model", &model, "--shape", "4x4", "--diagnostics", "--out", &png];
        args.extend_from_slice(extra);
        let (ok, _, err) = boltzmann(&args);
        assert!(!ok && err.contains("--diagnostics"), "{err}");
        assert!(!dir.join("s.png").exists());
    }
    let (ok, stdout, err) = boltzmann(&[
        "sample",
        "--model",
        &model,
        "--shape",
        "4x4",
        "--diagnostics",
        "--json",
        "--chains",
        "4",
        "--rows",
        "2",
        "--steps",
        "50",
        "--out",
        &png,
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["sweeps"], 100);
    assert!(v.get("swap_rates").is_none(), "plain chains report no swaps: {v}");
    // Parallel tempering: the same diagnostics plus swap rates (one per
    // neighbouring pair) and round trips; without --json they go to stderr.
    let tempered = |json: bool| {
        let mut args = vec![
            "sample",
            "--model",
            &model,
            "--shape",
            "4x4",
            "--diagnostics",
            "--chains",
            "4",
            "--rows",
            "2",
            "--steps",
            "50",
            "--replicas",
            "5",
            "--beta-min",
            "0.2",
            "--out",
            &png,
        ];
        if json {
            args.push("--json");
        }
        boltzmann(&args)
    };
    let (ok, stdout, err) = tempered(true);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let rates = v["swap_rates"].as_array().unwrap();
    assert_eq!(rates.len(), 4, "{v}");
    assert!(rates.iter().all(|r| (0.0..=1.0).contains(&r.as_f64().unwrap())), "{v}");
    assert!(v["round_trips"].as_u64().is_some() && v["sweeps"] == 100, "{v}");
    let (ok, _, err) = tempered(false);
    assert!(ok && err.contains("tempering: swap rates [") && err.contains("round trips"), "{err}");
}

/// `crbm train | sample | filters` on the embedded digits: every output
/// written and readable, JSON lines that parse, the same model bytes on 1
/// and 2 threads.
#[test]
fn crbm_train_sample_filters() {
    let dir = tmpdir("crbm");
    let run = |threads: &str, out: &str| {
        let out = dir.join(out).display().to_string();
        let mut args = vec![
            "crbm",
            "train",
            "--limit",
            "200",
            "--epochs",
            "2",
            "--filters",
            "4",
            "--filter-size",
            "5",
            "--pool",
            "2",
            "--sample-sweeps",
            "5",
            "--json",
        ];
        if let Some(t) = threads.strip_suffix("-centered") {
            args.extend(["--center-visible", "--threads", t]);
        } else {
            args.extend(["--threads", threads]);
        }
        args.extend(["--out", &out]);
        let (ok, stdout, err) = boltzmann(&args);
        assert!(ok, "{err}");
        let lines: Vec<serde_json::Value> =
            stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3, "{stdout}");
        assert_eq!(lines[1]["epoch"], 2);
        assert!(lines[1]["reconstruction_error"].as_f64().unwrap() > 0.0);
        assert!(lines[2]["train_seconds"].as_f64().unwrap() >= 0.0);
        for f in ["model.safetensors", "filters.png", "samples.png"] {
            assert!(dir.join(&out).join(f).metadata().unwrap().len() > 0, "{f}");
        }
        std::fs::read(std::path::Path::new(&out).join("model.safetensors")).unwrap()
    };
    let one = run("1", "a");
    let two = run("2", "b");
    assert_eq!(one, two, "the model depends on the thread count");
    // Centered visible units: a plain model file, not the plain run's, the
    // same on 1 and 2 threads.
    let centered = run("1-centered", "c1");
    assert_ne!(centered, one);
    assert_eq!(centered, run("2-centered", "c2"));
    match boltzmann::io::ModelFile::from_bytes(&one).unwrap() {
        boltzmann::io::ModelFile::ConvRbm(m) => assert_eq!(m.shape().filters, 4),
        other => panic!("read back a {}", other.kind()),
    }
    let model = dir.join("a/model.safetensors").display().to_string();
    let png = dir.join("s.png").display().to_string();
    let (ok, stdout, err) = boltzmann(&[
        "crbm", "sample", "--model", &model, "--chains", "6", "--sweeps", "4", "--out", &png, "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["chains"], 6);
    assert!((0.0..=1.0).contains(&v["density"].as_f64().unwrap()));
    assert!(std::path::Path::new(&png).metadata().unwrap().len() > 0);
    // crbm eval: AIS on the embedded test digits, the same estimate on 1
    // and 2 threads, a bracket around it; images of another size refused.
    let eval = |threads: &str| {
        let (ok, stdout, err) = boltzmann(&[
            "crbm",
            "eval",
            "--model",
            &model,
            "--schedule",
            "linear:40",
            "--ais-runs",
            "6",
            "--raise-examples",
            "3",
            "--json",
            "--threads",
            threads,
        ]);
        assert!(ok, "{err}");
        let mut v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        v.as_object_mut().unwrap().remove("log_z_seconds");
        v.as_object_mut().unwrap().remove("raise_seconds");
        v
    };
    let e1 = eval("1");
    assert_eq!(e1, eval("2"), "crbm eval depends on the thread count");
    // A lower end of −∞ (too few runs for ±3σ) is written as null.
    let lo = e1["log_z_low"].as_f64().unwrap_or(f64::NEG_INFINITY);
    let (z, hi) = (e1["log_z"].as_f64().unwrap(), e1["log_z_high"].as_f64().unwrap());
    assert!(lo <= z && z <= hi && z > 0.0, "{e1}");
    let avg = e1["avg_log_prob"].as_f64().unwrap();
    assert!(avg < 0.0 && e1["avg_log_prob_low"].as_f64().unwrap() <= avg, "{e1}");
    assert_eq!(e1["examples"], 2000);
    assert_eq!(e1["raise_examples"], 3);
    assert!(e1["raise_mean"].as_f64().unwrap() < 0.0 && e1["raise_std_err"].as_f64().unwrap() >= 0.0, "{e1}");
    let small = dir.join("small.csv");
    std::fs::write(&small, "0,1,0,1\n1,1,0,0\n").unwrap();
    let (ok, _, err) =
        boltzmann(&["crbm", "eval", "--model", &model, "--data", &small.display().to_string()]);
    assert!(!ok && err.contains("pixels"), "{err}");
    let fpng = dir.join("f.png").display().to_string();
    let (ok, _, err) = boltzmann(&["crbm", "filters", "--model", &model, "--out", &fpng]);
    assert!(ok, "{err}");
    assert!(std::path::Path::new(&fpng).metadata().unwrap().len() > 0);
    // Two layers: a convolutional DBN file, a picture per layer, classify on either layer.
    let out = dir.join("two").display().to_string();
    let (ok, stdout, err) = boltzmann(&[
        "crbm",
        "train",
        "--limit",
        "200",
        "--epochs",
        "1",
        "--filters",
        "4,5",
        "--filter-size",
        "5,3",
        "--pool",
        "2,2",
        "--sample-sweeps",
        "2",
        "--json",
        "--out",
        &out,
    ]);
    assert!(ok, "{err}");
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["layers"], 2);
    assert!(stdout.lines().any(|l| l.contains("\"layer\":2")), "{stdout}");
    for f in ["model.safetensors", "filters.png", "filters2.png", "samples.png"] {
        assert!(dir.join("two").join(f).metadata().unwrap().len() > 0, "{f}");
    }
    let model2 = dir.join("two/model.safetensors").display().to_string();
    match boltzmann::io::ModelFile::load(&model2).unwrap() {
        boltzmann::io::ModelFile::ConvDbn(d) => assert_eq!(d.layers().len(), 2),
        other => panic!("read back a {}", other.kind()),
    }
    for layer in ["1", "2"] {
        let (ok, stdout, err) = boltzmann(&[
            "crbm", "classify", "--model", &model2, "--layer", layer, "--limit", "300", "--epochs", "2",
            "--json",
        ]);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert!((0.0..=1.0).contains(&v["test_error"].as_f64().unwrap()), "{v}");
        assert_eq!(v["train_examples"], 300);
    }
    // Both layers side by side on grey IDX images (their grey levels as the
    // visible probabilities), and the bad choices of layers and settings.
    let idx = |name: &str, n: usize, images: bool| -> String {
        let path = dir.join(name);
        let mut b = vec![0u8, 0, 8, if images { 3 } else { 1 }];
        b.extend((n as u32).to_be_bytes());
        if images {
            b.extend(28u32.to_be_bytes());
            b.extend(28u32.to_be_bytes());
            b.extend((0..n * 784).map(|i| ((i * 37 + i / 784 * 11) % 256) as u8));
        } else {
            b.extend((0..n).map(|i| (i % 10) as u8));
        }
        std::fs::write(&path, b).unwrap();
        path.display().to_string()
    };
    let (tr, trl, te, tel) = (
        idx("tr.idx", 40, true),
        idx("tr.lab", 40, false),
        idx("te.idx", 20, true),
        idx("te.lab", 20, false),
    );
    let classify = |extra: &[&str]| {
        let mut a = vec![
            "crbm",
            "classify",
            "--model",
            &model2,
            "--data",
            &tr,
            "--labels",
            &trl,
            "--test-data",
            &te,
            "--test-labels",
            &tel,
            "--epochs",
            "2",
            "--json",
        ];
        a.extend_from_slice(extra);
        boltzmann(&a)
    };
    let (ok, stdout, err) = classify(&["--layer", "1,2", "--grey", "--l2", "0", "--lr", "0.05"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        (v["features"].as_u64(), &v["layer"], &v["grey"]),
        (Some(12 * 12 * 4 + 5 * 5 * 5), &serde_json::json!("1,2"), &serde_json::json!(true)),
        "{v}"
    );
    // The linear SVM read-out; several costs: one chosen on the held-out
    // sixth (40 images: 34 + 6), reported with each candidate's error.
    let (ok, stdout, err) =
        classify(&["--layer", "1,2", "--grey", "--classifier", "svm", "--svm-c", "0.5,0.05"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["classifier"], "svm", "{v}");
    let cands = v["svm_validation"].as_array().unwrap();
    assert_eq!(cands.len(), 2, "{v}");
    let best = cands.iter().min_by(|a, b| a["error"].as_f64().partial_cmp(&b["error"].as_f64()).unwrap());
    let errs: Vec<f64> = cands.iter().map(|c| c["error"].as_f64().unwrap()).collect();
    let chosen = v["svm_c"].as_f64().unwrap();
    if errs[0] != errs[1] {
        assert_eq!(Some(chosen), best.unwrap()["c"].as_f64(), "{v}");
    } else {
        assert!((chosen - 0.05).abs() < 1e-6, "ties go to the smaller C: {v}");
    }
    assert!(v["svm_passes"].as_u64().unwrap() >= 1 && v["pixels_svm_c"].is_number(), "{v}");
    let (ok, stdout, err) = classify(&["--grey", "--classifier", "svm"]);
    assert!(ok && !stdout.contains("svm_validation"), "{err}{stdout}");
    for (extra, needle) in [
        (&["--grey", "--classifier", "svm", "--svm-c", "0"][..], "--svm-c"),
        (&["--grey", "--classifier", "svm", "--svm-c", "0.1,nan"], "--svm-c"),
        (&["--grey", "--classifier", "tree"], "tree"),
        (&["--grey", "--classifier", "svm", "--svm-passes", "0"], "--svm-passes"),
        (&["--layer", "1,1", "--grey"], "named twice"),
        (&["--layer", "1,3", "--grey"], "--layer 3"),
        (&["--grey", "--lr", "0"], "--lr"),
        (&["--grey", "--l2=-1"], "--l2"),
        (&["--grey", "--binarize", "threshold"], "cannot be used with"),
        (&[], "add --binarize or --grey"),
    ] {
        let (ok, _, err) = classify(extra);
        assert!(!ok && err.contains(needle), "{extra:?}: {err}");
    }
    let (ok, _, err) = boltzmann(&["crbm", "classify", "--model", &model2, "--grey"]);
    assert!(!ok && err.contains("--data"), "{err}");
    let (ok, _, err) = boltzmann(&["crbm", "filters", "--model", &model2, "--layer", "2", "--out", &fpng]);
    assert!(ok, "{err}");
    // The stack sampled as a DBN generates (top RBM, clamped pass down);
    // refused for a one-layer model.
    let dpng = dir.join("down.png").display().to_string();
    let (ok, stdout, err) = boltzmann(&[
        "crbm",
        "sample",
        "--model",
        &model2,
        "--chains",
        "6",
        "--sweeps",
        "4",
        "--down-sweeps",
        "3",
        "--out",
        &dpng,
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!((0.0..=1.0).contains(&v["density"].as_f64().unwrap()) && v["down_sweeps"] == 3, "{v}");
    assert!(std::path::Path::new(&dpng).metadata().unwrap().len() > 0);
    let one_png = dir.join("one.png");
    let (ok, _, err) = boltzmann(&[
        "crbm",
        "sample",
        "--model",
        &model,
        "--down-sweeps",
        "3",
        "--out",
        &one_png.display().to_string(),
    ]);
    assert!(!ok && err.contains("--down-sweeps") && !one_png.exists(), "{err}");
    // Features of either layer and of both side by side, with the labels,
    // as safetensors.
    let mut per_layer = Vec::new();
    for (layer, width) in [("1", 12 * 12 * 4), ("2", 5 * 5 * 5), ("2,1", 5 * 5 * 5 + 12 * 12 * 4)] {
        let f = dir.join(format!("f{layer}.safetensors"));
        let (ok, _, err) = boltzmann(&[
            "crbm",
            "features",
            "--model",
            &model2,
            "--layer",
            layer,
            "--limit",
            "20",
            "--out",
            &f.display().to_string(),
        ]);
        assert!(ok, "{err}");
        let st =
            boltzmann::io::safetensors::SafeTensors::from_bytes(&std::fs::read(&f).unwrap(), "f").unwrap();
        assert_eq!(st.get("features", "f").unwrap().shape, vec![20, width]);
        assert_eq!(st.get("labels", "f").unwrap().shape, vec![20]);
        let x = st.get("features", "f").unwrap().to_f32("f").unwrap();
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
        per_layer.push((x, width));
    }
    let ((f1, w1), (f2, w2), (both, _)) = (&per_layer[0], &per_layer[1], &per_layer[2]);
    for i in 0..20 {
        let row = &both[i * (w1 + w2)..(i + 1) * (w1 + w2)];
        assert_eq!((&row[..*w2], &row[*w2..]), (&f2[i * w2..(i + 1) * w2], &f1[i * w1..(i + 1) * w1]));
    }
    // Grey IDX images as probabilities; without --grey they are refused.
    let fg = dir.join("fg.safetensors").display().to_string();
    let grey_features = |extra: &[&str]| {
        let mut a =
            vec!["crbm", "features", "--model", &model2, "--data", &tr, "--labels", &trl, "--out", &fg];
        a.extend_from_slice(extra);
        boltzmann(&a)
    };
    let (ok, stdout, err) = grey_features(&["--grey", "--layer", "1,2"]);
    assert!(ok && stdout.contains("40 images × 701 features of layers 1,2"), "{stdout}{err}");
    let (ok, _, err) = grey_features(&[]);
    assert!(!ok && err.contains("add --binarize or --grey"), "{err}");
    let (ok, _, err) = boltzmann(&["crbm", "features", "--model", &model2, "--layer", "3", "--out", &fpng]);
    assert!(!ok && err.contains("--layer 3"), "{err}");
    // Gaussian visible units on grey 4 × 4 images from a CSV file.
    let grey: String = (0..30)
        .map(|i| {
            (0..16)
                .map(|j| format!("{:.3}", ((i * 5 + j * 3) % 11) as f32 / 10.0))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    let csv = dir.join("grey.csv");
    std::fs::write(&csv, grey).unwrap();
    let out = dir.join("gauss").display().to_string();
    let (ok, stdout, err) = boltzmann(&[
        "crbm",
        "train",
        "--data",
        &csv.display().to_string(),
        "--image",
        "4x4",
        "--visible",
        "gaussian",
        "--filters",
        "3",
        "--filter-size",
        "3",
        "--pool",
        "2",
        "--epochs",
        "2",
        "--batch",
        "10",
        "--lr",
        "0.01",
        "--sample-sweeps",
        "3",
        "--out",
        &out,
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("standardized per channel"), "{stdout}");
    let gmodel = dir.join("gauss/model.safetensors");
    match boltzmann::io::ModelFile::load(&gmodel).unwrap() {
        boltzmann::io::ModelFile::ConvRbm(m) => {
            assert_eq!(m.visible_units(), boltzmann::model::ConvVisible::Gaussian)
        }
        other => panic!("read back a {}", other.kind()),
    }
    let (ok, _, err) = boltzmann(&["crbm", "classify", "--model", &gmodel.display().to_string()]);
    assert!(!ok && err.contains("Gaussian"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `crbm train --resume`: a 2-epoch run resumed to 3 epochs writes the same
/// model bytes as a 3-epoch run (constant rate, so the schedule does not
/// depend on the epoch count); bad resumes fail cleanly.
#[test]
fn crbm_resume_continues_exactly() {
    let dir = tmpdir("crbm-resume");
    let base = |out: &str, epochs: &str| -> Vec<String> {
        [
            "crbm",
            "train",
            "--filters",
            "3",
            "--filter-size",
            "5",
            "--lr",
            "0.1",
            "--lr-final",
            "0.1",
            "--sample-sweeps",
            "2",
            "--threads",
            "2",
            "--epochs",
            epochs,
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([dir.join(out).display().to_string()])
        .collect()
    };
    let run = |mut args: Vec<String>| {
        args.extend(["--limit".to_string(), "150".to_string()]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out, err) = boltzmann(&a);
        assert!(ok, "{err}");
        out
    };
    run(base("straight", "3"));
    run(base("half", "2"));
    let ckpt = dir.join("half/checkpoint.safetensors").display().to_string();
    let mut resume = base("resumed", "3");
    resume.extend(["--resume".to_string(), ckpt.clone()]);
    let out = run(resume);
    assert!(out.contains("epoch   3") && !out.contains("epoch   2"), "{out}");
    let a = std::fs::read(dir.join("straight/model.safetensors")).unwrap();
    let b = std::fs::read(dir.join("resumed/model.safetensors")).unwrap();
    assert_eq!(a, b, "resumed run differs from the straight one");
    // Other data, fewer epochs than done, a model instead of a checkpoint.
    for (extra, needle) in [(vec!["--limit", "140"], "not the data"), (vec!["--limit", "150"], "already run")]
    {
        let epochs = if needle == "already run" { "1" } else { "3" };
        let mut args: Vec<String> = base("bad", epochs);
        args.extend(["--resume".to_string(), ckpt.clone()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = boltzmann(&a);
        assert!(!ok && err.contains(needle), "{extra:?}: {err}");
    }
    let mut args = base("bad", "3");
    args.extend(["--resume".to_string(), dir.join("straight/model.safetensors").display().to_string()]);
    args.extend(["--limit".to_string(), "150".to_string()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, err) = boltzmann(&a);
    assert!(!ok && err.contains("--resume takes a checkpoint"), "{err}");
    // A two-layer run writes a stack checkpoint after every epoch; resumed
    // with more epochs, it extends the top layer and keeps layer 1.
    let two = |out: &str, epochs: &str, resume: Option<&str>| {
        let out = dir.join(out).display().to_string();
        let mut args: Vec<String> = [
            "crbm",
            "train",
            "--filters",
            "3,4",
            "--filter-size",
            "5,3",
            "--sample-sweeps",
            "2",
            "--threads",
            "2",
            "--epochs",
            epochs,
            "--out",
            &out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(r) = resume {
            args.extend(["--resume".to_string(), r.to_string()]);
        }
        run(args)
    };
    two("stack", "2", None);
    let stack_ckpt = dir.join("stack/checkpoint.safetensors");
    let st = boltzmann::io::load_conv_dbn_checkpoint(&stack_ckpt).unwrap();
    assert_eq!((st.done.len(), st.current.epoch), (1, 2), "the last checkpoint is of the finished run");
    let out = two("stack-more", "3", Some(&stack_ckpt.display().to_string()));
    assert!(out.contains("layer 2 epoch   3") && !out.contains("layer 1 epoch"), "{out}");
    let before = boltzmann::io::load_conv_dbn(dir.join("stack/model.safetensors")).unwrap();
    let after = boltzmann::io::load_conv_dbn(dir.join("stack-more/model.safetensors")).unwrap();
    assert_eq!(before.layers()[0], after.layers()[0]);
    assert_ne!(before.layers()[1], after.layers()[1]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `train --average`: the saved model is the averaged one (not the
/// checkpoint's current parameters), and a resumed run saves the same bytes
/// as a straight one.
#[test]
fn train_average_saves_the_average_and_resumes_exactly() {
    let dir = tmpdir("average");
    let data = csv(&dir);
    let run = |name: &str, epochs: &str, resume: bool| {
        let out = dir.join(name).display().to_string();
        let mut args = vec![
            "train",
            "--data",
            &data,
            "--hidden",
            "6",
            "--batch",
            "5",
            "--monitor",
            "0",
            "--average",
            "0.9",
            "--average-from",
            "1",
            "--lr-schedule",
            "constant",
            "--epochs",
            epochs,
            "--out",
            &out,
        ];
        let ck = dir.join("half/checkpoint.safetensors").display().to_string();
        if resume {
            args.extend(["--resume", &ck]);
        }
        let (ok, _, err) = boltzmann(&args);
        assert!(ok, "{err}");
        std::fs::read(dir.join(name).join("model.safetensors")).unwrap()
    };
    let straight = run("straight", "4", false);
    run("half", "2", false);
    assert_eq!(straight, run("resumed", "4", true), "resumed run differs from the straight one");
    let model = boltzmann::io::parse_rbm(&straight).unwrap();
    let state = boltzmann::io::load_checkpoint(dir.join("straight/checkpoint.safetensors")).unwrap();
    assert!(state.averaged_updates > 0);
    assert_ne!(model, state.rbm, "the saved model must be the average, not the last parameters");
    let (d, h) = (model.n_visible(), model.n_hidden());
    assert_eq!(model.weights(), &state.average[..d * h]);
}

/// `bench conv`: one JSON object with the rates (and the naive twin's);
/// impossible geometries and zero chains refused.
#[test]
fn bench_conv_reports_rates_and_refuses_bad_shapes() {
    let (ok, stdout, err) = boltzmann(&[
        "bench",
        "conv",
        "--size",
        "12",
        "--filters",
        "3",
        "--filter-size",
        "5",
        "--pool",
        "2",
        "--chains",
        "4",
        "--sweeps",
        "2",
        "--repeats",
        "1",
        "--naive",
        "--threads",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["bench"], "conv");
    assert_eq!(v["chains"], 4);
    assert!(v["sweeps_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["naive_sweeps_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["speedup_vs_naive"].as_f64().unwrap() > 0.0);
    for (bad, needle) in [
        (&["--pool", "3"][..], "tile"),
        (&["--chains", "0"][..], "--chains"),
        (&["--filter-size", "40"][..], "larger"),
    ] {
        let mut a = vec!["bench", "conv", "--sweeps", "1", "--repeats", "1"];
        a.extend_from_slice(bad);
        let (ok, _, err) = boltzmann(&a);
        assert!(!ok && err.contains(needle), "{bad:?}: {err}");
    }
}

/// `bench gibbs --incremental` reports it; `sample --incremental` writes the
/// same picture and diagnostics on 1 and 2 threads.
#[test]
fn incremental_sweeps_from_the_cli() {
    let (ok, stdout, err) = boltzmann(&[
        "bench",
        "gibbs",
        "--visible",
        "150",
        "--hidden",
        "70",
        "--chains",
        "40",
        "--threads",
        "2",
        "--sweeps",
        "3",
        "--repeats",
        "2",
        "--incremental",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["incremental"], true, "{v}");
    assert!(v["sweeps_per_s"].as_f64().unwrap() > 0.0, "{v}");
    let dir = tmpdir("incremental");
    let model = dir.join("m.safetensors");
    let w = boltzmann::Rbm::random(150, 70, 0.3, 0.0, 3).unwrap().weights().to_vec();
    let rbm = boltzmann::Rbm::new(150, 70, w, vec![-2.0; 150], vec![-0.5; 70]).unwrap();
    boltzmann::io::save_rbm(&rbm, &model).unwrap();
    let model = model.display().to_string();
    let run = |threads: &str| {
        let png = dir.join(format!("s{threads}.png")).display().to_string();
        let (ok, stdout, err) = boltzmann(&[
            "sample",
            "--model",
            &model,
            "--shape",
            "10x15",
            "--chains",
            "6",
            "--rows",
            "3",
            "--steps",
            "30",
            "--diagnostics",
            "--json",
            "--incremental",
            "--threads",
            threads,
            "--out",
            &png,
        ]);
        assert!(ok, "{err}");
        (std::fs::read(&png).unwrap(), stdout)
    };
    assert_eq!(run("1"), run("2"));
}
