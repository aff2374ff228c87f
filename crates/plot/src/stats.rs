//! Mean ± standard deviation over seeds.

use std::fmt;

/// The mean and the sample standard deviation (divisor n − 1; 0 for one value)
/// of `n` numbers:
///
/// mean = (1/n) Σ xᵢ,  std = √( Σ (xᵢ − mean)² / (n − 1) )
///
/// ```
/// use tapegrad_plot::MeanStd;
/// let m = MeanStd::of(&[1.0, 2.0, 3.0]);
/// assert_eq!((m.mean, m.std, m.n), (2.0, 1.0, 3));
/// assert_eq!(format!("{:.2}", m), "2.00 ± 1.00");
/// assert_eq!(MeanStd::of(&[5.0]).std, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanStd {
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation.
    pub std: f64,
    /// How many numbers.
    pub n: usize,
}

impl MeanStd {
    /// The statistics of `values` (NaN for an empty slice).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let squares: f64 = values.iter().map(|x| (x - mean).powi(2)).sum();
        let std = if n > 1 {
            (squares / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Self { mean, std, n }
    }

    /// The statistics of `f` applied to each item.
    ///
    /// ```
    /// use tapegrad_plot::MeanStd;
    /// let runs = [(1, 0.5), (2, 0.7)];
    /// assert!((MeanStd::over(&runs, |r| r.1).mean - 0.6).abs() < 1e-15);
    /// ```
    pub fn over<R>(items: &[R], f: impl Fn(&R) -> f64) -> Self {
        Self::of(&items.iter().map(f).collect::<Vec<_>>())
    }

    /// Pointwise statistics of equally long series, one per seed.
    ///
    /// ```
    /// use tapegrad_plot::MeanStd;
    /// let curves = [vec![1.0, 4.0], vec![3.0, 4.0]];
    /// let m = MeanStd::pointwise(&curves);
    /// assert_eq!((m[0].mean, m[1].std), (2.0, 0.0));
    /// ```
    pub fn pointwise(series: &[Vec<f64>]) -> Vec<Self> {
        let len = series.iter().map(Vec::len).min().unwrap_or(0);
        (0..len)
            .map(|i| Self::of(&series.iter().map(|s| s[i]).collect::<Vec<_>>()))
            .collect()
    }
}

/// `mean ± std`, both with the formatter's precision (or as `{}` without one).
impl fmt::Display for MeanStd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match f.precision() {
            Some(p) => write!(f, "{:.*} ± {:.*}", p, self.mean, p, self.std),
            None => write!(f, "{} ± {}", self.mean, self.std),
        }
    }
}

/// `mean ± std` in scientific notation with two significant decimals, for
/// quantities spanning many orders of magnitude (objective gaps).
///
/// ```
/// use tapegrad_plot::{MeanStd, sci};
/// assert_eq!(sci(&MeanStd::of(&[1e-3, 3e-3])), "2.00e-3 ± 1.41e-3");
/// ```
pub fn sci(m: &MeanStd) -> String {
    format!("{:.2e} ± {:.2e}", m.mean, m.std)
}
