//! Every committed fuzz corpus file of the checkpoint target, replayed through
//! the target's own entry point (`fuzz/entries/checkpoint.rs`): each must end
//! in `Ok` or `Err` and pass the entry's checks, never panic. Runs without the
//! fuzzer.

use std::path::PathBuf;

#[path = "../../../fuzz/entries/checkpoint.rs"]
mod entry;

#[test]
fn checkpoint_corpus_replays_without_panics() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/checkpoint"
    ));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    let base =
        std::env::temp_dir().join(format!("tapegrad-train-fuzz-corpus-{}", std::process::id()));
    let template = entry::template(&base.join("template"));
    let scratch = base.join("input");
    for path in &files {
        let bytes = std::fs::read(path).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| entry::run(&bytes, &template, &scratch));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// The template's own files, given back unchanged under every option, resume:
/// the entry reaches the readers. (Resealed, `checkpoint.txt` is given without
/// its last line, which the entry appends.)
#[test]
fn the_template_files_pass_through_the_entry() {
    let base =
        std::env::temp_dir().join(format!("tapegrad-train-fuzz-seeds-{}", std::process::id()));
    let template = entry::template(&base.join("template"));
    for (i, name) in entry::FILES.iter().enumerate() {
        let mut input = vec![i as u8];
        input.extend(std::fs::read(template.join(name)).unwrap());
        assert!(entry::run(&input, &template, &base.join("input")), "{name}");
        input[0] |= 4;
        if *name == "checkpoint.txt" {
            let text = String::from_utf8(input[1..].to_vec()).unwrap();
            let body_end = text.trim_end().rfind('\n').unwrap() + 1;
            input.truncate(1 + body_end);
        }
        assert!(
            entry::run(&input, &template, &base.join("input")),
            "{name}, resealed"
        );
    }
    let _ = std::fs::remove_dir_all(&base);
}
