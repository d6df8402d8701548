//! Which digits does a trained model sample? Runs many chains from uniform
//! random starts for many sweeps, classifies each chain's final `p(v|h)`
//! (a Gaussian–Bernoulli RBM: its visible means `b + σ·Wh`) with softmax
//! regression trained on the embedded MNIST digits, and prints the share of
//! each class (the "no class above a third" check of docs/results.md). Any
//! model file of `train` or `ebm train --model gb-rbm` (read through
//! `io::ModelFile`). For a label-joined DBN (`dbn train --label-top`) the
//! chains are split evenly over the labels, each clamped to its label, and
//! it also prints how many samples the classifier assigns to the label they
//! were drawn for.
//!
//! `cargo run --release --example sample_classes -- MODEL [CHAINS] [SWEEPS] [SEED]`

use boltzmann::io::{DbnFile, EnergyModel, ModelFile};
use boltzmann::train::softmax::{SoftmaxConfig, fit_softmax};
use boltzmann::{Chains, io, rng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).ok_or("usage: sample_classes MODEL [CHAINS] [SWEEPS] [SEED]")?;
    let chains: usize = args.get(2).map_or(Ok(500), |s| s.parse())?;
    let sweeps: usize = args.get(3).map_or(Ok(1000), |s| s.parse())?;
    let seed: u64 = args.get(4).map_or(Ok(0), |s| s.parse())?;
    let file = ModelFile::load(model)?;
    let data = io::embedded_mnist()?;
    let clf = fit_softmax(&data.train, &SoftmaxConfig::default())?;
    let test_labels = data.test.labels().ok_or("embedded test split without labels")?;
    let err = clf.error_rate(data.test.features(), test_labels)?;
    let mut clamped: Option<Vec<u8>> = None;
    let pv = match file {
        ModelFile::Rbm(rbm) => {
            let mut ch = Chains::new(&rbm, chains, seed)?;
            ch.sweep(&rbm, sweeps)?;
            let mut pv = vec![0.0f32; chains * rbm.n_visible()];
            rbm.visible_probs(ch.hidden(), &mut pv)?;
            pv
        }
        ModelFile::Energy(EnergyModel::GaussianRbm(m)) => {
            let d = m.n_visible();
            let mut starts = rng::chain_streams(rng::derive(seed, rng::Purpose::LangevinStarts), chains)?;
            let mut v = vec![0.0f32; chains * d];
            rng::fill_uniform(&mut starts, d, &mut v)?;
            let mut streams = rng::chain_streams(seed, chains)?;
            let hid = m.gibbs(&mut v, &mut streams, sweeps)?;
            let mut means = vec![0.0f32; chains * d];
            m.visible_means(&hid, &mut means)?;
            means
        }
        ModelFile::Dbn(DbnFile::Labelled(net)) => {
            let k = net.n_labels();
            let labels: Vec<u8> = (0..chains).map(|i| (i * k / chains) as u8).collect();
            let s = net.sample_given_labels(&labels, sweeps, seed)?;
            clamped = Some(labels);
            s.visible_probs
        }
        other => {
            return Err(format!(
                "{model}: a {} file; need an RBM, a GB-RBM or a label-joined DBN",
                other.kind()
            )
            .into());
        }
    };
    let mut counts = [0usize; 10];
    let predicted = clf.predict(&pv)?;
    for &c in &predicted {
        counts[c as usize] += 1;
    }
    if let Some(labels) = &clamped {
        let own = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
        println!(
            "label-clamped samples classified as their own label: {own} of {chains} ({:.1} %; chance 10 %)",
            100.0 * own as f64 / chains as f64
        );
    }
    println!("classifier test error on the embedded test digits: {:.2} %", 100.0 * err);
    println!("{chains} chains after {sweeps} sweeps from uniform starts (seed {seed}):");
    for (digit, n) in counts.iter().enumerate() {
        println!("  {digit}: {n:>5} ({:.1} %)", 100.0 * *n as f64 / chains as f64);
    }
    let top = counts.iter().max().copied().unwrap_or(0);
    println!("largest class share {:.1} % (target ≤ 33.3 %)", 100.0 * top as f64 / chains as f64);
    Ok(())
}
