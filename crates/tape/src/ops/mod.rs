//! Differentiable ops. Each file holds a family of ops, each forward next to its
//! gradient rule; the rules are written with `Var` ops, so they can be
//! differentiated again (second derivatives, Hessian-vector products).

mod activation;
mod attention;
mod broadcast;
pub(crate) mod composed;
mod conv;
mod elementwise;
mod embedding;
mod linear;
mod matmul;
mod norm;
mod normalize;
mod pool;
mod recurrent;
mod reduce;
mod robust;
mod shape_ops;
mod softmax;

pub use activation::GeluApproximate;
pub use attention::{AttentionMask, AttentionOptions};
pub use conv::{Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions};
pub use norm::RunningStats;
use smallvec::SmallVec;

use crate::error::Result;
use crate::float::Float;
use crate::var::Var;

/// The gradients a rule returns, one per input (`None` where an input gets none).
pub type Grads<T> = SmallVec<[Option<Var<T>>; 2]>;

/// What a backward rule sees: the op's inputs and output as vars, the gradient
/// flowing into the output, and which inputs need a gradient.
pub struct Ctx<'a, T: Float> {
    /// The op's inputs, in the order they were recorded.
    pub inputs: &'a [Var<T>],
    /// The op's result (its value is what the forward pass computed).
    pub output: &'a Var<T>,
    /// ∂L/∂output, of the output's shape.
    pub grad: &'a Var<T>,
    pub(crate) needs: &'a [bool],
}

impl<T: Float> Ctx<'_, T> {
    /// Whether input `i` needs a gradient; rules skip the work for those that don't.
    pub fn needs(&self, i: usize) -> bool {
        self.needs[i]
    }
}

/// The gradient rule of an op: maps ∂L/∂output to ∂L/∂input for each input.
///
/// A rule may return a gradient of a broadcast shape; the engine sums it back to
/// the input's shape. Rules are built from `Var` ops: the engine runs them without
/// recording for a plain backward pass, and with recording when a differentiable
/// gradient is asked for (`create_graph`).
pub trait Backward<T: Float>: Send + Sync {
    /// Computes the inputs' gradients.
    fn backward(&self, ctx: &Ctx<'_, T>) -> Result<Grads<T>>;

    /// Whether the rule reads the value of `ctx.output`. When it does not, a
    /// backward pass that frees the graph also frees the output's value just
    /// before the rule runs, if no handle to the result is left (no `Var`, no
    /// [`WeakVar`](crate::WeakVar), no later op): the gradient buffers the rule
    /// allocates then take the place of an activation that is no longer
    /// needed. A closure is assumed to read it; wrap one in [`OutputNotRead`]
    /// to say it does not.
    fn reads_output(&self) -> bool {
        true
    }
}

/// A rule that never reads the value of `ctx.output` (its shape, which stays
/// known, may be used); see [`Backward::reads_output`]. Rules such as ReLU's
/// (which reads its input), a product's or a pooling's are of this kind.
///
/// ```
/// use tapegrad_tape::ops::OutputNotRead;
/// use tapegrad_tape::{Ctx, Grads, Result, Tensor, Var};
/// // y = 3x, whose rule needs neither x nor y.
/// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let value = x.value().scale(3.0);
/// let rule = OutputNotRead(|c: &Ctx<'_, f64>| -> Result<Grads<f64>> {
///     Ok([Some(c.grad * 3.0)].into_iter().collect())
/// });
/// let y = Var::from_op("triple", value, &[&x], rule);
/// y.sum().backward().unwrap();
/// assert_eq!(x.grad().unwrap().data(), &[3.0, 3.0]);
/// ```
pub struct OutputNotRead<F>(pub F);

impl<T: Float, F> Backward<T> for OutputNotRead<F>
where
    F: Fn(&Ctx<'_, T>) -> Result<Grads<T>> + Send + Sync,
{
    fn backward(&self, ctx: &Ctx<'_, T>) -> Result<Grads<T>> {
        (self.0)(ctx)
    }

    fn reads_output(&self) -> bool {
        false
    }
}

/// A rule given as a closure.
impl<T: Float, F> Backward<T> for F
where
    F: Fn(&Ctx<'_, T>) -> Result<Grads<T>> + Send + Sync,
{
    fn backward(&self, ctx: &Ctx<'_, T>) -> Result<Grads<T>> {
        self(ctx)
    }
}
