//! What the convolutional-RBM kernels cost on MNIST-sized images (28 × 28,
//! 24 filters of 9 × 9, pool 2), and which path wins:
//! * v → h: im2col + one matrix product (the library's `correlate`) against
//!   a direct f32 loop;
//! * h → v from sampled (sparse, binary) detection maps: adding the filters
//!   of the units that are on (`convolve_binary`) against product + col2im
//!   (`convolve_dense`);
//! * the probabilistic max-pooling sampler on one image's logits;
//! * whole Gibbs sweeps of 100 chains on 1 and 2 threads.
//!
//! `cargo run --release --example conv_costs [MODEL]` (a `crbm train` model;
//! default: random filters).
use boltzmann::kernels::conv::{self, ConvShape};
use boltzmann::model::ConvRbm;
use boltzmann::sampler::ConvChains;
use std::time::Instant;

fn time<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    best
}

fn direct(s: &ConvShape, v: &[f32], w: &[f32], out: &mut [f32]) {
    let (r, c, kk, wv, wh) = (s.filter_size, s.channels, s.filters, s.width, s.hidden_width());
    out.fill(0.0);
    for y in 0..s.hidden_height() {
        for x in 0..wh {
            let o = &mut out[(y * wh + x) * kk..(y * wh + x + 1) * kk];
            for a in 0..r {
                for b in 0..r {
                    for ch in 0..c {
                        let p = v[((y + a) * wv + x + b) * c + ch];
                        let row = &w[((a * r + b) * c + ch) * kk..((a * r + b) * c + ch + 1) * kk];
                        for (o, &wk) in o.iter_mut().zip(row) {
                            *o += p * wk;
                        }
                    }
                }
            }
        }
    }
}

fn main() -> boltzmann::Result<()> {
    let m = match std::env::args().nth(1) {
        Some(p) => boltzmann::io::load_conv_rbm(p)?,
        None => {
            let s = ConvShape { height: 28, width: 28, channels: 1, filters: 24, filter_size: 9, pool: 2 };
            ConvRbm::random(s, 0.05, -2.0, 1)?
        }
    };
    let s = m.shape();
    println!("{s}; {} threads available", rayon::current_num_threads());
    let digits = boltzmann::io::embedded_mnist()?.train;
    let v = digits.row(0);
    let mut cols = vec![0.0; s.positions() * s.taps()];
    let mut out = vec![0.0; s.n_hidden()];
    let t_im2col = time(2000, || conv::correlate(&s, v, m.weights(), &mut cols, &mut out).unwrap());
    let mut out2 = vec![0.0; s.n_hidden()];
    let t_direct = time(2000, || direct(&s, v, m.weights(), &mut out2));
    let flops = 2.0 * (s.positions() * s.taps() * s.filters) as f64;
    println!(
        "v→h per image: im2col + product {:.1} µs ({:.1} GFLOP/s), direct loop {:.1} µs ({:.1} GFLOP/s)",
        t_im2col * 1e6,
        flops / t_im2col / 1e9,
        t_direct * 1e6,
        flops / t_direct / 1e9
    );
    // Sampled detection maps of that digit.
    let mut c = ConvChains::from_data(&m, &digits.subset(0..1)?, 3)?;
    c.sample_hidden(&m)?;
    let h = c.hidden().to_vec();
    let on = h.iter().filter(|&&x| x != 0.0).count();
    let mut img = vec![0.0; s.n_visible()];
    let t_bin = time(2000, || conv::convolve_binary(&s, &h, m.weights_transposed(), &mut img).unwrap());
    let t_dense = time(2000, || conv::convolve_dense(&s, &h, m.weights(), &mut cols, &mut img).unwrap());
    println!(
        "h→v per image ({on} of {} detection units on, {:.2} %): binary {:.1} µs, product + col2im {:.1} µs",
        s.n_hidden(),
        100.0 * on as f64 / s.n_hidden() as f64,
        t_bin * 1e6,
        t_dense * 1e6
    );
    // The max-pooling sampler alone on that digit's logits (with biases).
    let mut logits = vec![0.0; s.n_hidden()];
    conv::correlate(&s, v, m.weights(), &mut cols, &mut logits)?;
    for (x, b) in logits.iter_mut().zip(m.hidden_bias().iter().cycle()) {
        *x += b;
    }
    let u: Vec<f32> = (0..s.n_pooled()).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 + 0.0005).collect();
    let (mut hs, mut ps) = (vec![0.0; s.n_hidden()], vec![0.0; s.n_pooled()]);
    let mut best = f64::INFINITY;
    for _ in 0..20 {
        best = best
            .min(time(500, || conv::sample_max_pool(&s, &logits, &u, &mut hs, &mut ps, &mut []).unwrap()));
    }
    println!(
        "max-pooling sampler per image ({} blocks of {} units): {:.1} µs",
        s.n_pooled(),
        s.pool * s.pool,
        best * 1e6
    );
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut chains = ConvChains::from_data(&m, &digits.subset(0..100)?, 5)?;
        let t = pool.install(|| time(3, || chains.sweep(&m, 10).unwrap()));
        println!("sweeps of 100 chains, {threads} thread(s): {:.0} chain-sweeps/s", 1000.0 / t);
    }
    Ok(())
}
