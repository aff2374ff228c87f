//! The list of a checkpoint's files with their sizes and CRC-32 checksums,
//! written into `checkpoint.txt` and checked before anything is restored.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{CheckpointError, Result, quote};

/// The files of a checkpoint directory, each with its size and CRC-32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest(Vec<Entry>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    len: u64,
    crc: u32,
}

/// The key of a manifest line in `checkpoint.txt`.
pub(crate) const KEY: &str = "file";

impl Manifest {
    /// Reads `names` inside `dir` and records what they hold now.
    pub(crate) fn of(dir: &Path, names: &[&str]) -> Result<Self> {
        let entries = names
            .iter()
            .map(|name| {
                let (len, crc) = checksum(&dir.join(name))?;
                Ok(Entry {
                    name: (*name).to_owned(),
                    len,
                    crc,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self(entries))
    }

    /// One `file = NAME LEN CRC` line per file.
    pub(crate) fn lines(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{KEY} = {} {} {:08x}\n", e.name, e.len, e.crc))
            .collect()
    }

    /// The manifest from the values of the `file` lines; each of `required`
    /// must appear, and no name twice.
    pub(crate) fn parse(values: &[&str], required: &[&str]) -> std::result::Result<Self, String> {
        let mut entries: Vec<Entry> = Vec::new();
        for value in values {
            let parts: Vec<&str> = value.split(' ').collect();
            let [name, len, crc] = parts[..] else {
                return Err(format!("bad `{KEY}` line (want NAME LENGTH CRC32)"));
            };
            if entries.iter().any(|e| e.name == name) {
                return Err(format!("repeated file {}", quote(name)));
            }
            crate::names::check("file", name).map_err(|e| e.to_string())?;
            let len = len.parse().map_err(|_| format!("bad length of {name}"))?;
            let crc =
                u32::from_str_radix(crc, 16).map_err(|_| format!("bad checksum of {name}"))?;
            entries.push(Entry {
                name: name.to_owned(),
                len,
                crc,
            });
        }
        if let Some(missing) = required
            .iter()
            .find(|n| !entries.iter().any(|e| e.name == **n))
        {
            return Err(format!("no `{KEY}` line for {missing}"));
        }
        Ok(Self(entries))
    }

    /// The recorded files.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.0
    }

    /// Checks that every file in `dir` still has its recorded size and checksum.
    pub(crate) fn verify(&self, dir: &Path) -> Result<()> {
        self.0.iter().try_for_each(|e| e.verify(dir))
    }
}

impl Entry {
    /// Checks that `dir`'s file of this name has the recorded size and checksum.
    pub(crate) fn verify(&self, dir: &Path) -> Result<()> {
        let path = dir.join(&self.name);
        let (len, crc) = checksum(&path)?;
        if (len, crc) == (self.len, self.crc) {
            return Ok(());
        }
        Err(CheckpointError::corrupt(
            path,
            format!(
                "{len} bytes with CRC-32 {crc:08x}, but the checkpoint recorded {} bytes with {:08x}: \
                 the file changed after it was written",
                self.len, self.crc
            ),
        ))
    }
}

/// The CRC-32 of `text`, as the last line of `checkpoint.txt` records it.
pub(crate) fn text_crc(text: &str) -> u32 {
    crc32fast::hash(text.as_bytes())
}

/// The length and CRC-32 of the file at `path`, read in pieces.
fn checksum(path: &Path) -> Result<(u64, u32)> {
    let mut file = File::open(path).map_err(CheckpointError::io(path))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(CheckpointError::io(path))?;
        if n == 0 {
            return Ok((len, hasher.finalize()));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}
