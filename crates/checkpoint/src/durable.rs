//! Writing files so that a crash or a power loss leaves the old version or the
//! new one, never half of one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A name beside `path` for its temporary version, unique to this process:
/// `.<name>.tmp-<pid>`.
///
/// ```
/// use std::path::Path;
/// let tmp = tapegrad_checkpoint::durable::temp_path(Path::new("out/ck"));
/// assert_eq!(tmp, Path::new("out").join(format!(".ck.tmp-{}", std::process::id())));
/// ```
pub fn temp_path(path: &Path) -> PathBuf {
    beside(path, "tmp")
}

/// `.<name>.<tag>-<pid>` beside `path`.
pub(crate) fn beside(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over
/// `path` and syncs the directory, so that the new file survives a power loss.
/// On failure the temporary file is removed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    if let Err(e) = write_synced(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, path)?;
    sync_dir(parent(path))
}

/// Creates `path` with `bytes` and syncs it to the disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Syncs the directory `dir`, which makes the renames and removals inside it
/// durable. Where directories cannot be opened (Windows) this does nothing.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    match fs::File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(_) if cfg!(windows) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The directory holding `path` (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
