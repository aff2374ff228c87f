//! A safetensors file loaded into a model with `load_safetensors`.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

#[path = "../entries/safetensors.rs"]
mod entry;

/// The file each input is written to, one per fuzzing process.
static SCRATCH: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!(
        "tapegrad-fuzz-safetensors-{}.bin",
        std::process::id()
    ))
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::run(data, &SCRATCH));
