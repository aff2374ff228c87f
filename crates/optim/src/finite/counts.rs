//! The skipped-step counters of `ApplyIfFinite` and their place in the state.

use tapegrad_tape::Float;

use crate::error::{OptimError, Result};
use crate::state::{MAX_STEP, StateDict};

const LIMIT: &str = "apply_if_finite.max_consecutive_errors";
const CONSECUTIVE: &str = "apply_if_finite.notfinite_count";
const LAST_FINITE: &str = "apply_if_finite.last_finite";
const TOTAL: &str = "apply_if_finite.total_notfinite";
/// The names of the appended options, in order.
const NAMES: [&str; 4] = [LIMIT, CONSECUTIVE, LAST_FINITE, TOTAL];

/// The counters of [`crate::ApplyIfFinite`], as optax names them.
///
/// ```
/// let c = tapegrad_optim::NonFiniteCounts::default();
/// assert_eq!((c.notfinite_count, c.last_finite, c.total_notfinite), (0, true, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFiniteCounts {
    /// Steps skipped in a row up to now; 0 after a step that was applied.
    pub notfinite_count: u64,
    /// Whether the gradients of the last step were all finite (`true` before the first step).
    pub last_finite: bool,
    /// Steps skipped since the start.
    pub total_notfinite: u64,
}

impl Default for NonFiniteCounts {
    fn default() -> Self {
        Self {
            notfinite_count: 0,
            last_finite: true,
            total_notfinite: 0,
        }
    }
}

impl NonFiniteCounts {
    /// After an applied step.
    pub(super) fn applied(self) -> Self {
        Self {
            notfinite_count: 0,
            last_finite: true,
            ..self
        }
    }

    /// After one more skipped step; refused past [`MAX_STEP`].
    pub(super) fn skipped(self, optimizer: &'static str) -> Result<Self> {
        let bump = |count: u64, name: &str| {
            count
                .checked_add(1)
                .filter(|&c| c <= MAX_STEP)
                .ok_or_else(|| OptimError::CounterLimit {
                    optimizer,
                    counter: name.to_string(),
                    limit: MAX_STEP,
                })
        };
        Ok(Self {
            notfinite_count: bump(self.notfinite_count, CONSECUTIVE)?,
            last_finite: false,
            total_notfinite: bump(self.total_notfinite, TOTAL)?,
        })
    }

    /// The options appended to the wrapped optimizer's; counts up to
    /// [`MAX_STEP`] are exact in f64.
    pub(super) fn options(self, limit: Option<u64>) -> impl Iterator<Item = (String, f64)> {
        let values = [
            limit.map_or(f64::INFINITY, |n| n as f64),
            self.notfinite_count as f64,
            f64::from(u8::from(self.last_finite)),
            self.total_notfinite as f64,
        ];
        NAMES.into_iter().map(String::from).zip(values)
    }
}

/// Splits a saved state into the wrapped optimizer's part and the counters,
/// refusing a state saved without the wrapper, with another limit, or with
/// counters no run can produce.
pub(super) fn split<T: Float>(
    state: &StateDict<T>,
    optimizer: &'static str,
    limit: Option<u64>,
) -> Result<(StateDict<T>, NonFiniteCounts)> {
    let n = state.options.len();
    let own = n
        .checked_sub(NAMES.len())
        .map(|start| &state.options[start..]);
    let Some(own) = own.filter(|own| own.iter().map(|(k, _)| k.as_str()).eq(NAMES)) else {
        return Err(OptimError::StateMismatch {
            optimizer,
            reason: format!("the state was saved without ApplyIfFinite (no option {LIMIT})"),
        });
    };
    let expected = limit.map_or(f64::INFINITY, |n| n as f64);
    if own[0].1.to_bits() != expected.to_bits() {
        return Err(OptimError::StateMismatch {
            optimizer,
            reason: format!(
                "option {LIMIT} was {} when saved, this optimizer has {expected}",
                own[0].1
            ),
        });
    }
    let counts = restore(optimizer, [own[1].1, own[2].1, own[3].1], limit)?;
    let inner = StateDict {
        optimizer: state.optimizer.clone(),
        options: state.options[..n - NAMES.len()].to_vec(),
        groups: state.groups.clone(),
        state: state.state.clone(),
    };
    Ok((inner, counts))
}

/// The counters from their saved values, checked against each other.
fn restore(
    optimizer: &'static str,
    [consecutive, last_finite, total]: [f64; 3],
    limit: Option<u64>,
) -> Result<NonFiniteCounts> {
    let impossible = |counter: &str, value: f64, reason: String| OptimError::ImpossibleCounter {
        optimizer,
        counter: counter.to_string(),
        value: if value.abs() < 1e16 {
            value.to_string()
        } else {
            format!("{value:e}")
        },
        reason,
    };
    let count = |name: &str, v: f64| {
        let whole = v.is_finite() && v.fract() == 0.0 && (0.0..=MAX_STEP as f64).contains(&v);
        let why = || format!("a count is a whole number from 0 to 2^53 = {MAX_STEP}");
        whole
            .then_some(v as u64)
            .ok_or_else(|| impossible(name, v, why()))
    };
    let (notfinite_count, total_notfinite) =
        (count(CONSECUTIVE, consecutive)?, count(TOTAL, total)?);
    if last_finite != 0.0 && last_finite != 1.0 {
        return Err(impossible(
            LAST_FINITE,
            last_finite,
            "a flag is 0 or 1".into(),
        ));
    }
    let last_finite = last_finite == 1.0;
    let reason = if notfinite_count > total_notfinite {
        format!("more than the {total_notfinite} steps skipped in total")
    } else if last_finite && notfinite_count > 0 {
        "an applied last step leaves no step skipped in a row".to_string()
    } else if !last_finite && notfinite_count == 0 {
        "a skipped last step leaves at least one step skipped in a row".to_string()
    } else if let Some(n) = limit.filter(|&n| notfinite_count > n) {
        format!("at most {n} steps in a row are skipped")
    } else {
        return Ok(NonFiniteCounts {
            notfinite_count,
            last_finite,
            total_notfinite,
        });
    };
    Err(impossible(CONSECUTIVE, consecutive, reason))
}
