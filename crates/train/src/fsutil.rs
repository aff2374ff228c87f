//! Writing files so that a crash leaves the old version or the new one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{Result, TrainError};

/// A name beside `path` for its temporary version, unique to this process.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it
/// over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(TrainError::io(&tmp))?;
    fs::rename(&tmp, path).map_err(TrainError::io(path))
}

/// Creates `dir` and its parents.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(TrainError::io(dir))
}
