//! Helpers shared by the data tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The path of `relative` under shared/data, or `None` (after printing why the
/// test is skipped) when it is absent. These data sets are too large for the
/// repository, so a checkout without `../shared` skips their tests; under CI
/// (`CI=true`), which has `../shared`, a missing data set fails the test.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/"
    ))
    .join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} not found, and CI=true requires every data set",
        path.display()
    );
    println!(
        "skipped: {} not found (the data sets live outside the repository; with CI=true this fails)",
        path.display()
    );
    None
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
