//! Buffers: the state of a module that is not trained (BatchNorm's running
//! statistics), saved beside the parameters under PyTorch's names and never
//! given to an optimizer.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tapegrad_tape::{Float, Tensor};

use crate::error::{NnError, Result};

/// The value of a buffer: a tensor of the model's element type, or a count
/// (PyTorch's `int64` 0-d `num_batches_tracked`).
#[derive(Debug, Clone, PartialEq)]
pub enum BufferValue<T: Float> {
    /// A tensor of the model's element type (`running_mean`, `running_var`).
    Float(Tensor<T>),
    /// A 0-d 64-bit integer (`num_batches_tracked`).
    Count(i64),
}

impl<T: Float> BufferValue<T> {
    /// The shape: the tensor's, or `[]` for a count.
    pub fn shape(&self) -> &[usize] {
        match self {
            Self::Float(t) => t.shape(),
            Self::Count(_) => &[],
        }
    }

    /// The safetensors name of the element type: `"F32"`/`"F64"`, or `"I64"`.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Self::Float(_) if T::NAME == "f32" => "F32",
            Self::Float(_) => "F64",
            Self::Count(_) => "I64",
        }
    }
}

/// A named piece of non-trainable module state: a cheap handle (cloning shares
/// the value, as a [`tapegrad_tape::Var`] does), `Send + Sync`, whose value
/// keeps its kind and shape for life.
///
/// A module lists its buffers with [`crate::Module::visit_own_buffers`]; they
/// then appear in [`crate::Module::named_buffers`] and in the safetensors
/// files of [`crate::save_safetensors`] under their dotted names
/// (`"1.running_mean"`), exactly as in PyTorch's `state_dict`.
///
/// ```
/// use tapegrad_nn::{Buffer, BufferValue};
/// use tapegrad_tape::Tensor;
/// let mean = Buffer::new(BufferValue::Float(Tensor::<f64>::zeros(&[3])));
/// let seen = mean.clone();
/// mean.set(BufferValue::Float(Tensor::ones(&[3]))).unwrap();
/// assert_eq!(seen.value(), BufferValue::Float(Tensor::ones(&[3])));
/// assert!(mean.set(BufferValue::Count(1)).is_err()); // a tensor stays a tensor
/// ```
#[derive(Clone)]
pub struct Buffer<T: Float>(Arc<RwLock<BufferValue<T>>>);

impl<T: Float> Buffer<T> {
    /// A buffer holding `value`.
    pub fn new(value: BufferValue<T>) -> Self {
        Self(Arc::new(RwLock::new(value)))
    }

    /// A tensor buffer.
    pub fn tensor(value: Tensor<T>) -> Self {
        Self::new(BufferValue::Float(value))
    }

    /// A count buffer.
    pub fn count(value: i64) -> Self {
        Self::new(BufferValue::Count(value))
    }

    /// A copy of the current value.
    pub fn value(&self) -> BufferValue<T> {
        self.read().clone()
    }

    /// The shape of the value (`[]` for a count).
    pub fn shape(&self) -> Vec<usize> {
        self.read().shape().to_vec()
    }

    /// Replaces the value by one of the same kind and shape; otherwise
    /// [`NnError::InvalidArgument`] names both, and the value is unchanged.
    pub fn set(&self, value: BufferValue<T>) -> Result<()> {
        let mut slot = self.write();
        let same_kind = matches!(
            (&*slot, &value),
            (BufferValue::Float(_), BufferValue::Float(_))
                | (BufferValue::Count(_), BufferValue::Count(_))
        );
        if !same_kind || slot.shape() != value.shape() {
            return Err(NnError::InvalidArgument {
                op: "Buffer::set",
                name: "value",
                value: format!("{} {:?}", value.dtype_name(), value.shape()),
                reason: format!("the buffer holds {} {:?}", slot.dtype_name(), slot.shape()),
            });
        }
        *slot = value;
        Ok(())
    }

    /// Shared access to the value, for a layer's forward pass.
    pub fn read(&self) -> RwLockReadGuard<'_, BufferValue<T>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access to the value, for a layer's in-place update; the
    /// layer keeps its kind and shape.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, BufferValue<T>> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Float> std::fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = self.read();
        write!(f, "Buffer({} {:?})", value.dtype_name(), value.shape())
    }
}
