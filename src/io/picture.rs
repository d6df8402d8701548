//! PNG pictures: grids of images (samples) and of RBM filters.

use super::{io_err, write_atomic};
use crate::error::{Error, Result};
use crate::model::Rbm;
use std::path::Path;

/// Encodes a grayscale grid of `n` images of `rows × cols` (values in [0, 1],
/// clamped; row-major, image after image), `grid_cols` images per row of the
/// grid, 1-pixel gray borders, each pixel drawn as `zoom × zoom`.
///
/// # Errors
/// [`Error::ShapeMismatch`] / [`Error::InvalidParam`] for inconsistent sizes.
pub fn grid_png_bytes(
    images: &[f32],
    rows: usize,
    cols: usize,
    grid_cols: usize,
    zoom: usize,
) -> Result<Vec<u8>> {
    let per = rows
        .checked_mul(cols)
        .filter(|&p| p > 0)
        .ok_or(Error::InvalidParam { name: "image shape", reason: format!("{rows} × {cols}") })?;
    if images.is_empty() || !images.len().is_multiple_of(per) {
        return Err(Error::ShapeMismatch {
            what: "images (a multiple of rows × cols)",
            expected: per,
            got: images.len(),
        });
    }
    if grid_cols == 0 || zoom == 0 || zoom > 16 {
        return Err(Error::InvalidParam {
            name: "grid", reason: "grid_cols ≥ 1 and zoom in 1..=16".into()
        });
    }
    let n = images.len() / per;
    let gc = grid_cols.min(n);
    let gr = n.div_ceil(gc);
    let (cw, ch) = (cols * zoom + 1, rows * zoom + 1);
    let (w, h) = (gc * cw + 1, gr * ch + 1);
    if (w as u64) * (h as u64) > 1 << 28 {
        return Err(Error::InvalidParam { name: "grid", reason: format!("{w} × {h} pixels is too large") });
    }
    let mut px = vec![96u8; w * h];
    for (k, img) in images.chunks_exact(per).enumerate() {
        let (gy, gx) = (k / gc, k % gc);
        for y in 0..rows * zoom {
            for x in 0..cols * zoom {
                let v = img[(y / zoom) * cols + x / zoom];
                let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
                px[(gy * ch + 1 + y) * w + gx * cw + 1 + x] = (v * 255.0).round() as u8;
            }
        }
    }
    encode(&px, w, h, png::ColorType::Grayscale)
}

/// Writes [`grid_png_bytes`] to `path` atomically.
///
/// # Errors
/// As [`grid_png_bytes`], plus [`Error::Io`].
pub fn grid_png(
    path: impl AsRef<Path>,
    images: &[f32],
    rows: usize,
    cols: usize,
    grid_cols: usize,
    zoom: usize,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = grid_png_bytes(images, rows, cols, grid_cols, zoom)?;
    write_atomic(path, &bytes)
}

/// The weights of the first `max_units` hidden units as images
/// (`n_visible = rows × cols`), each scaled to its own min–max range, in a
/// grid of `grid_cols` columns.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `rows × cols != n_visible`; [`Error::Io`].
pub fn filters_png(
    path: impl AsRef<Path>,
    rbm: &Rbm,
    rows: usize,
    cols: usize,
    max_units: usize,
    grid_cols: usize,
) -> Result<()> {
    let path = path.as_ref();
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    if rows * cols != d {
        return Err(Error::ShapeMismatch {
            what: "image shape (rows × cols = n_visible)",
            expected: d,
            got: rows * cols,
        });
    }
    let units = max_units.min(h);
    if units == 0 {
        return Err(io_err(path, "no hidden units to draw"));
    }
    let mut imgs = vec![0.0f32; units * d];
    for j in 0..units {
        let col: Vec<f32> = (0..d).map(|i| rbm.weights()[i * h + j]).collect();
        let (lo, hi) = col.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        let span = if hi > lo { hi - lo } else { 1.0 };
        for (o, &x) in imgs[j * d..(j + 1) * d].iter_mut().zip(&col) {
            *o = (x - lo) / span;
        }
    }
    grid_png(path, &imgs, rows, cols, grid_cols, 2)
}

/// A 2-D picture: `density` (a `size × size` grid, row 0 at the top, any
/// non-negative scale; drawn as grey levels, square-root scaled) under the
/// `points` (`n × 2`, drawn as red dots), both over the square
/// `[lo, hi]²` (`x` to the right, `y` up). Points outside are skipped.
///
/// # Errors
/// [`Error::InvalidParam`] for a size outside 16..=2048 or `lo ≥ hi`,
/// [`Error::ShapeMismatch`] for odd-length points or a density of another
/// size; [`Error::Io`].
pub fn scatter_png(
    path: impl AsRef<Path>,
    points: &[f32],
    density: Option<&[f64]>,
    lo: f32,
    hi: f32,
    size: usize,
) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &scatter_png_bytes(points, density, lo, hi, size)?)
}

/// The bytes [`scatter_png`] writes.
///
/// # Errors
/// As [`scatter_png`] (without the file errors).
pub fn scatter_png_bytes(
    points: &[f32],
    density: Option<&[f64]>,
    lo: f32,
    hi: f32,
    size: usize,
) -> Result<Vec<u8>> {
    if !((16..=2048).contains(&size) && lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(Error::InvalidParam {
            name: "picture",
            reason: format!("size {size}, range [{lo}, {hi}]"),
        });
    }
    if !points.len().is_multiple_of(2) {
        return Err(Error::ShapeMismatch {
            what: "points (n × 2)",
            expected: points.len() + 1,
            got: points.len(),
        });
    }
    let mut px = vec![255u8; size * size * 3];
    if let Some(d) = density {
        crate::kernels::check_len("density (size × size)", size * size, d.len())?;
        let top = d.iter().copied().filter(|v| v.is_finite()).fold(0.0f64, f64::max);
        if top > 0.0 {
            for (p, &v) in px.chunks_exact_mut(3).zip(d) {
                let g = if v.is_finite() && v > 0.0 { (v / top).sqrt() } else { 0.0 };
                let c = (255.0 - 200.0 * g).round() as u8;
                p.copy_from_slice(&[c, c, c]);
            }
        }
    }
    let scale = size as f32 / (hi - lo);
    for p in points.chunks_exact(2) {
        let (x, y) = ((p[0] - lo) * scale, (hi - p[1]) * scale);
        if !(x >= 0.0 && y >= 0.0 && x < size as f32 && y < size as f32) {
            continue;
        }
        let (cx, cy) = (x as usize, y as usize);
        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let (yy, xx) = (cy + dy, cx + dx);
            if yy < size && xx < size {
                px[(yy * size + xx) * 3..(yy * size + xx) * 3 + 3].copy_from_slice(&[200, 30, 30]);
            }
        }
    }
    encode(&px, size, size, png::ColorType::Rgb)
}

/// One line of a [`curves_png`] panel: a value per epoch (NaN where there
/// is none) in an RGB colour.
#[derive(Debug, Clone, Copy)]
pub struct Curve<'a> {
    /// Values, one per epoch.
    pub values: &'a [f64],
    /// Line colour.
    pub color: [u8; 3],
}

/// Learning curves: one panel per element of `panels`, stacked top to
/// bottom, each `width × panel_height` pixels with its own vertical range
/// (the finite values of its curves, bottom = lowest), epochs left to
/// right. Written atomically.
///
/// # Errors
/// As [`curves_png_bytes`], and [`Error::Io`].
pub fn curves_png(
    path: impl AsRef<Path>,
    panels: &[Vec<Curve<'_>>],
    width: usize,
    panel_height: usize,
) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &curves_png_bytes(panels, width, panel_height)?)
}

/// The bytes [`curves_png`] writes.
///
/// # Errors
/// [`Error::InvalidParam`] for no panels, sizes outside 32..=4096, or more
/// than 64 panels.
pub fn curves_png_bytes(panels: &[Vec<Curve<'_>>], width: usize, panel_height: usize) -> Result<Vec<u8>> {
    if panels.is_empty()
        || panels.len() > 64
        || !(32..=4096).contains(&width)
        || !(32..=4096).contains(&panel_height)
    {
        return Err(Error::InvalidParam {
            name: "picture",
            reason: format!("{} panels of {width}×{panel_height}", panels.len()),
        });
    }
    let height = panel_height * panels.len();
    let mut px = vec![255u8; width * height * 3];
    let mut put = |x: i64, y: i64, c: [u8; 3]| {
        if x >= 0 && y >= 0 && (x as usize) < width && (y as usize) < height {
            let i = (y as usize * width + x as usize) * 3;
            px[i..i + 3].copy_from_slice(&c);
        }
    };
    let m = 6i64; // margin
    for (p, curves) in panels.iter().enumerate() {
        let (top, bottom) = ((p * panel_height) as i64 + m, ((p + 1) * panel_height) as i64 - m);
        let (left, right) = (m, width as i64 - m);
        for x in left..=right {
            put(x, top, [190, 190, 190]);
            put(x, bottom, [190, 190, 190]);
        }
        for y in top..=bottom {
            put(left, y, [190, 190, 190]);
            put(right, y, [190, 190, 190]);
        }
        let finite = curves.iter().flat_map(|c| c.values.iter().copied()).filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        if !lo.is_finite() {
            continue;
        }
        let span = if hi > lo { hi - lo } else { 1.0 };
        for c in curves {
            let n = c.values.len();
            let at = |i: usize| {
                let x = left
                    + 2
                    + ((right - left - 4) as f64 * if n > 1 { i as f64 / (n - 1) as f64 } else { 0.5 })
                        as i64;
                let y = bottom - 2 - ((bottom - top - 4) as f64 * (c.values[i] - lo) / span) as i64;
                (x, y)
            };
            let mut prev: Option<(i64, i64)> = None;
            for i in 0..n {
                if !c.values[i].is_finite() {
                    prev = None;
                    continue;
                }
                let (x1, y1) = at(i);
                let (x0, y0) = prev.unwrap_or((x1, y1));
                let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
                for s in 0..=steps {
                    let x = x0 + (x1 - x0) * s / steps;
                    let y = y0 + (y1 - y0) * s / steps;
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        put(x + dx, y + dy, c.color);
                    }
                }
                prev = Some((x1, y1));
            }
        }
    }
    encode(&px, width, height, png::ColorType::Rgb)
}

/// 8-bit PNG bytes of `px` (`w × h` pixels of `color`'s channels).
fn encode(px: &[u8], w: usize, h: usize, color: png::ColorType) -> Result<Vec<u8>> {
    let bad = |e: png::EncodingError| Error::InvalidParam { name: "png", reason: e.to_string() };
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().map_err(bad)?.write_image_data(px).map_err(bad)?;
    }
    Ok(out)
}
