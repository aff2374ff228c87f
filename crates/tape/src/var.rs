//! `Var<T>`: a node of the define-by-run graph.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use smallvec::SmallVec;

use crate::anomaly;
use crate::error::Result;
use crate::float::Float;
use crate::ops::Backward;
use crate::shape::Shape;
use crate::tensor::Tensor;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread are being recorded (false inside [`no_grad`]).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Runs `f` with recording switched to `enabled` on this thread, restoring the
/// previous mode afterwards (also when `f` panics).
pub fn with_grad_mode<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(enabled)));
    f()
}

/// Runs `f` without recording: results of ops inside are constants. Optimizers
/// and evaluation loops use it so that no graph is built.
///
/// The mode belongs to the calling thread. A rayon worker that waits inside `f`
/// may run other queued rayon jobs, which then see recording off: run whole
/// training runs on separate threads (`std::thread`), not as jobs of one pool
/// that also evaluates under `no_grad`.
///
/// ```
/// use tapegrad_tape::{no_grad, Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::ones(&[2]));
/// let y = no_grad(|| w.exp());
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(false, f)
}

/// What an op result keeps for the backward pass: its rule, its inputs, and the
/// inputs' versions when the op ran.
pub(crate) struct GradFn<T: Float> {
    pub(crate) rule: Box<dyn Backward<T>>,
    pub(crate) inputs: SmallVec<[Var<T>; 2]>,
    pub(crate) versions: SmallVec<[u64; 2]>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Constant,
    Parameter,
    Op(&'static str),
}

pub(crate) struct Node<T: Float> {
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    pub(crate) requires_grad: AtomicBool,
    pub(crate) shape: Shape,
    pub(crate) value: RwLock<Tensor<T>>,
    pub(crate) version: AtomicU64,
    pub(crate) grad: Mutex<Option<Tensor<T>>>,
    pub(crate) grad_fn: Mutex<Option<GradFn<T>>>,
    pub(crate) name: Mutex<Option<String>>,
}

/// Locks a mutex, recovering the data if a thread panicked while holding it: the
/// data here (a gradient, a rule) is never left half-updated by a panic.
pub(crate) fn lock<U>(m: &Mutex<U>) -> MutexGuard<'_, U> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Float> Drop for Node<T> {
    /// Frees the chain of inputs iteratively: dropping a 100 000-deep graph
    /// recursively would overflow the stack.
    fn drop(&mut self) {
        let Some(grad_fn) = self
            .grad_fn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let mut stack: Vec<Var<T>> = grad_fn.inputs.into_vec();
        while let Some(var) = stack.pop() {
            if let Some(mut node) = Arc::into_inner(var.0) {
                let inner = node
                    .grad_fn
                    .get_mut()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                if let Some(inner) = inner {
                    stack.extend(inner.inputs);
                }
            }
        }
    }
}

/// A value in the computation graph.
///
/// A `Var` is a constant ([`Var::constant`]), a parameter ([`Var::parameter`]: a
/// leaf that accumulates a gradient), or the result of an op, which remembers its
/// inputs and the rule for its gradient. Cloning is cheap (an [`Arc`]); vars are
/// `Send + Sync`, so a model can be shared between threads.
///
/// ```
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap());
/// let y = x.mul(&x).unwrap().sum();          // y = Σ x²
/// y.backward().unwrap();
/// assert_eq!(x.grad().unwrap().data(), &[2.0, 4.0, 6.0]); // dy/dx = 2x
/// ```
pub struct Var<T: Float = f32>(pub(crate) Arc<Node<T>>);

impl<T: Float> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var(Arc::clone(&self.0))
    }
}

/// A reference to a [`Var`] that does not keep it alive.
pub struct WeakVar<T: Float = f32>(Weak<Node<T>>);

impl<T: Float> WeakVar<T> {
    /// The var, if something still holds it.
    pub fn upgrade(&self) -> Option<Var<T>> {
        self.0.upgrade().map(Var)
    }
}

impl<T: Float> Var<T> {
    fn new_node(
        value: Tensor<T>,
        kind: Kind,
        requires_grad: bool,
        grad_fn: Option<GradFn<T>>,
    ) -> Self {
        Var(Arc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind,
            requires_grad: AtomicBool::new(requires_grad),
            shape: Shape::from_slice(value.shape()),
            value: RwLock::new(value),
            version: AtomicU64::new(0),
            grad: Mutex::new(None),
            grad_fn: Mutex::new(grad_fn),
            name: Mutex::new(None),
        }))
    }

    /// A leaf that requires a gradient: `backward()` accumulates into its
    /// [`Var::grad`], and optimizers update its value in place.
    pub fn parameter(value: Tensor<T>) -> Self {
        Self::new_node(value, Kind::Parameter, true, None)
    }

    /// A value that is not differentiated (data, labels, masks).
    pub fn constant(value: Tensor<T>) -> Self {
        Self::new_node(value, Kind::Constant, false, None)
    }

    /// A constant 0-d var.
    pub fn scalar(value: T) -> Self {
        Self::constant(Tensor::scalar(value))
    }

    /// Records the result of an op: when recording is on and an input requires a
    /// gradient, the result keeps `rule` and its inputs; otherwise it is a constant.
    ///
    /// This is how every op of the crate is built, and how a user adds an op of
    /// their own: compute `value` from the inputs' values, and give a
    /// [`Backward`] rule written with `Var` ops.
    ///
    /// Under [anomaly mode](crate::detect_anomaly), a non-finite `value` is
    /// kept and returned by the next fallible call; an op that returns a
    /// `Result` uses [`Var::try_from_op`], which fails at once.
    pub fn from_op(
        op: &'static str,
        value: Tensor<T>,
        inputs: &[&Var<T>],
        rule: impl Backward<T> + 'static,
    ) -> Self {
        anomaly::note_forward(op, &value, inputs);
        Self::record(op, value, inputs, rule)
    }

    /// As [`Var::from_op`], for an op that returns a `Result`: under
    /// [anomaly mode](crate::detect_anomaly) a non-finite `value` (or an
    /// anomaly kept from an earlier op) is returned as the error.
    ///
    /// ```
    /// use tapegrad_tape::{detect_anomaly, Ctx, Grads, Result, TapeError, Tensor, Var};
    /// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap());
    /// // y = 1/x, an op of one's own.
    /// let inverse = |x: &Var<f64>| -> Result<Var<f64>> {
    ///     let value = x.value().map(|v| 1.0 / v);
    ///     Var::try_from_op("inverse", value, &[x], |c: &Ctx<'_, f64>| -> Result<Grads<f64>> {
    ///         let g = c.grad.mul(c.output)?.mul(c.output)?.neg();
    ///         Ok([Some(g)].into_iter().collect())
    ///     })
    /// };
    /// assert!(inverse(&x).is_ok()); // anomaly mode off: inf is a value like any
    /// let err = detect_anomaly(|| inverse(&x)).unwrap_err();
    /// assert!(matches!(err, TapeError::Anomaly { op: "inverse", index: 1, .. }));
    /// ```
    pub fn try_from_op(
        op: &'static str,
        value: Tensor<T>,
        inputs: &[&Var<T>],
        rule: impl Backward<T> + 'static,
    ) -> Result<Self> {
        anomaly::check_forward(op, &value, inputs)?;
        Ok(Self::record(op, value, inputs, rule))
    }

    fn record(
        op: &'static str,
        value: Tensor<T>,
        inputs: &[&Var<T>],
        rule: impl Backward<T> + 'static,
    ) -> Self {
        let records = is_grad_enabled() && inputs.iter().any(|v| v.requires_grad());
        if !records {
            return Self::new_node(value, Kind::Constant, false, None);
        }
        // Pushing one by one: `collect` into a SmallVec costs several times more
        // for the one or two inputs of a typical op.
        let mut grad_fn = GradFn {
            rule: Box::new(rule),
            inputs: SmallVec::new(),
            versions: SmallVec::new(),
        };
        for &v in inputs {
            grad_fn.inputs.push(v.clone());
            grad_fn.versions.push(v.version());
        }
        Self::new_node(value, Kind::Op(op), true, Some(grad_fn))
    }

    /// The current value (a cheap clone sharing the buffer).
    pub fn value(&self) -> Tensor<T> {
        self.0
            .value
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `f` on the value without cloning it.
    pub fn with_value<R>(&self, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        f(&self.0.value.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.0.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        crate::shape::numel(&self.0.shape)
    }

    /// The value of a one-element var.
    pub fn item(&self) -> Result<T> {
        self.with_value(Tensor::item)
    }

    /// Whether gradients flow to or through this var.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Acquire)
    }

    /// Freezes (`false`) or unfreezes (`true`) a parameter, as PyTorch's
    /// `requires_grad_`: a frozen parameter is a leaf that ops treat as a
    /// constant, so `backward` computes nothing for it, its gradient stays
    /// `None` after [`Var::zero_grad`], and optimizers, which skip parameters
    /// without a gradient, leave it unchanged. Graphs recorded before the
    /// change keep the inputs they recorded, but a later backward pass through
    /// them computes no gradient for a frozen parameter.
    ///
    /// Only parameters can be switched: a constant or an op's result gives
    /// [`TapeError::InvalidArgument`](crate::TapeError::InvalidArgument) (use
    /// [`Var::parameter`] or [`Var::detach`]).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
    /// let b = Var::parameter(Tensor::from_vec(vec![3.0f64], &[1]).unwrap());
    /// b.set_requires_grad(false).unwrap();
    /// w.mul(&w).unwrap().add(&b).unwrap().sum().backward().unwrap();
    /// assert_eq!(w.grad().unwrap().data(), &[2.0, 4.0]);
    /// assert!(b.grad().is_none());
    /// assert!(b.is_parameter() && !b.requires_grad());
    /// ```
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        if self.0.kind != Kind::Parameter {
            return Err(crate::TapeError::InvalidArgument {
                op: "set_requires_grad",
                name: "var",
                value: format!("{} {}", self.op_name(), self.name()),
                reason: "only a parameter (a leaf made by Var::parameter) can be frozen \
                         or unfrozen"
                    .into(),
            });
        }
        self.0.requires_grad.store(requires_grad, Ordering::Release);
        Ok(())
    }

    /// Whether this var is a parameter (a leaf holding a gradient).
    pub fn is_parameter(&self) -> bool {
        self.0.kind == Kind::Parameter
    }

    /// The name of the op that produced this var (`"parameter"` or `"constant"`
    /// for leaves).
    pub fn op_name(&self) -> &'static str {
        match self.0.kind {
            Kind::Constant => "constant",
            Kind::Parameter => "parameter",
            Kind::Op(name) => name,
        }
    }

    /// A number unique to this var, increasing in creation order.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// How many times the value was modified in place.
    pub fn version(&self) -> u64 {
        self.0.version.load(Ordering::Acquire)
    }

    /// Gives the var a name, used in error messages and by `nn` when saving.
    pub fn set_name(&self, name: impl Into<String>) {
        *lock(&self.0.name) = Some(name.into());
    }

    /// The name given with [`Var::set_name`], or `#id`.
    pub fn name(&self) -> String {
        lock(&self.0.name)
            .clone()
            .unwrap_or_else(|| format!("#{}", self.0.id))
    }

    /// The accumulated gradient of a parameter, if `backward` reached it since the
    /// last [`Var::zero_grad`].
    pub fn grad(&self) -> Option<Tensor<T>> {
        lock(&self.0.grad).clone()
    }

    /// Replaces the gradient (used by gradient clipping).
    pub fn set_grad(&self, grad: Option<Tensor<T>>) {
        *lock(&self.0.grad) = grad;
    }

    /// Forgets the gradient, as PyTorch's `zero_grad(set_to_none=True)`.
    pub fn zero_grad(&self) {
        *lock(&self.0.grad) = None;
    }

    /// Runs `f` on the gradient slot in place (for fused optimizer updates).
    pub fn with_grad_mut<R>(&self, f: impl FnOnce(&mut Option<Tensor<T>>) -> R) -> R {
        f(&mut lock(&self.0.grad))
    }

    /// Modifies the elements in place and bumps the version counter, so that a
    /// backward pass through a graph that used the old value fails instead of
    /// returning wrong gradients. The buffer is copied first only if a graph still
    /// shares it.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::<f64>::ones(&[2]));
    /// w.update(|data| data[0] = 5.0);
    /// assert_eq!(w.value().data(), &[5.0, 1.0]);
    /// assert_eq!(w.version(), 1);
    /// ```
    pub fn update<R>(&self, f: impl FnOnce(&mut [T]) -> R) -> R {
        let mut guard = self.0.value.write().unwrap_or_else(|e| e.into_inner());
        let result = f(guard.data_mut());
        self.0.version.fetch_add(1, Ordering::AcqRel);
        result
    }

    /// Replaces the value with a tensor of the same shape (loading weights, say),
    /// bumping the version counter.
    pub fn set_value(&self, value: Tensor<T>) -> Result<()> {
        if value.shape() != self.shape() {
            return Err(crate::TapeError::ShapeMismatch {
                op: "set_value",
                lhs: self.0.shape.clone(),
                rhs: value.shape().into(),
            });
        }
        *self.0.value.write().unwrap_or_else(|e| e.into_inner()) = value;
        self.0.version.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// The value of a var that nothing else can reach (no clone, no `WeakVar`,
    /// no op that recorded it), taken out; the var keeps its shape and an empty
    /// value. `None` when the var is shared.
    pub(crate) fn take_unreachable_value(&self) -> Option<Tensor<T>> {
        if Arc::strong_count(&self.0) != 1 || Arc::weak_count(&self.0) != 0 {
            return None;
        }
        let mut value = self.0.value.write().unwrap_or_else(|e| e.into_inner());
        Some(std::mem::replace(
            &mut *value,
            Tensor::from_parts(Vec::new(), smallvec::smallvec![0]),
        ))
    }

    /// [`Var::take_unreachable_value`] for a constant only, so that an op can
    /// write its result over the buffer: the engine's gradients are such
    /// constants in a backward pass that builds no graph.
    pub(crate) fn take_unshared_value(&self) -> Option<Tensor<T>> {
        if self.0.kind != Kind::Constant {
            return None;
        }
        self.take_unreachable_value()
    }

    /// The same value as a constant, cut from the graph.
    pub fn detach(&self) -> Self {
        Self::constant(self.value())
    }

    /// A reference that does not keep the var alive.
    pub fn downgrade(&self) -> WeakVar<T> {
        WeakVar(Arc::downgrade(&self.0))
    }

    /// Whether the var still holds its backward rule (false for leaves and after a
    /// backward pass that freed the graph).
    pub fn has_grad_fn(&self) -> bool {
        lock(&self.0.grad_fn).is_some()
    }

    /// Whether two handles refer to the same node.
    pub fn same(&self, other: &Var<T>) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: Float> std::fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Var({}, op={}, requires_grad={})",
            self.value(),
            self.op_name(),
            self.requires_grad()
        )
    }
}
