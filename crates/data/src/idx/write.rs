//! Encoding IDX, to any writer or atomically to a file.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::{IdxArray, IdxData};
use crate::error::{Result, STREAM, io_error};

impl IdxArray {
    /// The raw (uncompressed) IDX encoding: magic, big-endian extents, big-endian elements.
    ///
    /// ```
    /// use tapegrad_data::{IdxArray, IdxData};
    /// let a = IdxArray::new(&[1], IdxData::I16(vec![-2])).unwrap();
    /// assert_eq!(a.to_bytes(), vec![0, 0, 0x0B, 1, 0, 0, 0, 1, 0xff, 0xfe]);
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.header_len() as usize + self.data.len() * self.dtype().size());
        // `new` and the reader guarantee ≤ 255 axes and u32 extents.
        out.extend_from_slice(&[0, 0, self.dtype().code(), self.dims.len() as u8]);
        for &d in &self.dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        match &self.data {
            IdxData::U8(v) => out.extend_from_slice(v),
            IdxData::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
            IdxData::I16(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            IdxData::I32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            IdxData::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            IdxData::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        }
        out
    }

    /// Writes the encoding to `writer`, gzip-compressed (level 9, no name, mtime
    /// 0, so the output depends only on the array) when `gzip` is set.
    ///
    /// ```
    /// use tapegrad_data::{IdxArray, IdxData};
    /// let a = IdxArray::new(&[3], IdxData::U8(vec![1, 2, 3])).unwrap();
    /// let mut gz = Vec::new();
    /// a.write(&mut gz, true).unwrap();
    /// assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    /// assert_eq!(IdxArray::read(&gz[..]).unwrap().data(), a.data());
    /// ```
    pub fn write<W: Write>(&self, writer: W, gzip: bool) -> Result<()> {
        self.write_named(writer, gzip, STREAM)
    }

    fn write_named<W: Write>(&self, mut writer: W, gzip: bool, name: &str) -> Result<()> {
        let bytes = self.to_bytes();
        if gzip {
            let mut encoder = GzEncoder::new(writer, Compression::best());
            encoder.write_all(&bytes).map_err(io_error(name))?;
            encoder
                .finish()
                .map_err(io_error(name))?
                .flush()
                .map_err(io_error(name))
        } else {
            writer.write_all(&bytes).map_err(io_error(name))?;
            writer.flush().map_err(io_error(name))
        }
    }

    /// Writes the array to `path` atomically: into a temporary file in the same
    /// directory, synced, then renamed over `path`, so a reader never sees a
    /// half-written file and a failed write leaves any old file intact.
    ///
    /// ```
    /// use tapegrad_data::{IdxArray, IdxData};
    /// let path = std::env::temp_dir().join(format!("doc-idx-{}.gz", std::process::id()));
    /// let a = IdxArray::new(&[2, 2], IdxData::F32(vec![0.5, -1.0, 2.0, 3.0])).unwrap();
    /// a.write_path(&path, true).unwrap();
    /// assert_eq!(IdxArray::from_path(&path).unwrap().data(), a.data());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn write_path(&self, path: impl AsRef<Path>, gzip: bool) -> Result<()> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
        let written = self.write_temp(&temp, gzip, &name);
        let renamed = written.and_then(|()| fs::rename(&temp, path).map_err(io_error(&name)));
        if renamed.is_err() {
            // The temporary file is garbage whatever went wrong; the first error is the one to report.
            let _ = fs::remove_file(&temp);
        }
        renamed
    }

    fn write_temp(&self, temp: &Path, gzip: bool, name: &str) -> Result<()> {
        let file = File::create(temp).map_err(io_error(name))?;
        let mut writer = BufWriter::new(file);
        self.write_named(&mut writer, gzip, name)?;
        let file = writer
            .into_inner()
            .map_err(|e| io_error(name)(e.into_error()))?;
        file.sync_all().map_err(io_error(name))
    }
}
