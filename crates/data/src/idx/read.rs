//! Decoding IDX from any reader, raw or gzipped.

use std::io::Read;
use std::path::Path;

use super::{IdxArray, IdxData, IdxDtype};
use crate::error::{DataError, Position, Result, STREAM, excerpt, io_error};
use crate::gzip::{detect, open, read_up_to};
use crate::limit::DEFAULT_MAX_BYTES;

/// Initial buffer for an element block of unknown true size (a stream, or a
/// gzipped file); it grows with the bytes actually read, so a header claiming
/// more than the input holds cannot force a large allocation.
const INITIAL_BLOCK: usize = 1 << 20;

/// Reads IDX arrays (raw or gzipped) with a bound on the memory one file may
/// claim; [`IdxArray::read`] and [`IdxArray::from_path`] use the defaults.
///
/// The element block a header announces (its extents times the element size)
/// must fit in [`IdxReader::max_bytes`], default [`DEFAULT_MAX_BYTES`] (1 GiB);
/// a header claiming more is refused with [`DataError::OverLimit`] before
/// anything is allocated. Under the limit, memory follows the bytes that
/// actually arrive: a raw file read by path whose header claims more than the
/// file holds is refused as [`DataError::Truncated`] without reading on, and a
/// stream or a gzipped file fills a buffer that grows as it is read. A gzipped
/// file is inflated only as far as its header promises (one byte more is read
/// to refuse trailing data), so a small file that would inflate to gigabytes
/// costs at most the limit.
///
/// ```
/// use tapegrad_data::{DataError, IdxArray, IdxData, IdxReader};
/// let bytes = IdxArray::new(&[4, 4], IdxData::F32(vec![0.5; 16])).unwrap().to_bytes();
/// assert_eq!(IdxReader::new().read(&bytes[..]).unwrap().dims(), &[4, 4]);
/// let err = IdxReader::new().max_bytes(32).read_named(&bytes[..], "x.idx").unwrap_err();
/// assert!(matches!(err, DataError::OverLimit { needed: 64, limit: 32, .. }));
/// assert_eq!(
///     err.to_string(),
///     "x.idx: byte 4: dimensions [4, 4] of F32 need 64 bytes, \
///      over the limit of 32 bytes (raise it with IdxReader::max_bytes)"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxReader {
    max_bytes: u64,
}

impl Default for IdxReader {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl IdxReader {
    /// A reader with the default limit, [`DEFAULT_MAX_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most bytes of elements a header may announce.
    pub fn max_bytes(self, max_bytes: u64) -> Self {
        Self { max_bytes }
    }

    /// Reads one IDX array from `reader` (raw or gzipped); errors name it `<stream>`.
    pub fn read<R: Read>(&self, reader: R) -> Result<IdxArray> {
        self.read_named(reader, STREAM)
    }

    /// Reads one IDX array from `reader` (raw or gzipped); errors name it `name`.
    ///
    /// The whole input must be one array: bytes after its last element are an
    /// error ([`DataError::TrailingData`]), since they mean the header is wrong.
    pub fn read_named<R: Read>(&self, reader: R, name: &str) -> Result<IdxArray> {
        self.decode(reader, name, None)
    }

    /// Reads the IDX file at `path` (raw or gzipped, detected by content, not by
    /// name); errors name the path.
    pub fn from_path(&self, path: impl AsRef<Path>) -> Result<IdxArray> {
        let (file, name) = open(path.as_ref())?;
        let len = file.metadata().map_err(io_error(&name))?.len();
        self.decode(file, &name, Some(len))
    }

    /// Decodes `reader`, whose length (when raw) is `len` if known.
    fn decode<R: Read>(&self, reader: R, name: &str, len: Option<u64>) -> Result<IdxArray> {
        let (mut input, gzipped) = detect(reader, name)?;
        let mut decoder = Decoder {
            input: &mut input,
            file: name,
            offset: 0,
            raw_len: len.filter(|_| !gzipped),
            max_bytes: self.max_bytes,
        };
        let (dtype, dims) = decoder.header()?;
        let data = decoder.elements(dtype, &dims)?;
        decoder.expect_end()?;
        Ok(IdxArray {
            dims,
            data,
            source: name.to_owned(),
        })
    }
}

impl IdxArray {
    /// Reads one IDX array from `reader` (raw or gzipped) with the default
    /// [`IdxReader`]; errors name it `<stream>`.
    ///
    /// ```
    /// let bytes = [0u8, 0, 0x08, 1, 0, 0, 0, 2, 7, 9];
    /// let a = tapegrad_data::IdxArray::read(&bytes[..]).unwrap();
    /// assert_eq!(a.dims(), &[2]);
    /// assert_eq!(a.to_labels(10).unwrap(), vec![7, 9]);
    /// ```
    pub fn read<R: Read>(reader: R) -> Result<Self> {
        IdxReader::new().read(reader)
    }

    /// Reads one IDX array from `reader` (raw or gzipped) with the default
    /// [`IdxReader`]; errors name it `name`.
    ///
    /// The whole input must be one array: bytes after its last element are an
    /// error ([`DataError::TrailingData`]), since they mean the header is wrong.
    ///
    /// ```
    /// use tapegrad_data::{DataError, IdxArray};
    /// let err = IdxArray::read_named(&[0u8, 0, 0x08, 1, 0, 0, 0, 3, 1][..], "x.idx").unwrap_err();
    /// assert_eq!(err.to_string(), "x.idx: truncated at byte 9: needed 2 more byte(s) of the IDX elements");
    /// ```
    pub fn read_named<R: Read>(reader: R, name: &str) -> Result<Self> {
        IdxReader::new().read_named(reader, name)
    }

    /// Reads the IDX file at `path` (raw or gzipped, detected by content, not by
    /// name) with the default [`IdxReader`]; errors name the path.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        IdxReader::new().from_path(path)
    }
}

/// A reader that keeps count of the bytes consumed, for error offsets.
struct Decoder<'a, R: Read + ?Sized> {
    input: &'a mut R,
    file: &'a str,
    offset: u64,
    /// The input's length when it is raw and known (a file read by path).
    raw_len: Option<u64>,
    max_bytes: u64,
}

impl<R: Read + ?Sized> Decoder<'_, R> {
    fn read_failed(&self, offset: u64) -> impl FnOnce(std::io::Error) -> DataError + '_ {
        move |source| DataError::ReadFailed {
            file: self.file.to_owned(),
            position: Position::Byte(offset),
            source,
        }
    }

    fn truncated(&self, offset: u64, missing: u64, what: &'static str) -> DataError {
        DataError::Truncated {
            file: self.file.to_owned(),
            offset,
            missing,
            what,
        }
    }

    /// Fills `buf` completely or reports where the input ended.
    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<()> {
        let got = read_up_to(self.input, buf).map_err(self.read_failed(self.offset))?;
        self.offset += got as u64;
        if got < buf.len() {
            return Err(self.truncated(self.offset, (buf.len() - got) as u64, what));
        }
        Ok(())
    }

    fn header(&mut self) -> Result<(IdxDtype, Vec<usize>)> {
        let mut magic = [0u8; 4];
        self.exact(&mut magic, "the IDX magic number")?;
        if magic[..2] != [0, 0] {
            return Err(DataError::BadMagic {
                file: self.file.to_owned(),
                found: magic,
            });
        }
        let dtype = IdxDtype::from_code(magic[2]).ok_or_else(|| DataError::UnsupportedDtype {
            file: self.file.to_owned(),
            dtype: magic[2],
        })?;
        let mut extents = vec![0u8; 4 * usize::from(magic[3])];
        self.exact(&mut extents, "the IDX dimensions")?;
        let dims = extents
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        Ok((dtype, dims))
    }

    /// The bytes of the element block `dims` announce, checked to be
    /// addressable and within the limit.
    ///
    /// The product of the nonzero extents must fit in `usize` even when some
    /// extent is 0: then every partial product (the strides of a tensor of
    /// these dimensions) fits too.
    fn block_len(&self, dtype: IdxDtype, dims: &[usize]) -> Result<usize> {
        let shown = || format!("dimensions {} of {dtype:?}", excerpt(&format!("{dims:?}")));
        let nonzero = dims
            .iter()
            .filter(|&&d| d != 0)
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .filter(|&n| u64::try_from(n).is_ok())
            .ok_or_else(|| DataError::BadHeader {
                file: self.file.to_owned(),
                offset: 4,
                reason: format!("{} overflow the address space", shown()),
            })?;
        let nbytes = if dims.contains(&0) { 0 } else { nonzero };
        if nbytes as u64 > self.max_bytes {
            return Err(DataError::OverLimit {
                file: self.file.to_owned(),
                position: Position::Byte(4),
                what: shown(),
                needed: nbytes as u128,
                limit: self.max_bytes,
                raise: "IdxReader::max_bytes",
            });
        }
        Ok(nbytes)
    }

    fn elements(&mut self, dtype: IdxDtype, dims: &[usize]) -> Result<IdxData> {
        let nbytes = self.block_len(dtype, dims)?;
        let initial = match self.raw_len {
            Some(len) => {
                let left = len.saturating_sub(self.offset);
                if nbytes as u64 > left {
                    let missing = nbytes as u64 - left;
                    return Err(self.truncated(len, missing, "the IDX elements"));
                }
                nbytes
            }
            None => nbytes.min(INITIAL_BLOCK),
        };
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(initial)
            .map_err(|_| self.too_large(nbytes))?;
        let start = self.offset;
        let result = (&mut *self.input)
            .take(nbytes as u64)
            .read_to_end(&mut bytes);
        self.offset += bytes.len() as u64;
        result.map_err(self.read_failed(start + bytes.len() as u64))?;
        if bytes.len() < nbytes {
            let missing = (nbytes - bytes.len()) as u64;
            return Err(self.truncated(self.offset, missing, "the IDX elements"));
        }
        Ok(decode(dtype, bytes))
    }

    fn too_large(&self, nbytes: usize) -> DataError {
        DataError::TooLarge {
            file: self.file.to_owned(),
            what: "the IDX element block (bytes)",
            elements: nbytes as u128,
        }
    }

    fn expect_end(&mut self) -> Result<()> {
        let mut extra = [0u8; 1];
        let got = read_up_to(self.input, &mut extra).map_err(self.read_failed(self.offset))?;
        if got > 0 {
            return Err(DataError::TrailingData {
                file: self.file.to_owned(),
                offset: self.offset,
            });
        }
        Ok(())
    }
}

/// Big-endian element bytes to typed values (`bytes.len()` is a multiple of the size).
fn decode(dtype: IdxDtype, bytes: Vec<u8>) -> IdxData {
    fn be<const N: usize, X>(bytes: &[u8], f: fn([u8; N]) -> X) -> Vec<X> {
        bytes
            .chunks_exact(N)
            .map(|c| {
                let mut word = [0u8; N];
                word.copy_from_slice(c);
                f(word)
            })
            .collect()
    }
    match dtype {
        IdxDtype::U8 => IdxData::U8(bytes),
        IdxDtype::I8 => IdxData::I8(bytes.into_iter().map(|b| b as i8).collect()),
        IdxDtype::I16 => IdxData::I16(be(&bytes, i16::from_be_bytes)),
        IdxDtype::I32 => IdxData::I32(be(&bytes, i32::from_be_bytes)),
        IdxDtype::F32 => IdxData::F32(be(&bytes, f32::from_be_bytes)),
        IdxDtype::F64 => IdxData::F64(be(&bytes, f64::from_be_bytes)),
    }
}
