//! Anomaly mode, PyTorch's `detect_anomaly`: the first NaN or infinity fails
//! with the op that produced it, instead of surfacing as NaN weights later.
//!
//! The switch belongs to the calling thread, as [`no_grad`](crate::no_grad)'s
//! recording mode: one thread-local byte, read once per recorded op. Off (the
//! default), that read is all it costs.
//!
//! While on:
//! - Forward: every op result is scanned when it is recorded
//!   ([`Var::from_op`] / [`Var::try_from_op`]). An op returning `Result` fails
//!   there and then; an op returning a plain `Var` (the unary ops, `sum`, …)
//!   cannot, so the error is kept and returned by the next fallible call on
//!   this thread: the next fallible op, `backward`, `grad`, or the end of
//!   [`detect_anomaly`]. Only the first is kept.
//! - Backward: every gradient a rule computes for an input is scanned, and
//!   the first non-finite one fails the pass, naming the rule's op. The ops a
//!   rule runs are not checked as forward values.

use std::cell::{Cell, RefCell};

use crate::error::{AnomalyStage, NonFinite, Result, TapeError};
use crate::float::Float;
use crate::tensor::Tensor;
use crate::var::Var;

/// The user's switch.
const ENABLED: u8 = 1;
/// A forward anomaly is kept, not yet returned.
const PENDING: u8 = 2;
/// The engine is running backward rules.
const IN_BACKWARD: u8 = 4;

thread_local! {
    /// The bits above; 0, the default, is the whole cost of the fast path.
    static STATE: Cell<u8> = const { Cell::new(0) };
    /// The forward anomaly kept for the next fallible call.
    static KEPT: RefCell<Option<TapeError>> = const { RefCell::new(None) };
}

fn state() -> u8 {
    STATE.with(Cell::get)
}

fn set_bit(bit: u8, on: bool) -> bool {
    STATE.with(|s| {
        let old = s.get();
        s.set(if on { old | bit } else { old & !bit });
        old & bit != 0
    })
}

/// Switches anomaly mode on or off for this thread (see [`detect_anomaly`] for
/// a scoped form). Switching it off does not drop an anomaly already found:
/// the next fallible call still returns it.
pub fn set_detect_anomaly(enabled: bool) {
    set_bit(ENABLED, enabled);
}

/// Whether anomaly mode is on for this thread.
pub fn is_anomaly_enabled() -> bool {
    state() & ENABLED != 0
}

/// Runs `f` with anomaly mode on, restoring the previous mode afterwards (also
/// when `f` panics), and returns the first anomaly found inside if no
/// fallible call returned it yet; otherwise `f`'s own result.
///
/// The first op whose result holds a NaN or an infinity fails with
/// [`TapeError::Anomaly`] naming it, its inputs' shapes and the stage
/// (`forward value`); in `backward`, the first rule computing a non-finite
/// gradient fails with the op, the shapes and `gradient for input i`. See the
/// [module](self) for when an error surfaces.
///
/// The mode belongs to the calling thread (rayon workers have their own), as
/// [`no_grad`](crate::no_grad)'s recording mode.
///
/// ```
/// use tapegrad_tape::{detect_anomaly, AnomalyStage, TapeError, Tensor, Var};
/// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, -1.0], &[2]).unwrap());
/// let err = detect_anomaly(|| x.log().sum().backward()).unwrap_err();
/// assert!(matches!(err, TapeError::Anomaly { op: "log", stage: AnomalyStage::Forward, .. }));
/// assert_eq!(
///     err.to_string(),
///     "anomaly: `log` gave a non-finite forward value (NaN at element 1; inputs of shapes [[2]])"
/// );
///
/// // √x at 0 is finite, its gradient 1/(2√x) is not.
/// let z = Var::parameter(Tensor::from_vec(vec![4.0f64, 0.0], &[2]).unwrap());
/// let err = detect_anomaly(|| z.sqrt().sum().backward()).unwrap_err();
/// assert!(matches!(err, TapeError::Anomaly { op: "sqrt", stage: AnomalyStage::Gradient { input: 0 }, .. }));
///
/// // Off (the default), the NaN flows on and backward succeeds.
/// assert!(x.log().sum().backward().is_ok());
/// ```
pub fn detect_anomaly<R, E: From<TapeError>>(
    f: impl FnOnce() -> std::result::Result<R, E>,
) -> std::result::Result<R, E> {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_bit(ENABLED, self.0);
        }
    }
    let restore = Restore(set_bit(ENABLED, true));
    let result = f();
    drop(restore);
    take_kept()?;
    result
}

/// Returns the kept forward anomaly, if any (it is then forgotten).
pub(crate) fn take_kept() -> Result<()> {
    if state() & PENDING == 0 {
        return Ok(());
    }
    set_bit(PENDING, false);
    match KEPT.with(|k| k.borrow_mut().take()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The forward check of an op that cannot fail: a non-finite result is kept
/// for the next fallible call (unless one is kept already).
#[inline]
pub(crate) fn note_forward<T: Float>(op: &'static str, value: &Tensor<T>, inputs: &[&Var<T>]) {
    let s = state();
    if s & (ENABLED | PENDING | IN_BACKWARD) != ENABLED {
        return;
    }
    if let Err(e) = scan(op, AnomalyStage::Forward, value, || shapes(inputs)) {
        KEPT.with(|k| *k.borrow_mut() = Some(e));
        set_bit(PENDING, true);
    }
}

/// The forward check of an op that can fail: the kept anomaly, else this
/// op's own.
#[inline]
pub(crate) fn check_forward<T: Float>(
    op: &'static str,
    value: &Tensor<T>,
    inputs: &[&Var<T>],
) -> Result<()> {
    let s = state();
    if s == 0 {
        return Ok(());
    }
    take_kept()?;
    if s & (ENABLED | IN_BACKWARD) != ENABLED {
        return Ok(());
    }
    scan(op, AnomalyStage::Forward, value, || shapes(inputs))
}

/// Whether backward passes starting now check their gradients.
pub(crate) fn checks_gradients() -> bool {
    state() & ENABLED != 0
}

/// The gradient check of a backward rule: `grad`, computed by the rule of
/// `op` for its input `input`, must be finite.
pub(crate) fn check_gradient<T: Float>(
    op: &'static str,
    input: usize,
    grad: &Var<T>,
    inputs: &[Var<T>],
) -> Result<()> {
    let stage = AnomalyStage::Gradient { input };
    grad.with_value(|g| {
        scan(op, stage, g, || {
            inputs.iter().map(|v| v.shape().into()).collect()
        })
    })
}

/// Runs `f` as the engine's backward pass: ops inside are not checked as
/// forward values (their gradients are checked instead).
pub(crate) fn in_backward<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_bit(IN_BACKWARD, self.0);
        }
    }
    let _restore = Restore(set_bit(IN_BACKWARD, true));
    f()
}

fn shapes<T: Float>(inputs: &[&Var<T>]) -> Vec<crate::Shape> {
    inputs.iter().map(|v| v.shape().into()).collect()
}

/// The anomaly error for the first non-finite element of `value`, if any.
fn scan<T: Float>(
    op: &'static str,
    stage: AnomalyStage,
    value: &Tensor<T>,
    input_shapes: impl FnOnce() -> Vec<crate::Shape>,
) -> Result<()> {
    let Some((index, found)) = value
        .data()
        .iter()
        .enumerate()
        .find_map(|(i, x)| NonFinite::of(x.to_f64()).map(|f| (i, f)))
    else {
        return Ok(());
    };
    Err(TapeError::Anomaly {
        op,
        stage,
        input_shapes: input_shapes(),
        found,
        index,
    })
}
