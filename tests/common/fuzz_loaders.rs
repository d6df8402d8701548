// Shared by fuzz/fuzz_targets/loaders.rs and tests/fuzz_regressions.rs
// feeds bytes to one of the file parsers, chosen by the first byte.
// Any outcome but a panic is fine.

#[allow(dead_code)]
pub(crate) fn run(data: &[u8]) {
    use boltzmann::io::{self, CsvLabels, datasets, model, safetensors::SafeTensors};
    let Some((&sel, rest)) = data.split_first() else { return };
    match sel % 10 {
        0 => drop(datasets::parse_idx_images(rest, "f")),
        1 => drop(datasets::parse_idx_labels(rest, "f")),
        2 => drop(datasets::parse_amat(rest, "f")),
        3 => drop(datasets::parse_csv(rest, CsvLabels::Last, 1.0, "f")),
        4 => drop(datasets::parse_npy(rest, "f")),
        5 => drop(datasets::parse_bzds(rest, "f")),
        6 => drop(SafeTensors::from_bytes(rest, "f")),
        7 => drop(model::parse_rbm(rest)),
        8 => drop(model::parse_any_dbn(rest)),
        _ => {
            // The other safetensors-based readers: training files,
            // continuous and convolutional models, and the reader of any kind.
            drop(io::parse_checkpoint(rest, "f"));
            drop(io::parse_energy_model(rest));
            drop(io::parse_conv_rbm(rest));
            drop(io::parse_conv_dbn(rest));
            drop(io::parse_conv_checkpoint(rest));
            drop(io::parse_conv_dbn_checkpoint(rest));
            drop(io::ModelFile::from_bytes(rest));
        }
    }
}
