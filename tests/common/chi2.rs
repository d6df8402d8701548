// Chi-square goodness of fit against an exact distribution; included by
// the sampler tests with `include!`.

/// Upper α = 0.001 quantile of χ²(df), Wilson–Hilferty approximation
/// (accurate to < 1% for df ≥ 10).
fn chi2_critical_001(df: usize) -> f64 {
    let z = 3.090_232; // Φ⁻¹(0.999)
    let k = df as f64;
    let a = 2.0 / (9.0 * k);
    k * (1.0 - a + z * a.sqrt()).powi(3)
}

/// Pearson's statistic with cells of expected count < 5 pooled; returns
/// (statistic, degrees of freedom).
fn chi_square(counts: &[u64], p: &[f64], n: u64) -> (f64, usize) {
    let mut stat = 0.0;
    let mut cells = 0usize;
    let (mut pool_obs, mut pool_exp) = (0.0, 0.0);
    for (&c, &pi) in counts.iter().zip(p) {
        let e = pi * n as f64;
        if e < 5.0 {
            pool_obs += c as f64;
            pool_exp += e;
        } else {
            stat += (c as f64 - e).powi(2) / e;
            cells += 1;
        }
    }
    if pool_exp > 0.0 {
        stat += (pool_obs - pool_exp).powi(2) / pool_exp.max(1e-300);
        cells += 1;
    }
    (stat, cells - 1)
}
