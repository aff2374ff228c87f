//! Decoding IDX from any reader, raw or gzipped.

use std::io::Read;
use std::path::Path;

use super::{IdxArray, IdxData, IdxDtype};
use crate::error::{DataError, Position, Result, STREAM};
use crate::gzip::{maybe_gunzip, open, read_up_to};

/// Initial buffer for the element block; it grows with the bytes actually
/// read, so a header claiming a huge array cannot force a huge allocation.
const MAX_PREALLOCATION: usize = 1 << 26;

impl IdxArray {
    /// Reads one IDX array from `reader` (raw or gzipped); errors name it `<stream>`.
    ///
    /// ```
    /// let bytes = [0u8, 0, 0x08, 1, 0, 0, 0, 2, 7, 9];
    /// let a = tapegrad_data::IdxArray::read(&bytes[..]).unwrap();
    /// assert_eq!(a.dims(), &[2]);
    /// assert_eq!(a.to_labels(10).unwrap(), vec![7, 9]);
    /// ```
    pub fn read<R: Read>(reader: R) -> Result<Self> {
        Self::read_named(reader, STREAM)
    }

    /// Reads one IDX array from `reader` (raw or gzipped); errors name it `name`.
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
        let mut input = maybe_gunzip(reader, name)?;
        let mut decoder = Decoder {
            input: &mut input,
            file: name,
            offset: 0,
        };
        let (dtype, dims) = decoder.header()?;
        let data = decoder.elements(dtype, &dims)?;
        decoder.expect_end()?;
        Ok(Self {
            dims,
            data,
            source: name.to_owned(),
        })
    }

    /// Reads the IDX file at `path` (raw or gzipped, detected by content, not by
    /// name); errors name the path.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let (file, name) = open(path.as_ref())?;
        Self::read_named(file, &name)
    }
}

/// A reader that keeps count of the bytes consumed, for error offsets.
struct Decoder<'a, R: Read + ?Sized> {
    input: &'a mut R,
    file: &'a str,
    offset: u64,
}

impl<R: Read + ?Sized> Decoder<'_, R> {
    fn read_failed(&self, offset: u64) -> impl FnOnce(std::io::Error) -> DataError + '_ {
        move |source| DataError::ReadFailed {
            file: self.file.to_owned(),
            position: Position::Byte(offset),
            source,
        }
    }

    /// Fills `buf` completely or reports where the input ended.
    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<()> {
        let got = read_up_to(self.input, buf).map_err(self.read_failed(self.offset))?;
        self.offset += got as u64;
        if got < buf.len() {
            return Err(DataError::Truncated {
                file: self.file.to_owned(),
                offset: self.offset,
                missing: (buf.len() - got) as u64,
                what,
            });
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

    fn elements(&mut self, dtype: IdxDtype, dims: &[usize]) -> Result<IdxData> {
        let nbytes = dims
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .filter(|&n| u64::try_from(n).is_ok())
            .ok_or_else(|| DataError::BadHeader {
                file: self.file.to_owned(),
                offset: 4,
                reason: format!("dimensions {dims:?} of {dtype:?} overflow the address space"),
            })?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(nbytes.min(MAX_PREALLOCATION))
            .map_err(|_| self.too_large(nbytes))?;
        let start = self.offset;
        let result = (&mut *self.input)
            .take(nbytes as u64)
            .read_to_end(&mut bytes);
        self.offset += bytes.len() as u64;
        result.map_err(self.read_failed(start + bytes.len() as u64))?;
        if bytes.len() < nbytes {
            return Err(DataError::Truncated {
                file: self.file.to_owned(),
                offset: self.offset,
                missing: (nbytes - bytes.len()) as u64,
                what: "the IDX elements",
            });
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
