//! Replays the saved fuzz corpus of the `loaders` target (and any crash
//! cases saved next to it) through every parser on stable Rust: none may
//! panic. Add new crash inputs to `tests/fuzz-corpus/loaders/`.
#![cfg(feature = "io")]

mod body {
    include!("common/fuzz_loaders.rs");
}

#[test]
fn saved_fuzz_inputs_do_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus/loaders");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("corpus directory") {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        // As saved, and with every selector byte, so each input reaches
        // every parser.
        for sel in 0..10u8 {
            let mut b = bytes.clone();
            if b.is_empty() {
                b.push(sel);
            } else {
                b[0] = sel;
            }
            body::run(&b);
        }
        body::run(&bytes);
        n += 1;
    }
    assert!(n >= 10, "only {n} corpus files in {}", dir.display());
}
