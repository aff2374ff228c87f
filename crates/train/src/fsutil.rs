//! Writing files so that a crash leaves the old version or the new one.

use std::fs;
use std::path::{Path, PathBuf};

use tapegrad_checkpoint::durable;

use super::error::{Result, TrainError};

/// Writes `bytes` to `path` through a synced temporary file and a rename
/// ([`durable::write_atomically`]).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    durable::write_atomically(path, bytes).map_err(TrainError::io(path))
}

/// Syncs the directory `dir` ([`durable::sync_dir`]).
fn sync_dir(dir: &Path) -> Result<()> {
    durable::sync_dir(dir).map_err(TrainError::io(dir))
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

/// The pid in a temporary name of [`durable::temp_path`] or of the plot's
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
