//! Every committed input of the optimizer-state fuzz target (its corpus and the
//! crashes it found), replayed through the target's own entry point
//! (`fuzz/entries/optim_state.rs`): each must end in `Ok` or `Err` and pass the
//! entry's checks, never panic. Runs without the fuzzer, in well under a second.

#[path = "../../../fuzz/entries/optim_state.rs"]
mod entry;
#[path = "../../../fuzz/entries/replay.rs"]
mod replay;

#[test]
fn optim_state_inputs_replay_without_panics() {
    let fuzz = replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"));
    let scratch = std::env::temp_dir().join(format!(
        "tapegrad-optim-fuzz-replay-{}.bin",
        std::process::id()
    ));
    for (path, bytes) in replay::inputs(&fuzz, "optim_state") {
        let outcome = std::panic::catch_unwind(|| entry::run(&bytes, &scratch));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
    let _ = std::fs::remove_file(&scratch);
}
