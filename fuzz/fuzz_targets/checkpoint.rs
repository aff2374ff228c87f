//! A training checkpoint resumed with `find_checkpoint` and `Checkpoint::restore`.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

#[path = "../entries/checkpoint.rs"]
mod entry;

/// The template checkpoint and the directory each input is written to, one
/// pair per fuzzing process.
static DIRS: LazyLock<(PathBuf, PathBuf)> = LazyLock::new(|| {
    let base = std::env::temp_dir().join(format!("tapegrad-fuzz-checkpoint-{}", std::process::id()));
    let template = entry::template(&base.join("template"));
    (template, base.join("input"))
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    entry::run(data, &DIRS.0, &DIRS.1);
});
