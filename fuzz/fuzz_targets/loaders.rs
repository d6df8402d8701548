//! No-panic: every file reader on arbitrary bytes returns Ok or Err. The
//! first byte picks the reader so one corpus covers them all; the saved
//! corpus is replayed on stable Rust by `tests/fuzz_regressions.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boltzmann_fuzz_loaders::run(data);
});

mod boltzmann_fuzz_loaders {
    include!("../../tests/common/fuzz_loaders.rs");
}
