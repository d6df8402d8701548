//! What the reliability checks cost (perf-notes.md, 2026-12-02): the speed of
//! `checksum64`, the fingerprint of a data set, and saving / parsing a
//! 784 × 500 model file with its checksum. Best of 5, one thread.
//!
//! `cargo run --release --example io_costs -- [DATA]` (DATA: any data file
//! `train --data` reads, e.g. `binarized_mnist_train.amat.gz`; default: the
//! embedded 10,000 digits).

use std::time::Instant;

fn best(mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> boltzmann::Result<()> {
    let data = match std::env::args().nth(1) {
        Some(p) => boltzmann::io::read_dataset(std::path::Path::new(&p), None)?,
        None => boltzmann::io::embedded_mnist()?.train,
    };
    let bytes = data.len() * data.dim() * 4;
    let t = best(|| {
        std::hint::black_box(data.fingerprint());
    });
    println!(
        "fingerprint of {} × {} ({:.0} MB): {:.1} ms, {:.2} GB/s",
        data.len(),
        data.dim(),
        bytes as f64 / 1e6,
        t * 1e3,
        bytes as f64 / t / 1e9
    );
    let big = vec![7u8; 64 << 20];
    let t = best(|| {
        std::hint::black_box(boltzmann::checksum::checksum64(&big));
    });
    println!("checksum64 over 64 MiB: {:.2} GB/s", big.len() as f64 / t / 1e9);
    let rbm = boltzmann::Rbm::random(784, 500, 0.01, 0.0, 1)?;
    let path = std::env::temp_dir().join(format!("boltzmann-io-costs-{}.safetensors", std::process::id()));
    let save = best(|| boltzmann::io::save_rbm(&rbm, &path).expect("a writable temp dir"));
    let file = boltzmann::io::rbm_bytes(&rbm);
    let parse = best(|| {
        std::hint::black_box(boltzmann::io::parse_rbm(&file).expect("a valid file"));
    });
    let sum = best(|| {
        std::hint::black_box(boltzmann::checksum::checksum64(&file));
    });
    let _ = std::fs::remove_file(&path);
    println!(
        "784 × 500 model ({} bytes): save (checksum, write, fsync, rename) {:.2} ms, parse and verify {:.2} ms \
         (of which one checksum pass {:.2} ms)",
        file.len(),
        save * 1e3,
        parse * 1e3,
        sum * 1e3
    );
    Ok(())
}
