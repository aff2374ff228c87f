//! The IDX array format of MNIST and Fashion-MNIST.
//!
//! Layout: a 4-byte magic `00 00 <dtype> <ndim>`, then `ndim` big-endian `u32`
//! extents, then the elements row-major, each big-endian. The dtype byte is
//! 0x08 `u8`, 0x09 `i8`, 0x0B `i16`, 0x0C `i32`, 0x0D `f32`, 0x0E `f64`.

mod read;
mod write;

pub use read::IdxReader;

use tapegrad_tape::{Float, Tensor};

use crate::error::{DataError, Result, STREAM};

/// The element type of an IDX file, as coded in byte 2 of its magic number.
///
/// ```
/// use tapegrad_data::IdxDtype;
/// assert_eq!(IdxDtype::from_code(0x08), Some(IdxDtype::U8));
/// assert_eq!(IdxDtype::F64.code(), 0x0E);
/// assert_eq!(IdxDtype::I16.size(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxDtype {
    /// Unsigned byte (0x08).
    U8,
    /// Signed byte (0x09).
    I8,
    /// Big-endian `i16` (0x0B).
    I16,
    /// Big-endian `i32` (0x0C).
    I32,
    /// Big-endian `f32` (0x0D).
    F32,
    /// Big-endian `f64` (0x0E).
    F64,
}

impl IdxDtype {
    /// The dtype for a magic-number byte, if it is one of the six defined.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => Self::U8,
            0x09 => Self::I8,
            0x0B => Self::I16,
            0x0C => Self::I32,
            0x0D => Self::F32,
            0x0E => Self::F64,
            _ => return None,
        })
    }

    /// The magic-number byte.
    pub fn code(self) -> u8 {
        match self {
            Self::U8 => 0x08,
            Self::I8 => 0x09,
            Self::I16 => 0x0B,
            Self::I32 => 0x0C,
            Self::F32 => 0x0D,
            Self::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::I16 => 2,
            Self::I32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    /// Whether the elements are integers (usable as class labels).
    pub fn is_integer(self) -> bool {
        !matches!(self, Self::F32 | Self::F64)
    }
}

/// The elements of an IDX array, in their stored type.
///
/// ```
/// use tapegrad_data::{IdxData, IdxDtype};
/// let d = IdxData::I16(vec![-1, 300]);
/// assert_eq!(d.dtype(), IdxDtype::I16);
/// assert_eq!(d.len(), 2);
/// assert_eq!(d.get_f64(1), Some(300.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum IdxData {
    /// dtype 0x08.
    U8(Vec<u8>),
    /// dtype 0x09.
    I8(Vec<i8>),
    /// dtype 0x0B.
    I16(Vec<i16>),
    /// dtype 0x0C.
    I32(Vec<i32>),
    /// dtype 0x0D.
    F32(Vec<f32>),
    /// dtype 0x0E.
    F64(Vec<f64>),
}

impl IdxData {
    /// The element type.
    pub fn dtype(&self) -> IdxDtype {
        match self {
            Self::U8(_) => IdxDtype::U8,
            Self::I8(_) => IdxDtype::I8,
            Self::I16(_) => IdxDtype::I16,
            Self::I32(_) => IdxDtype::I32,
            Self::F32(_) => IdxDtype::F32,
            Self::F64(_) => IdxDtype::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::I8(v) => v.len(),
            Self::I16(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::F64(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as `f64` (exact for every IDX dtype), or `None` past the end.
    pub fn get_f64(&self, i: usize) -> Option<f64> {
        match self {
            Self::U8(v) => v.get(i).map(|&x| f64::from(x)),
            Self::I8(v) => v.get(i).map(|&x| f64::from(x)),
            Self::I16(v) => v.get(i).map(|&x| f64::from(x)),
            Self::I32(v) => v.get(i).map(|&x| f64::from(x)),
            Self::F32(v) => v.get(i).map(|&x| f64::from(x)),
            Self::F64(v) => v.get(i).copied(),
        }
    }

    /// All elements converted to `T`.
    fn to_floats<T: Float>(&self) -> Vec<T> {
        fn conv<X: Copy, T: Float>(v: &[X], f: impl Fn(X) -> f64) -> Vec<T> {
            v.iter().map(|&x| T::from_f64(f(x))).collect()
        }
        match self {
            Self::U8(v) => conv(v, f64::from),
            Self::I8(v) => conv(v, f64::from),
            Self::I16(v) => conv(v, f64::from),
            Self::I32(v) => conv(v, f64::from),
            Self::F32(v) => conv(v, f64::from),
            Self::F64(v) => conv(v, |x| x),
        }
    }
}

/// An n-dimensional array read from (or to be written to) an IDX file.
///
/// It remembers the name of the file it came from, so later checks (label
/// range, item counts) can name it.
///
/// ```
/// use tapegrad_data::{IdxArray, IdxData};
/// let a = IdxArray::new(&[2, 3], IdxData::U8(vec![0, 1, 2, 3, 4, 255])).unwrap();
/// let bytes = a.to_bytes();
/// assert_eq!(&bytes[..12], &[0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
/// let back = IdxArray::read(&bytes[..]).unwrap();
/// assert_eq!(back.dims(), &[2, 3]);
/// assert_eq!(back.to_tensor::<f32>().unwrap().data()[5], 255.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    dims: Vec<usize>,
    data: IdxData,
    source: String,
}

impl IdxArray {
    /// An array of extents `dims` over `data` (row-major). Errors when the
    /// element count is not the product of `dims`, when there are more than 255
    /// axes, or when an extent does not fit the format's `u32`.
    pub fn new(dims: &[usize], data: IdxData) -> Result<Self> {
        let invalid = |reason: String| DataError::InvalidArgument {
            op: "IdxArray::new",
            name: "dims",
            value: format!("{dims:?}"),
            reason,
        };
        if dims.len() > 255 {
            return Err(invalid("IDX allows at most 255 axes".into()));
        }
        if dims.iter().any(|&d| u32::try_from(d).is_err()) {
            return Err(invalid("IDX extents must fit in a u32".into()));
        }
        let numel = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if numel != Some(data.len()) {
            return Err(invalid(format!("{} elements given", data.len())));
        }
        Ok(Self {
            dims: dims.to_vec(),
            data,
            source: STREAM.to_owned(),
        })
    }

    /// The extents, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The element type.
    pub fn dtype(&self) -> IdxDtype {
        self.data.dtype()
    }

    /// The elements.
    pub fn data(&self) -> &IdxData {
        &self.data
    }

    /// The elements, taking ownership.
    pub fn into_data(self) -> IdxData {
        self.data
    }

    /// The name errors use for this array: the path it was read from, or `<stream>`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The number of items: the first extent (1 for a 0-d array).
    pub fn count(&self) -> usize {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Header size in bytes, `4 + 4·ndim`: the offset of the first element.
    pub fn header_len(&self) -> u64 {
        4 + 4 * self.dims.len() as u64
    }

    /// The elements as a tensor of shape `dims`, converted to `T`.
    pub fn to_tensor<T: Float>(&self) -> Result<Tensor<T>> {
        Ok(Tensor::from_vec(self.data.to_floats(), &self.dims)?)
    }

    /// The elements as class indices, each checked to lie in `0..num_classes`.
    ///
    /// ```
    /// use tapegrad_data::{DataError, IdxArray, IdxData};
    /// let labels = IdxArray::new(&[3], IdxData::U8(vec![2, 0, 7])).unwrap();
    /// assert_eq!(labels.to_labels(10).unwrap(), vec![2, 0, 7]);
    /// let err = labels.to_labels(5).unwrap_err();
    /// // The third label sits at byte 8 (header) + 2.
    /// assert!(matches!(err, DataError::LabelOutOfRange { offset: 10, label: 7, .. }));
    /// ```
    pub fn to_labels(&self, num_classes: usize) -> Result<Vec<usize>> {
        if !self.dtype().is_integer() {
            return Err(DataError::BadHeader {
                file: self.source.clone(),
                offset: 2,
                reason: format!("labels need an integer dtype, found {:?}", self.dtype()),
            });
        }
        let size = self.dtype().size() as u64;
        (0..self.data.len())
            .map(|i| {
                let value = self.data.get_f64(i).unwrap_or(-1.0) as i64;
                usize::try_from(value)
                    .ok()
                    .filter(|&label| label < num_classes)
                    .ok_or_else(|| DataError::LabelOutOfRange {
                        file: self.source.clone(),
                        offset: self.header_len() + size * i as u64,
                        label: value,
                        num_classes,
                    })
            })
            .collect()
    }
}
