//! Muon (Jordan et al., 2024, "Muon: an optimizer for hidden layers in neural
//! networks"), as PyTorch's `torch.optim.Muon`: momentum, orthogonalized by a
//! Newton–Schulz iteration, for weight matrices.

use tapegrad_tape::Float;
use tapegrad_tape::tensor::gemm::{Layout, matmul_into};

use crate::declare::{config, indexed_option};
use crate::rule::{Optim, Rule, StepData};
use crate::scratch;

/// How Muon scales the lr by the shape A × B of a matrix (PyTorch's
/// `adjust_lr_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AdjustLr {
    /// ε √max(1, A/B) (PyTorch's default, `None` or `"original"`).
    #[default]
    Original,
    /// ε · 0.2 √max(A, B), the update RMS of AdamW (`"match_rms_adamw"`).
    MatchRmsAdamW,
    /// ε √(A/B) (`"spectral_unclamped"`).
    SpectralUnclamped,
}

impl AdjustLr {
    const ALL: [AdjustLr; 3] = [
        AdjustLr::Original,
        AdjustLr::MatchRmsAdamW,
        AdjustLr::SpectralUnclamped,
    ];

    /// The adjusted lr of an A × B matrix.
    ///
    /// ```
    /// use tapegrad_optim::AdjustLr;
    /// assert_eq!(AdjustLr::Original.lr(0.1, 8, 2), 0.2);
    /// assert_eq!(AdjustLr::Original.lr(0.1, 2, 8), 0.1);
    /// assert_eq!(AdjustLr::SpectralUnclamped.lr(0.1, 2, 8), 0.05);
    /// ```
    pub fn lr(self, lr: f64, a: usize, b: usize) -> f64 {
        let (a, b) = (a as f64, b as f64);
        let ratio = match self {
            AdjustLr::Original => f64::max(1.0, a / b).sqrt(),
            AdjustLr::MatchRmsAdamW => 0.2 * f64::max(a, b).sqrt(),
            AdjustLr::SpectralUnclamped => (a / b).sqrt(),
        };
        lr * ratio
    }
}

indexed_option!(AdjustLr);

config! {
    /// Options of [`Muon`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::MuonConfig::default();
    /// assert_eq!((cfg.lr, cfg.weight_decay, cfg.momentum, cfg.nesterov), (1e-3, 0.1, 0.95, true));
    /// assert_eq!((cfg.ns_coefficients, cfg.ns_steps), ((3.4445, -4.775, 2.0315), 5));
    /// ```
    pub struct MuonConfig for "Muon" {
        /// Learning rate ε (≥ 0), before [`AdjustLr`].
        group lr: f64 = 1e-3, "ε", non_negative;
        /// Weight decay λ (≥ 0), decoupled: θ ← θ (1 − ε λ).
        group weight_decay: f64 = 0.1, "λ", non_negative;
        /// Momentum μ (≥ 0) of the buffer b ← lerp(b, g, 1 − μ).
        option momentum: f64 = 0.95, "μ", non_negative;
        /// Orthogonalize lerp(g, b, μ) instead of b.
        option nesterov: bool = true, "", any;
        /// (a, b, c) of the quintic Newton–Schulz step X ← a X + (b A + c A²) X.
        option ns_coefficients: (f64, f64, f64) = (3.4445, -4.7750, 2.0315), "(a, b, c)", finite;
        /// The floor of ‖X‖_F in the first normalization (≥ 0).
        option eps: f64 = 1e-7, "", non_negative;
        /// Newton–Schulz steps (< 100).
        option ns_steps: usize = 5, "k", fewer_than_100;
        /// The lr's shape adjustment.
        option adjust_lr_fn: AdjustLr = AdjustLr::Original, "", any;
    }
}

/// Muon, step for step as PyTorch's, for 2-D parameters only: a momentum
/// buffer whose direction is orthogonalized, so that every singular value of
/// the step is near 1.
///
/// For an A × B parameter at each step:
///
/// ```text
/// b ← lerp(b, g, 1 − μ)
/// u = lerp(g, b, μ) if nesterov, else b
/// X = u / max(‖u‖_F, eps)          (transposed when A > B, so X is short and wide)
/// k times:  A = X Xᵀ,  X ← a X + (b A + c A A) X
/// θ ← θ (1 − ε λ) − adjust(ε, A, B) X
/// ```
///
/// PyTorch runs the Newton–Schulz iteration in bfloat16; here it runs in the
/// parameters' dtype, so it matches PyTorch's float64 iteration to 1e-12 and
/// PyTorch's own (bfloat16) to its rounding. The paper's Muon uses the
/// buffer b ← μ b + g; PyTorch's lerp form scales it by (1 − μ), which the
/// normalization cancels. Other shapes are refused when the optimizer is
/// built, as in PyTorch: give Muon the weight matrices and the rest (biases,
/// norms, embeddings by convention) to another optimizer. State per
/// parameter: `momentum_buffer`. The iteration's matrices are borrowed from a
/// per-thread buffer kept across steps; the matrix products themselves
/// allocate their packing workspace (the `gemm` crate's, a few blocks per
/// product), so unlike the element-wise optimizers a Muon step is not
/// allocation-free.
///
/// ```
/// use tapegrad_optim::{Muon, MuonConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[2, 3]));
/// let mut opt = Muon::new(vec![w.clone()], MuonConfig::default()).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0], &[2, 3]).unwrap()));
/// opt.step().unwrap();
/// // diag(1, 2) is orthogonalized towards diag(1, 1): both move by about ε.
/// let v = w.value();
/// assert!(v.data().iter().enumerate().all(|(i, &x)| (x == 0.0) != (i == 0 || i == 4)));
/// assert!((0.5e-3..1.5e-3).contains(&-v.data()[0]) && (0.5e-3..1.5e-3).contains(&-v.data()[4]));
/// let bias = Var::parameter(Tensor::<f64>::zeros(&[3]));
/// assert!(Muon::new(vec![bias], MuonConfig::default()).is_err());
/// ```
pub type Muon<T> = Optim<T, MuonConfig>;

impl Rule for MuonConfig {
    fn name(&self) -> &'static str {
        "Muon"
    }

    const BUFFERS: &'static [&'static str] = &["momentum_buffer"];

    const COUNTS_STEPS: bool = false;

    fn check_shape(&self, shape: &[usize]) -> std::result::Result<(), String> {
        match shape.len() {
            2 => Ok(()),
            _ => Err("Muon takes 2-D parameters only, as PyTorch's; give the others to another optimizer".into()),
        }
    }

    fn companion(&self) -> Option<crate::OptimizerKind> {
        Some(crate::OptimizerKind::AdamW)
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let (rows, cols) = (step.shape[0], step.shape[1]);
        let [buf] = step.state else {
            unreachable!("Muon's state has one buffer")
        };
        let mu = T::from_f64(self.momentum);
        let one_minus_mu = T::from_f64(1.0 - self.momentum);
        let (short, long) = (rows.min(cols), rows.max(cols));
        scratch::with::<T, _>(2 * short * long + 2 * short * short, |room| {
            let (x, room) = room.split_at_mut(short * long);
            let (y, room) = room.split_at_mut(short * long);
            let (a, b) = room.split_at_mut(short * short);
            for (i, (bi, &g)) in buf.iter_mut().zip(step.grad).enumerate() {
                *bi = crate::adam::lerp(*bi, g, one_minus_mu);
                let u = if self.nesterov {
                    crate::adam::lerp(g, *bi, mu)
                } else {
                    *bi
                };
                x[wide_index(i, rows, cols)] = u;
            }
            self.orthogonalize(x, y, a, b, short, long);
            let keep = T::from_f64(1.0 - step.lr * step.weight_decay);
            let neg_lr = T::from_f64(-self.adjust_lr_fn.lr(step.lr, rows, cols));
            for (i, p) in step.param.iter_mut().enumerate() {
                *p *= keep;
                *p += neg_lr * x[wide_index(i, rows, cols)];
            }
        });
    }
}

/// Where element i of a row-major rows × cols matrix sits in its short-wide
/// form (the transpose when rows > cols).
#[inline(always)]
fn wide_index(i: usize, rows: usize, cols: usize) -> usize {
    if rows > cols {
        (i % cols) * rows + i / cols
    } else {
        i
    }
}

impl MuonConfig {
    /// The Newton–Schulz iteration on the m × n matrix x (m ≤ n), in place,
    /// with y (m × n), a and b (m × m) as room.
    fn orthogonalize<T: Float>(
        &self,
        x: &mut [T],
        y: &mut [T],
        a: &mut [T],
        b: &mut [T],
        m: usize,
        n: usize,
    ) {
        let norm = x
            .iter()
            .map(|v| v.to_f64() * v.to_f64())
            .sum::<f64>()
            .sqrt();
        let floor = T::from_f64(if norm < self.eps { self.eps } else { norm });
        x.iter_mut().for_each(|v| *v /= floor);
        let (ca, cb, cc) = self.ns_coefficients;
        let (ca, cb, cc) = (T::from_f64(ca), T::from_f64(cb), T::from_f64(cc));
        for _ in 0..self.ns_steps {
            matmul_into(m, n, m, x, Layout::Normal, x, Layout::Transposed, a, false);
            matmul_into(m, m, m, a, Layout::Normal, a, Layout::Normal, b, false);
            b.iter_mut()
                .zip(a.iter())
                .for_each(|(bi, &ai)| *bi = cb * ai + cc * *bi);
            matmul_into(m, m, n, b, Layout::Normal, x, Layout::Normal, y, false);
            x.iter_mut()
                .zip(y.iter())
                .for_each(|(xi, &yi)| *xi = ca * *xi + yi);
        }
    }
}
