//! The MLP energy: forward pass and both gradients (inputs and parameters)
//! against an f64 reference and its finite differences, for both
//! activations and several depths; thread-count independence; bad input.

use boltzmann::energy::{Activation, Energy, Mlp, MlpEnergy, TrainableEnergy, Workspace};

fn act(a: Activation, z: f64) -> f64 {
    let s = 1.0 / (1.0 + (-z).exp());
    match a {
        Activation::Softplus => {
            if z > 30.0 {
                z
            } else {
                z.exp().ln_1p()
            }
        }
        Activation::Swish => z * s,
    }
}

/// The network's scalar output for one row, in f64.
fn reference(sizes: &[usize], a: Activation, p: &[f64], x: &[f64]) -> f64 {
    let mut cur = x.to_vec();
    let mut off = 0;
    for l in 0..sizes.len() - 1 {
        let (fi, fo) = (sizes[l], sizes[l + 1]);
        let (w, b) = (&p[off..off + fi * fo], &p[off + fi * fo..off + fi * fo + fo]);
        off += fi * fo + fo;
        let mut next: Vec<f64> =
            (0..fo).map(|j| b[j] + (0..fi).map(|i| cur[i] * w[i * fo + j]).sum::<f64>()).collect();
        if l + 2 < sizes.len() {
            next.iter_mut().for_each(|v| *v = act(a, *v));
        }
        cur = next;
    }
    cur[0]
}

fn fd(f: &dyn Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            a[i] += h;
            b[i] -= h;
            (f(&a) - f(&b)) / (2.0 * h)
        })
        .collect()
}

#[test]
fn mlp_energy_gradients_match_finite_differences() {
    let x: Vec<f32> = vec![0.3, -1.2, 0.8, 2.0, -0.4, 1.1, 0.0, -2.5, 0.7];
    for a in [Activation::Softplus, Activation::Swish] {
        for hidden in [vec![], vec![7], vec![6, 5]] {
            let e = MlpEnergy::new(3, &hidden, a, 5).unwrap();
            let sizes = e.mlp().sizes().to_vec();
            let p: Vec<f64> = e.params().iter().map(|&v| v as f64).collect();
            let mut ws = Workspace::default();
            let (mut en, mut g) = (vec![0.0f64; 3], vec![0.0f32; 9]);
            e.energy_grad(&x, &mut en, &mut g, &mut ws).unwrap();
            for r in 0..3 {
                let row: Vec<f64> = x[r * 3..r * 3 + 3].iter().map(|&v| v as f64).collect();
                let want = reference(&sizes, a, &p, &row);
                assert!(
                    (en[r] - want).abs() < 1e-5 * (1.0 + want.abs()),
                    "{a:?} {hidden:?}: E {} vs {want}",
                    en[r]
                );
                let num = fd(&|v| reference(&sizes, a, &p, v), &row, 1e-5);
                for (i, (&gv, &nv)) in g[r * 3..r * 3 + 3].iter().zip(&num).enumerate() {
                    assert!(
                        (gv as f64 - nv).abs() < 1e-4 * (1.0 + nv.abs()),
                        "{a:?} {hidden:?} ∇x[{r},{i}]: {gv} vs {nv}"
                    );
                }
            }
            let mut g2 = vec![0.0f32; 9];
            e.grad(&x, &mut g2, &mut ws).unwrap();
            assert_eq!(g, g2, "grad alone");
            // Σ coef·∇θE against differences in every parameter.
            let coef = [0.5f32, -1.0, 2.0];
            let mut gp = vec![0.0f64; e.n_params()];
            e.add_param_grad(&x, &coef, &mut gp, &mut ws).unwrap();
            let total = |pp: &[f64]| -> f64 {
                (0..3)
                    .map(|r| {
                        let row: Vec<f64> = x[r * 3..r * 3 + 3].iter().map(|&v| v as f64).collect();
                        coef[r] as f64 * reference(&sizes, a, pp, &row)
                    })
                    .sum()
            };
            let num = fd(&total, &p, 1e-5);
            for (i, (&gv, &nv)) in gp.iter().zip(&num).enumerate() {
                assert!((gv - nv).abs() < 1e-4 * (1.0 + nv.abs()), "{a:?} {hidden:?} ∇θ[{i}]: {gv} vs {nv}");
            }
            // Accumulates.
            e.add_param_grad(&x, &coef, &mut gp, &mut ws).unwrap();
            assert!((gp[0] - 2.0 * num[0]).abs() < 2e-4 * (1.0 + num[0].abs()));
        }
    }
}

#[test]
fn mlp_is_thread_count_independent() {
    let e = MlpEnergy::new(20, &[64, 64], Activation::Swish, 3).unwrap();
    let x: Vec<f32> = (0..20 * 333).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
    let coef: Vec<f32> = (0..333).map(|i| (i % 7) as f32 - 3.0).collect();
    let run = || {
        let mut ws = Workspace::default();
        let (mut en, mut g) = (vec![0.0f64; 333], vec![0.0f32; 20 * 333]);
        e.energy_grad(&x, &mut en, &mut g, &mut ws).unwrap();
        let mut gp = vec![0.0f64; e.n_params()];
        e.add_param_grad(&x, &coef, &mut gp, &mut ws).unwrap();
        (en, g, gp)
    };
    let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
    let one = pool(1).install(run);
    for t in [2, 3] {
        assert_eq!(pool(t).install(run), one, "{t} threads");
    }
}

#[test]
fn mlp_bad_input() {
    assert!(Mlp::new(&[3], Activation::Swish, 1).is_err());
    assert!(Mlp::new(&[3, 0, 1], Activation::Swish, 1).is_err());
    assert!(Mlp::new(&[1 << 20, 1 << 20, 1], Activation::Swish, 1).is_err());
    assert!(Mlp::from_params(&[2, 1], Activation::Swish, vec![0.0; 2]).is_err());
    assert!(Mlp::from_params(&[2, 1], Activation::Swish, vec![0.0, f32::NAN, 0.0]).is_err());
    assert!(MlpEnergy::from_mlp(Mlp::new(&[2, 2], Activation::Softplus, 1).unwrap()).is_err());
    let mut e = MlpEnergy::new(2, &[4], Activation::Softplus, 1).unwrap();
    let mut ws = Workspace::default();
    assert!(e.energy(&[0.0; 3], &mut [0.0; 1], &mut ws).is_err());
    assert!(e.grad(&[0.0; 4], &mut [0.0; 2], &mut ws).is_err());
    assert!(e.add_param_grad(&[0.0; 4], &[1.0], &mut vec![0.0; e.n_params()], &mut ws).is_err());
    assert!(e.set_params(&[0.0; 3]).is_err());
    assert_eq!(Activation::from_name("silu"), Some(Activation::Swish));
    assert_eq!(Activation::from_name("relu"), None);
}
