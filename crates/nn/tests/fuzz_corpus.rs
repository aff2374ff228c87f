//! Every committed input of the safetensors fuzz target (its corpus and the
//! crashes it found), replayed through the target's own entry point
//! (`fuzz/entries/safetensors.rs`): each must end in `Ok` or `Err` and pass the
//! entry's checks, never panic. Runs without the fuzzer, in well under a second.

#[path = "../../../fuzz/entries/safetensors.rs"]
mod entry;
#[path = "../../../fuzz/entries/replay.rs"]
mod replay;

#[test]
fn safetensors_inputs_replay_without_panics() {
    let fuzz = replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"));
    let scratch = std::env::temp_dir().join(format!(
        "tapegrad-nn-fuzz-replay-{}.safetensors",
        std::process::id()
    ));
    for (path, bytes) in replay::inputs(&fuzz, "safetensors") {
        let outcome = std::panic::catch_unwind(|| entry::run(&bytes, &scratch));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
    let _ = std::fs::remove_file(&scratch);
}
