//! Regenerates `crates/data/assets/digits-{images-idx3,labels-idx1}-ubyte.gz`
//! from scikit-learn's `digits.csv.gz`.
//!
//! ```text
//! cargo run -p tapegrad-data --example make_digits [-- CSV_GZ [OUT_DIR]]
//! ```
//! Defaults: `../shared/data/digits/digits.csv.gz` beside the repository, and
//! the crate's `assets/` directory. The output is deterministic (gzip level 9,
//! no name, mtime 0).

#[path = "support/digits_csv.rs"]
mod digits_csv;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args_os().skip(1);
    let csv = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared/data/digits/digits.csv.gz"));
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("assets"));
    match run(&csv, &out) {
        Ok(n) => {
            println!("wrote {n} images and labels to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make_digits: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(csv: &std::path::Path, out: &std::path::Path) -> Result<usize, String> {
    let (images, labels) = digits_csv::digits_from_csv(csv)?;
    images
        .write_path(out.join("digits-images-idx3-ubyte.gz"), true)
        .map_err(|e| e.to_string())?;
    labels
        .write_path(out.join("digits-labels-idx1-ubyte.gz"), true)
        .map_err(|e| e.to_string())?;
    Ok(labels.count())
}
