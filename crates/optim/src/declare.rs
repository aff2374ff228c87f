//! An optimizer's options declared once: [`config!`] writes the struct, its
//! `Default` (PyTorch's defaults), the validation of every option, the list
//! saved in the state, setting an option by name, and the table in the docs.

use crate::error::{OptimError, Result};

/// A range check: `(optimizer, option, value)`, as in [`crate::validate`].
pub(crate) type Check = fn(&'static str, &'static str, f64) -> Result<()>;

/// The names one declared option goes by: itself, and its components `.0`,
/// `.1` (and `.2`) for a pair or a triple (`betas`, `betas.0`, `betas.1`).
pub(crate) type Names = [&'static str; 4];

/// A value an option can hold: `f64`, `Option<f64>`, `bool`, `usize`, an
/// enumeration, or a pair or a triple of those.
pub(crate) trait OptionValue: Copy {
    /// Applies `check` to the value (each component of a pair).
    fn check(&self, optimizer: &'static str, names: Names, check: Check) -> Result<()>;
    /// Appends the value as saved in a state (booleans as 0 or 1).
    fn record(&self, names: Names, out: &mut Vec<(String, f64)>);
    /// Sets the value, or the component `name` names, from an `f64`; `false`
    /// when `name` is not one of `names` or `value` cannot be held.
    fn assign(&mut self, names: Names, name: &str, value: f64) -> bool;
}

impl OptionValue for f64 {
    fn check(&self, optimizer: &'static str, names: Names, check: Check) -> Result<()> {
        check(optimizer, names[0], *self)
    }
    fn record(&self, names: Names, out: &mut Vec<(String, f64)>) {
        out.push((names[0].to_string(), *self));
    }
    fn assign(&mut self, names: Names, name: &str, value: f64) -> bool {
        let hit = name == names[0];
        if hit {
            *self = value;
        }
        hit
    }
}

impl OptionValue for bool {
    fn check(&self, optimizer: &'static str, names: Names, check: Check) -> Result<()> {
        check(optimizer, names[0], f64::from(u8::from(*self)))
    }
    fn record(&self, names: Names, out: &mut Vec<(String, f64)>) {
        out.push((names[0].to_string(), f64::from(u8::from(*self))));
    }
    fn assign(&mut self, names: Names, name: &str, value: f64) -> bool {
        let hit = name == names[0] && (value == 0.0 || value == 1.0);
        if hit {
            *self = value == 1.0;
        }
        hit
    }
}

impl OptionValue for usize {
    fn check(&self, optimizer: &'static str, names: Names, check: Check) -> Result<()> {
        check(optimizer, names[0], *self as f64)
    }
    fn record(&self, names: Names, out: &mut Vec<(String, f64)>) {
        out.push((names[0].to_string(), *self as f64));
    }
    fn assign(&mut self, names: Names, name: &str, value: f64) -> bool {
        let whole = value >= 0.0 && value.fract() == 0.0 && value <= u32::MAX as f64;
        let hit = name == names[0] && whole;
        if hit {
            *self = value as usize;
        }
        hit
    }
}

/// `None` is saved as −1 and set from NaN or −1 (PyTorch's `None`, as in
/// Adafactor's `eps=(None, 1e-3)`); a value is checked as an `f64`.
impl OptionValue for Option<f64> {
    fn check(&self, optimizer: &'static str, names: Names, check: Check) -> Result<()> {
        self.map_or(Ok(()), |v| check(optimizer, names[0], v))
    }
    fn record(&self, names: Names, out: &mut Vec<(String, f64)>) {
        out.push((names[0].to_string(), self.unwrap_or(-1.0)));
    }
    fn assign(&mut self, names: Names, name: &str, value: f64) -> bool {
        let hit = name == names[0];
        if hit {
            *self = (!(value.is_nan() || value == -1.0)).then_some(value);
        }
        hit
    }
}

/// `None` is saved as −1 and set from NaN or −1 (L-BFGS's `max_eval=None`);
/// a count is checked as an `f64`.
impl OptionValue for Option<usize> {
    fn check(&self, optimizer: &'static str, names: Names, check: Check) -> Result<()> {
        self.map_or(Ok(()), |v| check(optimizer, names[0], v as f64))
    }
    fn record(&self, names: Names, out: &mut Vec<(String, f64)>) {
        out.push((names[0].to_string(), self.map_or(-1.0, |v| v as f64)));
    }
    fn assign(&mut self, names: Names, name: &str, value: f64) -> bool {
        if name != names[0] {
            return false;
        }
        if value.is_nan() || value == -1.0 {
            *self = None;
            return true;
        }
        let mut count = 0usize;
        let hit = count.assign(names, name, value);
        if hit {
            *self = Some(count);
        }
        hit
    }
}

/// An enumeration option, saved and set by the index of its variant in
/// `$ty::ALL` (never range-checked: every index it takes is a variant).
macro_rules! indexed_option {
    ($ty:ty) => {
        impl $crate::declare::OptionValue for $ty {
            fn check(
                &self,
                _: &'static str,
                _: $crate::declare::Names,
                _: $crate::declare::Check,
            ) -> $crate::Result<()> {
                Ok(())
            }
            fn record(&self, names: $crate::declare::Names, out: &mut Vec<(String, f64)>) {
                let index = Self::ALL.iter().position(|m| m == self).unwrap_or(0);
                out.push((names[0].to_string(), index as f64));
            }
            fn assign(&mut self, names: $crate::declare::Names, name: &str, value: f64) -> bool {
                let found = (Self::ALL.iter().enumerate()).find(|(i, _)| *i as f64 == value);
                match found {
                    Some((_, &m)) if name == names[0] => {
                        *self = m;
                        true
                    }
                    _ => false,
                }
            }
        }
    };
}

/// The components of a tuple by the names `.0`, `.1`, `.2`.
fn component(names: Names, i: usize) -> Names {
    [names[i + 1]; 4]
}

impl<A: OptionValue, B: OptionValue> OptionValue for (A, B) {
    fn check(&self, optimizer: &'static str, names: Names, check: Check) -> Result<()> {
        self.0.check(optimizer, component(names, 0), check)?;
        self.1.check(optimizer, component(names, 1), check)
    }
    fn record(&self, names: Names, out: &mut Vec<(String, f64)>) {
        self.0.record(component(names, 0), out);
        self.1.record(component(names, 1), out);
    }
    fn assign(&mut self, names: Names, name: &str, value: f64) -> bool {
        self.0.assign(component(names, 0), name, value)
            || self.1.assign(component(names, 1), name, value)
    }
}

impl<A: OptionValue, B: OptionValue, C: OptionValue> OptionValue for (A, B, C) {
    fn check(&self, optimizer: &'static str, names: Names, check: Check) -> Result<()> {
        self.0.check(optimizer, component(names, 0), check)?;
        self.1.check(optimizer, component(names, 1), check)?;
        self.2.check(optimizer, component(names, 2), check)
    }
    fn record(&self, names: Names, out: &mut Vec<(String, f64)>) {
        self.0.record(component(names, 0), out);
        self.1.record(component(names, 1), out);
        self.2.record(component(names, 2), out);
    }
    fn assign(&mut self, names: Names, name: &str, value: f64) -> bool {
        self.0.assign(component(names, 0), name, value)
            || self.1.assign(component(names, 1), name, value)
            || self.2.assign(component(names, 2), name, value)
    }
}

/// What [`config!`] generates for a configuration struct.
pub trait Options: Copy + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The learning rate every group without its own starts from.
    fn lr(&self) -> f64;
    /// The weight decay every group without its own starts from.
    fn weight_decay(&self) -> f64;
    /// Checks every option against its declared range; errors name `optimizer`.
    fn check_ranges(&self, optimizer: &'static str) -> Result<()>;
    /// The options that are not per group, in declaration order, as saved in a
    /// state (pairs as two entries `name.0`, `name.1`; booleans as 0 or 1).
    fn saved_options(&self) -> Vec<(String, f64)>;
    /// Sets the option `name` (a pair's component as `betas.1`, a boolean as
    /// 0 or 1), without checking its range (building the optimizer does).
    ///
    /// ```
    /// use tapegrad_optim::{AdamConfig, Options};
    /// let mut cfg = AdamConfig::default();
    /// cfg.set("betas.1", 0.95).unwrap();
    /// cfg.set("amsgrad", 1.0).unwrap();
    /// assert_eq!((cfg.betas, cfg.amsgrad), ((0.9, 0.95), true));
    /// assert!(cfg.set("momentum", 0.9).is_err());
    /// ```
    fn set(&mut self, name: &str, value: f64) -> Result<()>;
    /// The names [`Options::set`] takes.
    fn option_names() -> Vec<&'static str>;
}

/// The error of [`Options::set`] for a name the configuration lacks or a value
/// its type cannot hold.
pub(crate) fn no_such_option(
    optimizer: &'static str,
    name: &str,
    value: f64,
    valid: &[&str],
) -> OptimError {
    OptimError::UnknownOption {
        optimizer,
        given: format!("{name} = {value}"),
        valid: valid.join(", "),
    }
}

/// Declares a configuration struct, one line per option:
///
/// ```text
/// config! {
///     /// docs
///     pub struct AdamConfig for "Adam" {
///         /// Learning rate ε (≥ 0).
///         group lr: f64 = 1e-3, "ε", non_negative;
///         /// Decay rates (ρ₁, ρ₂).
///         option betas: (f64, f64) = (0.9, 0.999), "(ρ₁, ρ₂)", unit_half_open;
///     }
/// }
/// ```
///
/// `group` options (`lr`, `weight_decay`) are the defaults of the parameter
/// groups, which save them themselves; `option`s are saved with the state and
/// must match on restore. The check is a function of [`crate::validate`].
macro_rules! config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident for $optimizer:literal {
            $(
                $(#[$fmeta:meta])*
                $kind:ident $field:ident : $ty:ty = $default:expr, $symbol:literal, $check:ident;
            )*
        }
    ) => {
        $(#[$meta])*
        ///
        /// | option | symbol | default |
        /// |---|---|---|
        $(#[doc = concat!("| `", stringify!($field), "` | ", $symbol, " | ", stringify!($default), " |")])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        impl $crate::declare::Options for $name {
            fn lr(&self) -> f64 {
                self.lr
            }
            fn weight_decay(&self) -> f64 {
                self.weight_decay
            }
            fn check_ranges(&self, optimizer: &'static str) -> $crate::Result<()> {
                $(
                    $crate::declare::OptionValue::check(
                        &self.$field,
                        optimizer,
                        $crate::declare::names!($field),
                        $crate::validate::$check,
                    )?;
                )*
                Ok(())
            }
            fn saved_options(&self) -> Vec<(String, f64)> {
                let mut out = Vec::new();
                $(
                    if stringify!($kind) == "option" {
                        $crate::declare::OptionValue::record(
                            &self.$field,
                            $crate::declare::names!($field),
                            &mut out,
                        );
                    }
                )*
                out
            }
            fn set(&mut self, name: &str, value: f64) -> $crate::Result<()> {
                $(
                    if $crate::declare::OptionValue::assign(
                        &mut self.$field,
                        $crate::declare::names!($field),
                        name,
                        value,
                    ) {
                        return Ok(());
                    }
                )*
                Err($crate::declare::no_such_option(
                    $optimizer,
                    name,
                    value,
                    &Self::option_names(),
                ))
            }
            fn option_names() -> Vec<&'static str> {
                let mut out = Vec::new();
                $(
                    let mut saved = Vec::new();
                    $crate::declare::OptionValue::record(
                        &<$name as Default>::default().$field,
                        $crate::declare::names!($field),
                        &mut saved,
                    );
                    let names = $crate::declare::names!($field);
                    match saved.len() {
                        1 => out.push(names[0]),
                        n => out.extend(&names[1..=n]),
                    }
                )*
                out
            }
        }
    };
}

/// The [`Names`] of a field.
macro_rules! names {
    ($field:ident) => {
        [
            stringify!($field),
            concat!(stringify!($field), ".0"),
            concat!(stringify!($field), ".1"),
            concat!(stringify!($field), ".2"),
        ]
    };
}

pub(crate) use {config, indexed_option, names};
