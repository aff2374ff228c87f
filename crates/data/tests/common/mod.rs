//! Helpers shared by the data tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The path of `relative` under shared/data, or `None` (after printing why the
/// test is skipped) when it is absent.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/"
    ))
    .join(relative);
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: {} not found", path.display());
        None
    }
}

/// A fresh, empty directory under the system temp directory, unique to `tag`
/// and this process.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-data-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Sum of all elements in f64 (exact for integer-valued pixel data).
pub fn sum_f64(data: &[f32]) -> f64 {
    data.iter().map(|&x| f64::from(x)).sum()
}
