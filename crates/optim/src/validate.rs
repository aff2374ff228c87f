//! Range checks shared by the optimizer and schedule constructors.

use crate::error::{OptimError, Result};

fn invalid(optimizer: &'static str, name: &'static str, value: f64, reason: &str) -> OptimError {
    OptimError::InvalidHyperParameter {
        optimizer,
        name,
        value: format!("{value}"),
        reason: reason.to_string(),
    }
}

/// `value >= 0` and finite (NaN and ∞ are refused: they poison every later step).
/// No constraint (a boolean option).
pub(crate) fn any(_: &'static str, _: &'static str, _: f64) -> Result<()> {
    Ok(())
}

pub(crate) fn non_negative(optimizer: &'static str, name: &'static str, value: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(invalid(optimizer, name, value, "must be a finite number"));
    }
    if value < 0.0 {
        return Err(invalid(optimizer, name, value, "must be >= 0"));
    }
    Ok(())
}

/// `value > 0` and finite.
pub(crate) fn positive(optimizer: &'static str, name: &'static str, value: f64) -> Result<()> {
    non_negative(optimizer, name, value)?;
    if value == 0.0 {
        return Err(invalid(optimizer, name, value, "must be > 0"));
    }
    Ok(())
}

/// `0 <= value < 1` (a decay rate whose moving average must forget).
pub(crate) fn unit_half_open(
    optimizer: &'static str,
    name: &'static str,
    value: f64,
) -> Result<()> {
    if !(0.0..1.0).contains(&value) {
        return Err(invalid(optimizer, name, value, "must be in [0, 1)"));
    }
    Ok(())
}

/// `0 <= value <= 1`.
pub(crate) fn unit_closed(optimizer: &'static str, name: &'static str, value: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&value) {
        return Err(invalid(optimizer, name, value, "must be in [0, 1]"));
    }
    Ok(())
}

/// A count that must be at least 1.
pub(crate) fn at_least_one(
    optimizer: &'static str,
    name: &'static str,
    value: usize,
) -> Result<()> {
    if value == 0 {
        return Err(invalid(optimizer, name, 0.0, "must be >= 1"));
    }
    Ok(())
}

/// A refusal with a reason of the caller's own.
pub(crate) fn refuse(
    optimizer: &'static str,
    name: &'static str,
    value: f64,
    reason: &str,
) -> OptimError {
    invalid(optimizer, name, value, reason)
}

pub(crate) fn non_positive(optimizer: &'static str, name: &'static str, value: f64) -> Result<()> {
    if !(value.is_finite() && value <= 0.0) {
        return Err(invalid(
            optimizer,
            name,
            value,
            "must be a finite number <= 0",
        ));
    }
    Ok(())
}

pub(crate) fn at_least_one_real(
    optimizer: &'static str,
    name: &'static str,
    value: f64,
) -> Result<()> {
    if !(value.is_finite() && value >= 1.0) {
        return Err(invalid(
            optimizer,
            name,
            value,
            "must be a finite number >= 1",
        ));
    }
    Ok(())
}

pub(crate) fn fewer_than_100(
    optimizer: &'static str,
    name: &'static str,
    value: f64,
) -> Result<()> {
    if value >= 100.0 {
        return Err(invalid(optimizer, name, value, "must be < 100"));
    }
    Ok(())
}

pub(crate) fn finite(optimizer: &'static str, name: &'static str, value: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(invalid(optimizer, name, value, "must be a finite number"));
    }
    Ok(())
}

/// An option the optimizer does not have, which must stay 0 (L-BFGS's weight
/// decay).
pub(crate) fn zero(optimizer: &'static str, name: &'static str, value: f64) -> Result<()> {
    if value != 0.0 {
        return Err(invalid(
            optimizer,
            name,
            value,
            "must be 0: this optimizer has none (add it to the objective instead)",
        ));
    }
    Ok(())
}

/// A count given as an `f64` (a declared `usize` option) that must be at least 1.
pub(crate) fn count_at_least_one(
    optimizer: &'static str,
    name: &'static str,
    value: f64,
) -> Result<()> {
    if value < 1.0 {
        return Err(invalid(optimizer, name, value, "must be >= 1"));
    }
    Ok(())
}
