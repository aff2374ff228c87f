//! Every committed fuzz corpus file of the IDX and LIBSVM targets, replayed
//! through the targets' own entry points (`fuzz/entries/`): each must end in
//! `Ok` or `Err` and pass the entries' checks, never panic. Runs without the
//! fuzzer, in a second or so.

use std::path::PathBuf;

#[path = "../../../fuzz/entries/idx.rs"]
mod idx_entry;
#[path = "../../../fuzz/entries/libsvm.rs"]
mod libsvm_entry;

/// The files of `fuzz/corpus/<target>/`, sorted; fails when there are none.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus")).join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a corpus file");
            (path, bytes)
        })
        .collect()
}

fn replay(target: &str, entry: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(|| entry(&bytes));
        assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
    }
}

#[test]
fn idx_raw_corpus_replays_without_panics() {
    replay("idx_raw", idx_entry::raw);
}

#[test]
fn idx_gzip_corpus_replays_without_panics() {
    replay("idx_gzip", idx_entry::gzip);
}

#[test]
fn libsvm_corpus_replays_without_panics() {
    replay("libsvm", libsvm_entry::run);
}
