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

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over
/// `path` and syncs the directory, so that the new file survives a power loss.
/// On failure the temporary file is removed.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    if let Err(e) = write_synced(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, path).map_err(TrainError::io(path))?;
    sync_dir(parent(path))
}

/// Creates `path` with `bytes` and syncs it to the disk.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(TrainError::io(path))
}

/// Syncs the directory `dir`, which makes the renames and removals inside it
/// durable. Where directories cannot be opened (Windows) this does nothing.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    match fs::File::open(dir) {
        Ok(d) => d.sync_all().map_err(TrainError::io(dir)),
        Err(_) if cfg!(windows) => Ok(()),
        Err(e) => Err(TrainError::io(dir)(e)),
    }
}

/// The directory holding `path` (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes the temporary files and directories that runs killed before their
/// rename left in `out`: `.<name>.tmp-<pid>` (the CSV log, a checkpoint
/// directory) and `.<stem>.tmp-<pid>.png` (the plot), for every pid other than
/// this process's that no longer runs (on Linux, read from `/proc`; elsewhere
/// every other pid counts as gone, as one output directory serves one run at a
/// time). Returns what it removed.
pub(crate) fn remove_stale_temps(out: &Path) -> Result<Vec<PathBuf>> {
    let Ok(entries) = fs::read_dir(out) else {
        return Ok(Vec::new());
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(TrainError::io(out))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_owner(&name) else {
            continue;
        };
        if pid == std::process::id() || process_runs(pid) {
            continue;
        }
        let path = entry.path();
        let result = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        result.map_err(TrainError::io(&path))?;
        removed.push(path);
    }
    if !removed.is_empty() {
        sync_dir(out)?;
    }
    Ok(removed)
}

/// The pid in a temporary name of [`temp_path`] or of the plot's
/// (`.metrics.tmp-123.png`), or `None` for any other name.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp-")?;
    let digits = tail.strip_suffix(".png").unwrap_or(tail);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether process `pid` exists, where the system tells (Linux's `/proc`).
fn process_runs(pid: u32) -> bool {
    Path::new("/proc/self").exists() && Path::new(&format!("/proc/{pid}")).exists()
}

/// Creates `dir` and its parents.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(TrainError::io(dir))
}

#[cfg(test)]
mod tests {
    use super::temp_owner;

    #[test]
    fn temporary_names_give_their_pid() {
        assert_eq!(temp_owner(".metrics.csv.tmp-42"), Some(42));
        assert_eq!(temp_owner(".metrics.tmp-7.png"), Some(7));
        assert_eq!(temp_owner(".checkpoint-epoch-3.tmp-99"), Some(99));
        assert_eq!(temp_owner("metrics.csv"), None);
        assert_eq!(temp_owner("checkpoint-epoch-3"), None);
        assert_eq!(temp_owner(".x.tmp-"), None);
        assert_eq!(temp_owner(".x.tmp-12a"), None);
    }
}
