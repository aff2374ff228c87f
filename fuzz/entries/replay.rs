//! The committed inputs of a fuzz target, for the replay tests in the crates:
//! its corpus (`fuzz/corpus/<target>/`, which `cargo fuzz cmin` rewrites) and
//! the inputs of the crashes it found (`fuzz/regressions/<target>/`, kept
//! as they are).

use std::path::{Path, PathBuf};

/// The `fuzz/` folder, seen from a crate in `crates/`.
pub fn fuzz_dir(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("../../fuzz")
}

/// Every input of `target`, sorted by path, with its bytes; panics when the
/// corpus is missing or empty, since then nothing would be replayed.
pub fn inputs(fuzz_dir: &Path, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let corpus = files(&fuzz_dir.join("corpus").join(target))
        .unwrap_or_else(|e| panic!("the corpus of {target}: {e}"));
    assert!(!corpus.is_empty(), "the corpus of {target} is empty");
    let regressions = files(&fuzz_dir.join("regressions").join(target)).unwrap_or_default();
    corpus
        .into_iter()
        .chain(regressions)
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a committed fuzz input");
            (path, bytes)
        })
        .collect()
}

fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    paths.sort();
    Ok(paths)
}
