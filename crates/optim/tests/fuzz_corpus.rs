//! Every committed fuzz corpus file of the optimizer-state target, replayed
//! through the target's own entry point (`fuzz/entries/optim_state.rs`): each
//! must end in `Ok` or `Err` and pass the entry's checks, never panic. Runs
//! without the fuzzer, in a second or so.

use std::path::PathBuf;

#[path = "../../../fuzz/entries/optim_state.rs"]
mod entry;

#[test]
fn optim_state_corpus_replays_without_panics() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/optim_state"
    ));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    let scratch = std::env::temp_dir().join(format!(
        "tapegrad-optim-fuzz-corpus-{}.bin",
        std::process::id()
    ));
    for path in &files {
        let bytes = std::fs::read(path).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| entry::run(&bytes, &scratch));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
    let _ = std::fs::remove_file(&scratch);
}
