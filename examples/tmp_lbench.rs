use boltzmann::energy::{Energy, Workspace};
use boltzmann::model::GaussianRbm;
use boltzmann::sampler::langevin::{LangevinChains, LangevinConfig};
fn main() {
    let m = GaussianRbm::random(784, 500, 0.01, 1.0, 1).unwrap();
    let mut ch = LangevinChains::uniform(1000, 784, 0.0, 1.0, 2).unwrap();
    let cfg = LangevinConfig::ula(1e-2);
    ch.run(&m, &cfg, 5).unwrap();
    for _ in 0..3 {
        let t = std::time::Instant::now();
        ch.run(&m, &cfg, 50).unwrap();
        let s = t.elapsed().as_secs_f64();
        println!("step: {:.2} ms, {:.1} steps/s", s / 50.0 * 1e3, 50.0 / s);
    }
    // Breakdown: grad alone.
    let mut ws = Workspace::default();
    let mut g = vec![0.0f32; 784000];
    let t = std::time::Instant::now();
    for _ in 0..50 {
        m.grad(ch.states(), &mut g, &mut ws).unwrap();
    }
    println!("grad only: {:.2} ms", t.elapsed().as_secs_f64() / 50.0 * 1e3);
    let mut st = boltzmann::rng::chain_streams(1, 1000).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..50 {
        boltzmann::rng::fill_normal(&mut st, 784, &mut g).unwrap();
    }
    println!("normals (1 thread): {:.2} ms", t.elapsed().as_secs_f64() / 50.0 * 1e3);
    let (a, w) = (vec![0.5f32; 784000], m.weights().to_vec());
    let mut c = vec![0.0f32; 500000];
    let t = std::time::Instant::now();
    for _ in 0..50 {
        boltzmann::kernels::gemm::par_gemm_nn(1000, 784, 500, &a, &w, &mut c, 500).unwrap();
    }
    println!("gemm nn: {:.2} ms", t.elapsed().as_secs_f64() / 50.0 * 1e3);
    let mut c2 = vec![0.0f32; 784000];
    let t = std::time::Instant::now();
    for _ in 0..50 {
        boltzmann::kernels::gemm::par_gemm_nt(1000, 500, 784, &c, &w, &mut c2, 500).unwrap();
    }
    println!("gemm nt: {:.2} ms", t.elapsed().as_secs_f64() / 50.0 * 1e3);
}
