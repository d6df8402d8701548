//! File formats: round trips, and every kind of bad file gives an error
//! (never a panic, never a half-written output).
#![cfg(feature = "io")]

use boltzmann::data::Dataset;
use boltzmann::io::{self, CsvLabels, datasets, model, safetensors::SafeTensors};
use boltzmann::train::{TrainConfig, Trainer};
use boltzmann::{Error, Rbm};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("boltzmann-io-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gz(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn idx_images(n: u32, r: u32, c: u32, data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    for x in [n, r, c] {
        b.extend_from_slice(&x.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn rbm_file_round_trip_and_layout() {
    let dir = tmp("model");
    let rbm = Rbm::random(12, 5, 0.3, 0.2, 1).unwrap();
    let p = dir.join("m.safetensors");
    io::save_rbm(&rbm, &p).unwrap();
    assert_eq!(io::load_rbm(&p).unwrap(), rbm);
    // The layout Python's safetensors expects: u64 header length, JSON with
    // dtype/shape/data_offsets, 8-byte aligned data start.
    let bytes = std::fs::read(&p).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + n) % 8, 0);
    let h: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(h["weights"]["dtype"], "F32");
    assert_eq!(h["weights"]["shape"], serde_json::json!([12, 5]));
    assert_eq!(h["__metadata__"]["kind"], "rbm");
    assert_eq!(h["__metadata__"]["format_version"], "1");
    let off = h["weights"]["data_offsets"].as_array().unwrap();
    let w0 = 8 + n + off[0].as_u64().unwrap() as usize;
    assert_eq!(f32::from_le_bytes(bytes[w0..w0 + 4].try_into().unwrap()), rbm.weights()[0]);
}

#[test]
fn corrupt_model_files_are_rejected() {
    let rbm = Rbm::random(6, 4, 0.3, 0.2, 1).unwrap();
    let good = {
        let dir = tmp("corrupt");
        let p = dir.join("m.safetensors");
        io::save_rbm(&rbm, &p).unwrap();
        std::fs::read(&p).unwrap()
    };
    // Every truncation.
    for cut in 0..good.len() {
        assert!(model::parse_rbm(&good[..cut]).is_err(), "truncated at {cut} accepted");
    }
    // Every single-bit flip anywhere in the file is an error (inside the
    // tensors and the metadata values: the checksum), never a panic or a
    // silently different model.
    for bit in 0..good.len() * 8 {
        let mut b = good.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(model::parse_rbm(&b).is_err(), "bit {bit} of byte {} flipped, file accepted", bit / 8);
    }
    let mut b = good.clone();
    let at = good.len() - 5;
    b[at] ^= 0x5A;
    let e = model::parse_rbm(&b).unwrap_err().to_string();
    assert!(e.contains("corrupt") && e.contains("checksum"), "{e}");
    // A file without a checksum (written by another tool) still loads.
    let mut st = SafeTensors::from_bytes(&good, "m").unwrap();
    let mut raw = st.to_bytes();
    let header_len = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(raw[8..8 + header_len].to_vec()).unwrap();
    let start = header.find(",\"checksum\":\"").or_else(|| header.find("\"checksum\":\"")).unwrap();
    let end = header[start..].find("\"checksum64:").unwrap() + start + "\"checksum64:".len() + 17;
    let without = format!("{}{}", &header[..start], &header[end..]).replace("{,", "{");
    let without = format!("{without:<width$}", width = header_len);
    raw.splice(8..8 + header_len, without.bytes());
    assert_eq!(model::parse_rbm(&raw).unwrap(), rbm, "{without}");
    st.metadata.clear();
    // Extra trailing bytes.
    let mut b = good.clone();
    b.push(0);
    assert!(model::parse_rbm(&b).is_err());
    // NaN weights.
    let mut st = SafeTensors::from_bytes(&good, "m").unwrap();
    let mut w = st.tensors["weights"].to_f32("w").unwrap();
    w[3] = f32::NAN;
    st.tensors.insert("weights".into(), io::safetensors::Tensor::f32(vec![6, 4], &w));
    let e = model::parse_rbm(&st.to_bytes()).unwrap_err();
    assert!(e.to_string().contains("non-finite"), "{e}");
    // Newer format version, wrong kind, other unit types, shape disagreement.
    let mut st = SafeTensors::from_bytes(&good, "m").unwrap();
    for (k, v, needle) in [
        ("format_version", "2", "newer"),
        ("kind", "dbn", "expected"),
        ("visible_units", "gaussian", "not supported"),
        ("n_hidden", "5", "shape"),
        ("format", "other", "not a boltzmann file"),
    ] {
        let old = st.metadata.insert(k.into(), v.into()).unwrap();
        let e = model::parse_rbm(&st.to_bytes()).unwrap_err().to_string();
        assert!(e.contains(needle), "{k}={v}: {e}");
        st.metadata.insert(k.into(), old);
    }
    assert!(model::parse_rbm(&st.to_bytes()).is_ok());
    // Missing file.
    // Missing file: the system's error is kept, with its kind.
    let e = io::load_rbm(std::path::Path::new("/nonexistent/m.safetensors")).unwrap_err();
    assert!(matches!(e, Error::Os { .. }), "{e:?}");
    assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
    let source = std::error::Error::source(&e).expect("an io::Error source");
    assert!(source.downcast_ref::<std::io::Error>().is_some());
    assert!(e.to_string().starts_with("/nonexistent/m.safetensors: "), "{e}");
}

#[test]
fn idx_reader_and_its_errors() {
    let dir = tmp("idx");
    let img = idx_images(2, 2, 3, &[0, 255, 128, 1, 2, 3, 255, 255, 0, 0, 0, 0]);
    let mut lab = vec![0, 0, 8, 1];
    lab.extend_from_slice(&2u32.to_be_bytes());
    lab.extend_from_slice(&[7, 3]);
    let (pi, pl) = (dir.join("img-ubyte.gz"), dir.join("lab-ubyte"));
    std::fs::write(&pi, gz(&img)).unwrap();
    std::fs::write(&pl, &lab).unwrap();
    let d = io::read_idx(&pi, Some(&pl)).unwrap();
    assert_eq!((d.len(), d.dim(), d.image_shape()), (2, 6, Some((2, 3))));
    assert_eq!(d.labels(), Some(&[7u8, 3][..]));
    assert_eq!(d.row(0)[1], 1.0);
    // Wrong magic, unsupported type, truncated, oversized claims, label count.
    let mut bad = img.clone();
    bad[0] = 1;
    assert!(datasets::parse_idx_images(&bad, "x").unwrap_err().to_string().contains("magic"));
    let mut bad = img.clone();
    bad[2] = 0x0D;
    assert!(datasets::parse_idx_images(&bad, "x").is_err());
    for cut in 0..img.len() {
        assert!(datasets::parse_idx_images(&img[..cut], "x").is_err());
    }
    let huge = idx_images(u32::MAX, u32::MAX, u32::MAX, &[1, 2, 3]);
    assert!(datasets::parse_idx_images(&huge, "x").is_err());
    assert!(datasets::parse_idx_images(&lab, "x").is_err(), "labels read as images");
    let mut lab3 = lab.clone();
    lab3[7] = 3;
    lab3.push(1);
    let pl3 = dir.join("lab3-ubyte");
    std::fs::write(&pl3, &lab3).unwrap();
    assert!(io::read_idx(&pi, Some(&pl3)).unwrap_err().to_string().contains("labels for"));
    // Corrupt gzip (the CRC catches what the inflater does not).
    let mut g = gz(&img);
    let l = g.len();
    g[l / 2] ^= 0xFF;
    assert!(datasets::maybe_gunzip(g, "x").is_err());
    let g = gz(&img);
    assert!(datasets::maybe_gunzip(g[..g.len() - 3].to_vec(), "x").is_err(), "truncated gzip");
}

#[test]
fn amat_csv_npy_readers() {
    let d = datasets::parse_amat(b"0 1 1\n1 0 0\n", "a").unwrap();
    assert_eq!((d.len(), d.dim()), (2, 3));
    assert!(datasets::parse_amat(b"0 1 1\n1 0\n", "a").unwrap_err().to_string().contains("line 2"));
    assert!(datasets::parse_amat(b"0 x 1\n", "a").is_err());
    assert!(datasets::parse_amat(b"", "a").is_err());
    assert!(datasets::parse_amat(b"0 nan 1\n", "a").is_err());

    let c =
        datasets::parse_csv(b"p1,p2,label\n0,255,3\n255,0,1\n", CsvLabels::Last, 1.0 / 255.0, "c").unwrap();
    assert_eq!(c.features(), &[0.0, 1.0, 1.0, 0.0]);
    assert_eq!(c.labels(), Some(&[3u8, 1][..]));
    assert!(datasets::parse_csv(b"1,2\n1,2,3\n", CsvLabels::None, 1.0, "c").is_err());
    assert!(datasets::parse_csv(b"1,2\n1,300\n", CsvLabels::Last, 1.0, "c").is_err());
    assert!(datasets::parse_csv(b"1,abc\n", CsvLabels::None, 1.0, "c").is_err());
    assert!(datasets::parse_csv(b"5\n", CsvLabels::Last, 1.0, "c").is_err());

    let npy = |descr: &str, shape: &str, data: &[u8]| {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    };
    let f: Vec<u8> = [0.0f32, 1.0, 1.0, 0.0, 0.5, 0.25].iter().flat_map(|x| x.to_le_bytes()).collect();
    let d = datasets::parse_npy(&npy("<f4", "(3, 2)", &f), "n").unwrap();
    assert_eq!((d.len(), d.dim()), (3, 2));
    let d = datasets::parse_npy(&npy("|u1", "(1, 2, 2)", &[0, 255, 255, 0]), "n").unwrap();
    assert_eq!(d.image_shape(), Some((2, 2)));
    assert_eq!(d.features(), &[0.0, 1.0, 1.0, 0.0]);
    assert!(datasets::parse_npy(&npy("<f4", "(3, 3)", &f), "n").is_err(), "size mismatch");
    assert!(datasets::parse_npy(&npy("<i8", "(1, 1)", &[0; 8]), "n").is_err(), "dtype");
    assert!(datasets::parse_npy(&npy("<f4", "(6,)", &f), "n").is_err(), "1-D");
    let mut fortran = npy("<f4", "(3, 2)", &f);
    let at = fortran.windows(5).position(|w| w == b"False").unwrap();
    fortran[at..at + 5].copy_from_slice(b"True ");
    assert!(datasets::parse_npy(&fortran, "n").unwrap_err().to_string().contains("Fortran"));
    assert!(datasets::parse_npy(b"\x93NUMPX", "n").is_err());
}

#[test]
fn embedded_data_is_what_the_licence_note_says() {
    let s = io::embedded_mnist().unwrap();
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (10_000, 2_000, 2_000));
    for d in [&s.train, &s.valid, &s.test] {
        assert_eq!(d.dim(), 784);
        assert_eq!(d.image_shape(), Some((28, 28)));
        d.check_binary().unwrap();
        assert!(d.labels().unwrap().iter().all(|&l| l < 10));
    }
    // MNIST's first training labels are 5 0 4 1 9; first test labels 7 2 1 0 4.
    assert_eq!(&s.train.labels().unwrap()[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&s.test.labels().unwrap()[..5], &[7, 2, 1, 0, 4]);
    let mean = s.train.features().iter().sum::<f32>() / s.train.features().len() as f32;
    assert!((0.10..0.16).contains(&mean), "mean pixel {mean}");
}

#[test]
fn checkpoints_round_trip_and_reject_damage() {
    let x: Vec<f32> = (0..40 * 9).map(|i| ((i * 7) % 5 == 0) as u8 as f32).collect();
    let data = Dataset::new(x, 9).unwrap();
    let cfg = TrainConfig::default().n_hidden(3).batch_size(8).epochs(2);
    let mut t = Trainer::new(cfg, &data).unwrap();
    t.run_epoch(&data, |_, _| {}).unwrap();
    let dir = tmp("ckpt");
    let p = dir.join("c.safetensors");
    io::save_checkpoint(t.state(), &p).unwrap();
    let back = io::load_checkpoint(&p).unwrap();
    assert_eq!(&back, t.state());
    let good = std::fs::read(&p).unwrap();
    for cut in (0..good.len()).step_by(7) {
        assert!(io::parse_checkpoint(&good[..cut], "c").is_err());
    }
    for i in (0..good.len()).step_by(3) {
        let mut b = good.clone();
        b[i] ^= 0xA5;
        assert!(io::parse_checkpoint(&b, "c").is_err(), "byte {i} damaged, checkpoint accepted");
    }
    // The data it was trained on is recorded; a consistent file with absurd
    // counters or an unknown SIMD path is refused.
    assert_eq!(back.data, Some(data.fingerprint()));
    let st = SafeTensors::from_bytes(&good, "c").unwrap();
    for (k, v, needle) in [
        ("isa", "bogus", "isa"),
        ("step", "18446744073709551615", "step"),
        ("epoch", "9", "epoch"),
        ("adam_t", "99", "adam_t"),
        ("data.checksum", "xyz", "data.checksum"),
        ("data.dim", "8", "data.dim"),
    ] {
        let mut st = st.clone();
        st.metadata.insert(k.into(), v.into());
        let e = io::parse_checkpoint(&st.to_bytes(), "c").unwrap_err().to_string();
        assert!(e.contains(needle), "{k}={v}: {e}");
    }
    // Resuming on other data is refused; on the same data it continues.
    let other = Dataset::new((0..40 * 9).map(|i| (i % 3 == 0) as u8 as f32).collect(), 9).unwrap();
    let e = Trainer::resume(back.clone(), &other).unwrap_err().to_string();
    assert!(e.contains("other data"), "{e}");
    assert!(Trainer::resume(back.clone(), &data).is_ok());
    // A deliberate change of data (`train --resume-anyway`): the run goes on,
    // and its next checkpoint, with the new data's fingerprint and fewer
    // updates per epoch than before, loads again.
    let small = data.subset(0..16).unwrap();
    let mut st = back;
    st.data = Some(small.fingerprint());
    let mut t = Trainer::from_state(st).unwrap();
    t.run_epoch(&small, |_, _| {}).unwrap();
    let again = io::parse_checkpoint(&io::checkpoint_bytes(t.state()), "c").unwrap();
    assert_eq!(again.data, Some(small.fingerprint()));
    // A checkpoint is not a model file, and vice versa.
    assert!(io::load_rbm(&p).unwrap_err().to_string().contains("expected"));
}

#[test]
fn atomic_writes_leave_old_or_new() {
    let dir = tmp("atomic");
    let p = dir.join("f.bin");
    io::write_atomic(&p, b"old").unwrap();
    io::write_atomic(&p, b"new contents").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"new contents");
    // An unwritable place: error, nothing left behind.
    let bad = dir.join("no/such/dir/f.bin");
    let e = io::write_atomic(&bad, b"x").unwrap_err();
    assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound), "{e:?}");
    assert!(e.to_string().contains("cannot write"), "{e}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
    // A directory is refused and stays; check_output says so before work.
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    assert!(io::write_atomic(&sub, b"x").unwrap_err().to_string().contains("is a directory"));
    assert!(io::check_output(&sub).is_err());
    assert!(sub.is_dir());
    assert!(io::check_output(&bad).is_err());
    assert!(io::check_output(&p).is_ok());
    // A temporary file of a process that has ended is removed by the next
    // write of the same output; one of a live process (this one) is not
    // touched by a check.
    let stale = dir.join(".f.bin.tmp-4000000000");
    std::fs::write(&stale, b"half").unwrap();
    io::write_atomic(&p, b"newer").unwrap();
    assert!(!stale.exists());
    // Links are followed: the target changes, the link stays a link.
    #[cfg(unix)]
    {
        let target = dir.join("target.bin");
        let link = dir.join("link.bin");
        std::os::unix::fs::symlink("target.bin", &link).unwrap();
        io::write_atomic(&link, b"through").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"through");
    }
    // A device is written in place, not replaced.
    if std::path::Path::new("/dev/null").exists() {
        io::write_atomic(std::path::Path::new("/dev/null"), b"gone").unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    }
}

#[test]
fn pictures() {
    let bytes = io::picture::grid_png_bytes(&[0.0, 0.5, 1.0, 0.25], 2, 2, 1, 1).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(io::picture::grid_png_bytes(&[0.0; 5], 2, 2, 1, 1).is_err());
    assert!(io::picture::grid_png_bytes(&[], 2, 2, 1, 1).is_err());
    assert!(io::picture::grid_png_bytes(&[0.0; 4], 0, 2, 1, 1).is_err());
    let rbm = Rbm::random(6, 3, 0.1, 0.0, 1).unwrap();
    let dir = tmp("png");
    assert!(io::filters_png(dir.join("f.png"), &rbm, 4, 4, 3, 3).is_err());
    io::filters_png(dir.join("f.png"), &rbm, 2, 3, 3, 3).unwrap();
    assert!(dir.join("f.png").exists());
}

#[test]
fn model_file_reads_and_writes_every_kind() {
    use boltzmann::energy::{Activation, MlpEnergy};
    use boltzmann::io::{DbnFile, EnergyModel, ModelFile};
    use boltzmann::model::{Dbn, GaussianRbm, UntiedDbn};
    let dir = tmp("modelfile");
    let r1 = Rbm::random(6, 4, 0.1, 0.0, 1).unwrap();
    let r2 = Rbm::random(4, 3, 0.1, 0.0, 2).unwrap();
    let dbn = Dbn::new(vec![r1.clone(), r2.clone()]).unwrap();
    let x: Vec<f32> = (0..60).map(|i| ((i * 5 + i / 6) % 3 == 0) as u8 as f32).collect();
    let data = Dataset::new(x, 6).unwrap();
    let mut trainer =
        Trainer::new(TrainConfig::default().n_hidden(3).batch_size(5).epochs(2), &data).unwrap();
    trainer.run_epoch(&data, |_, _| {}).unwrap();
    let files = vec![
        ModelFile::from(r1.clone()),
        ModelFile::from(DbnFile::Tied(dbn.clone())),
        ModelFile::from(DbnFile::Untied(UntiedDbn::from_tied(dbn))),
        ModelFile::from(EnergyModel::GaussianRbm(GaussianRbm::random(5, 3, 0.1, 1.0, 3).unwrap())),
        ModelFile::from(EnergyModel::Mlp(MlpEnergy::new(2, &[8], Activation::Swish, 4).unwrap())),
        ModelFile::from(trainer.state().clone()),
        ModelFile::from(
            boltzmann::model::ConvRbm::random(
                boltzmann::model::ConvShape {
                    height: 7,
                    width: 5,
                    channels: 2,
                    filters: 3,
                    filter_size: 2,
                    pool: 2,
                },
                0.1,
                -1.0,
                5,
            )
            .unwrap(),
        ),
    ];
    for f in &files {
        // Through bytes and through a file: the same value back.
        assert_eq!(&ModelFile::from_bytes(&f.to_bytes()).unwrap(), f, "{}", f.kind());
        let path = dir.join(format!("{}.safetensors", f.kind()));
        f.save(&path).unwrap();
        assert_eq!(&ModelFile::load(&path).unwrap(), f, "{}", f.kind());
    }
    // The same bytes as the per-kind writers.
    assert_eq!(files[0].to_bytes(), io::rbm_bytes(&r1));
    assert_eq!(io::parse_rbm(&files[0].to_bytes()).unwrap(), r1);
    // Bad input: not safetensors, another format, an unknown kind, a
    // corrupt tensor, a missing file, a directory as output.
    assert!(ModelFile::from_bytes(b"not safetensors").is_err());
    let mut st = SafeTensors::from_bytes(&files[0].to_bytes(), "m").unwrap();
    st.metadata.insert("kind".into(), "teapot".into());
    let e = ModelFile::from_bytes(&st.to_bytes()).unwrap_err().to_string();
    assert!(e.contains("unknown kind \"teapot\""), "{e}");
    st.metadata.insert("kind".into(), "rbm".into());
    st.metadata.insert("format".into(), "other".into());
    assert!(ModelFile::from_bytes(&st.to_bytes()).unwrap_err().to_string().contains("not a boltzmann file"));
    let mut bytes = files[0].to_bytes();
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    assert!(ModelFile::from_bytes(&bytes).is_err(), "a flipped bit passed the checksum");
    let e = ModelFile::load(dir.join("missing.safetensors")).unwrap_err();
    assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
    assert!(files[0].save(&dir).is_err());
    assert!(dir.is_dir());
}

#[test]
fn conv_rbm_files_round_trip_and_refuse_bad_contents() {
    use boltzmann::io::safetensors::{SafeTensors, Tensor};
    use boltzmann::model::{ConvRbm, ConvShape};
    let s = ConvShape { height: 8, width: 8, channels: 1, filters: 4, filter_size: 3, pool: 3 };
    let m = ConvRbm::random(s, 0.2, -1.5, 9).unwrap();
    let dir = tmp("conv");
    let path = dir.join("crbm.safetensors");
    io::save_conv_rbm(&m, &path).unwrap();
    assert_eq!(io::load_conv_rbm(&path).unwrap(), m);
    let bytes = io::conv_rbm_bytes(&m);
    let edit = |f: &dyn Fn(&mut SafeTensors)| {
        let mut st = SafeTensors::from_bytes(&bytes, "m").unwrap();
        st.metadata.remove("checksum");
        f(&mut st);
        io::parse_conv_rbm(&st.to_bytes()).unwrap_err().to_string()
    };
    // Pooling that does not tile the 6 × 6 detection maps.
    let e = edit(&|st| {
        st.metadata.insert("pool".into(), "4".into());
    });
    assert!(e.contains("tile"), "{e}");
    let e = edit(&|st| {
        st.metadata.insert("filters".into(), "5".into());
    });
    assert!(e.contains("shape"), "{e}");
    let e = edit(&|st| {
        st.metadata.insert("filter_size".into(), "three".into());
    });
    assert!(e.contains("bad filter_size"), "{e}");
    let e = edit(&|st| {
        st.tensors.insert("hidden_bias".into(), Tensor::f32(vec![4], &[0.0, f32::NAN, 0.0, 0.0]));
    });
    assert!(e.contains("not finite") || e.contains("NaN") || e.contains("finite"), "{e}");
    let e = edit(&|st| {
        st.tensors.remove("visible_bias");
    });
    assert!(e.contains("visible_bias"), "{e}");
    // Another kind of file.
    let rbm = Rbm::random(6, 4, 0.1, 0.0, 1).unwrap();
    let e = io::parse_conv_rbm(&io::rbm_bytes(&rbm)).unwrap_err().to_string();
    assert!(e.contains("expected a \"conv-rbm\""), "{e}");
    assert!(io::load_conv_rbm(dir.join("missing")).is_err());
}
