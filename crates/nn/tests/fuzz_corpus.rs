//! Every committed fuzz corpus file of the safetensors target, replayed through
//! the target's own entry point (`fuzz/entries/safetensors.rs`): each must end
//! in `Ok` or `Err` and pass the entry's checks, never panic. Runs without the
//! fuzzer, in a second or so.

use std::path::PathBuf;

#[path = "../../../fuzz/entries/safetensors.rs"]
mod entry;

#[test]
fn safetensors_corpus_replays_without_panics() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/safetensors"
    ));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    let scratch = std::env::temp_dir().join(format!(
        "tapegrad-nn-fuzz-corpus-{}.safetensors",
        std::process::id()
    ));
    for path in &files {
        let bytes = std::fs::read(path).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| entry::run(&bytes, &scratch));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
    let _ = std::fs::remove_file(&scratch);
}
