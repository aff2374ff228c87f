//! `Tensor<T>`: an n-dimensional, row-major, contiguous array with cheap clones.

pub mod buffers;
mod conv;
mod display;
pub mod gemm;
mod kernels;
mod random;
mod reduce;
mod shape_ops;

use std::sync::Arc;

use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::shape::{self, Shape};

pub(crate) use conv::{
    PlaneIndex, TransposePlan, check_channels, out_extent, require_rank, transpose_plan,
};
pub use kernels::PAR_THRESHOLD;

/// An n-dimensional array of `f32` or `f64`, row-major and contiguous.
///
/// The data sits behind an [`Arc`], so `clone` is O(1); a write through
/// [`Tensor::data_mut`] copies only when the buffer is shared. Plain tensor math
/// (no graph) lives here; [`crate::Var`] records the same ops for differentiation.
///
/// ```
/// use tapegrad_tape::Tensor;
/// let t = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.get(&[1, 2]).unwrap(), 6.0);
/// assert_eq!(t.sum_all(), 21.0);
/// ```
#[derive(PartialEq)]
pub struct Tensor<T = f32> {
    shape: Shape,
    data: Arc<Vec<T>>,
}

/// The last handle to a buffer gives it to the thread's cache of buffers
/// ([`buffers`]), from which the kernels take their outputs.
impl<T> Drop for Tensor<T> {
    fn drop(&mut self) {
        if let Some(data) = Arc::get_mut(&mut self.data) {
            buffers::give(std::mem::take(data));
        }
    }
}

impl<T> Clone for Tensor<T> {
    /// O(1): shares the buffer.
    fn clone(&self) -> Self {
        Self {
            shape: Shape::from_slice(&self.shape),
            data: Arc::clone(&self.data),
        }
    }
}

impl<T: Float> Tensor<T> {
    /// A tensor of the given shape over `data` (row-major). Errors when the
    /// lengths disagree.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let expected = shape::numel(shape);
        if data.len() != expected {
            return Err(TapeError::DataLength {
                op: "from_vec",
                shape: Shape::from_slice(shape),
                expected,
                got: data.len(),
            });
        }
        Ok(Self::from_parts(data, Shape::from_slice(shape)))
    }

    /// Builds from parts already known to agree (internal fast path).
    pub(crate) fn from_parts(data: Vec<T>, shape: Shape) -> Self {
        debug_assert_eq!(data.len(), shape::numel(&shape));
        Self {
            shape,
            data: Arc::new(data),
        }
    }

    /// A 0-d tensor holding one value.
    ///
    /// ```
    /// let s = tapegrad_tape::Tensor::scalar(2.5f32);
    /// assert_eq!(s.shape(), &[] as &[usize]);
    /// assert_eq!(s.item().unwrap(), 2.5);
    /// ```
    pub fn scalar(value: T) -> Self {
        Self::from_parts(vec![value], Shape::new())
    }

    /// A tensor with every element equal to `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::from_parts(
            buffers::filled(shape::numel(shape), value),
            Shape::from_slice(shape),
        )
    }

    /// All zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// All ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }

    /// `[0, 1, …, n-1]` as a 1-d tensor.
    ///
    /// ```
    /// let t = tapegrad_tape::Tensor::<f64>::arange(4);
    /// assert_eq!(t.data(), &[0.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn arange(n: usize) -> Self {
        Self::from_parts((0..n).map(T::from_usize).collect(), smallvec::smallvec![n])
    }

    /// The n×n identity matrix.
    ///
    /// ```
    /// let i = tapegrad_tape::Tensor::<f64>::eye(2);
    /// assert_eq!(i.data(), &[1.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn eye(n: usize) -> Self {
        let mut data = buffers::filled(n * n, T::ZERO);
        for i in 0..n {
            data[i * n + i] = T::ONE;
        }
        Self::from_parts(data, smallvec::smallvec![n, n])
    }

    /// The extents, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements, writable; copies the buffer first if another tensor shares it.
    pub fn data_mut(&mut self) -> &mut [T] {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    /// Whether another tensor shares this buffer (a write would copy it).
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.data) > 1
    }

    /// The elements as an owned vector (no copy when not shared).
    pub fn into_vec(mut self) -> Vec<T> {
        match Arc::get_mut(&mut self.data) {
            Some(data) => std::mem::take(data),
            None => (*self.data).clone(),
        }
    }

    /// The element at a multi-index.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        if index.len() != self.ndim() {
            return Err(TapeError::InvalidArgument {
                op: "get",
                name: "index",
                value: format!("{index:?}"),
                reason: format!(
                    "a tensor of shape {:?} needs {} indices",
                    self.shape,
                    self.ndim()
                ),
            });
        }
        let mut offset = 0;
        for (&i, &n) in index.iter().zip(self.shape.iter()) {
            if i >= n {
                return Err(TapeError::IndexOutOfRange {
                    op: "get",
                    index: i,
                    size: n,
                });
            }
            offset = offset * n + i;
        }
        Ok(self.data[offset])
    }

    /// The value of a one-element tensor (any shape with one element).
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TapeError::InvalidShape {
                op: "item",
                shape: self.shape.clone(),
                reason: "item() needs exactly one element".into(),
            });
        }
        Ok(self.data[0])
    }

    /// The same data under another shape with the same number of elements (no copy).
    ///
    /// ```
    /// let t = tapegrad_tape::Tensor::<f32>::arange(6).reshape(&[2, 3]).unwrap();
    /// assert_eq!(t.shape(), &[2, 3]);
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if shape::numel(shape) != self.numel() {
            return Err(TapeError::InvalidShape {
                op: "reshape",
                shape: Shape::from_slice(shape),
                reason: format!(
                    "cannot hold the {} elements of shape {:?}",
                    self.numel(),
                    self.shape
                ),
            });
        }
        Ok(Self {
            shape: Shape::from_slice(shape),
            data: Arc::clone(&self.data),
        })
    }

    /// Converts every element to another float type.
    ///
    /// ```
    /// use tapegrad_tape::Tensor;
    /// let t = Tensor::from_vec(vec![0.5f64, 1.25], &[2]).unwrap();
    /// let u: Tensor<f32> = t.cast();
    /// assert_eq!(u.data(), &[0.5f32, 1.25]);
    /// ```
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_parts(
            self.data.iter().map(|x| U::from_f64(x.to_f64())).collect(),
            self.shape.clone(),
        )
    }

    /// Whether every element is finite.
    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|x| x.is_finite())
    }
}

impl Tensor<f64> {
    /// Converts to `f32` (rounding to nearest).
    pub fn to_f32(&self) -> Tensor<f32> {
        self.cast()
    }
}

impl Tensor<f32> {
    /// Converts to `f64` (exact).
    pub fn to_f64(&self) -> Tensor<f64> {
        self.cast()
    }
}
