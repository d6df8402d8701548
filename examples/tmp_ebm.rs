use boltzmann::data::Toy2d;
use boltzmann::energy::{Activation, MlpEnergy};
use boltzmann::sampler::langevin::{LangevinChains, LangevinConfig};
use boltzmann::train::ebm::{EbmConfig, train_ebm};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iters: usize = args[1].parse().unwrap();
    let step: f32 = args[2].parse().unwrap();
    let noise: f32 = args[3].parse().unwrap();
    let lr: f32 = args[4].parse().unwrap();
    let toy = Toy2d::from_name(&args[5]).unwrap();
    let data = toy.sample(4000, 1).unwrap();
    let mut e = MlpEnergy::new(2, &[64, 64], Activation::Swish, 2).unwrap();
    let lcfg = LangevinConfig { step, noise, grad_clip: None, clamp: Some((-7.0, 7.0)) };
    let bs: usize = args[6].parse().unwrap();
    let ks: usize = args[7].parse().unwrap();
    let cfg = EbmConfig {
        iterations: iters,
        batch_size: bs,
        langevin_steps: ks,
        langevin: lcfg,
        learning_rate: lr,
        init_range: (-7.0, 7.0),
        alpha: 0.1,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let buf = train_ebm(&mut e, &data, &cfg, |r| {
        if r.iteration % (iters / 5) == 0 {
            println!("it {} loss {:.3} E+ {:.3} E- {:.3}", r.iteration, r.loss, r.energy_data, r.energy_model)
        }
    })
    .unwrap();
    println!("train {:.1}s", t.elapsed().as_secs_f64());
    // Fresh chains from noise, long run.
    let mut ch = LangevinChains::uniform(1000, 2, -7.0, 7.0, 9).unwrap();
    ch.run(&e, &lcfg, 500).unwrap();
    let x = ch.states();
    let d2 = toy.sample(1000, 77).unwrap();
    let d3 = toy.sample(1000, 78).unwrap();
    let h = 0.5;
    let base = boltzmann::eval::mmd2(d2.features(), d3.features(), 2, h).unwrap();
    let fresh = boltzmann::eval::mmd2(x, d3.features(), 2, h).unwrap();
    let bl = buf.len();
    let bx: Vec<f32> = (bl - 1000..bl).flat_map(|i| buf.row(i).to_vec()).collect();
    let bm = boltzmann::eval::mmd2(&bx, d3.features(), 2, h).unwrap();
    println!("mmd2 data-data {base:.5}, fresh chains {fresh:.5}, buffer {bm:.5}");
    let cov: Vec<usize> = toy
        .mode_centres()
        .iter()
        .map(|c| x.chunks(2).filter(|p| (p[0] - c[0]).hypot(p[1] - c[1]) < 1.0).count())
        .collect();
    println!("mode counts {cov:?}");
    boltzmann::io::scatter_png(std::path::Path::new("/tmp/ebm.png"), x, None, -7.0, 7.0, 400).unwrap();
}
