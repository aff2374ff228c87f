//! Every committed input of the IDX and LIBSVM fuzz targets (their corpora and
//! the crashes they found), replayed through the targets' own entry points
//! (`fuzz/entries/`): each must end in `Ok` or `Err` and pass the entries'
//! checks, never panic. Runs without the fuzzer, in well under a second.

#[path = "../../../fuzz/entries/idx.rs"]
mod idx_entry;
#[path = "../../../fuzz/entries/libsvm.rs"]
mod libsvm_entry;
#[path = "../../../fuzz/entries/replay.rs"]
mod replay;

fn replay(target: &str, entry: fn(&[u8])) {
    let fuzz = replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"));
    for (path, bytes) in replay::inputs(&fuzz, target) {
        let outcome = std::panic::catch_unwind(|| entry(&bytes));
        assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
    }
}

#[test]
fn idx_raw_inputs_replay_without_panics() {
    replay("idx_raw", idx_entry::raw);
}

#[test]
fn idx_gzip_inputs_replay_without_panics() {
    replay("idx_gzip", idx_entry::gzip);
}

#[test]
fn libsvm_inputs_replay_without_panics() {
    replay("libsvm", libsvm_entry::run);
}
