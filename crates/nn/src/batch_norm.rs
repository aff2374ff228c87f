//! Batch normalization, the layer with running statistics: `BatchNorm1d` and
//! `BatchNorm2d`, as PyTorch's, with the buffers `running_mean`,
//! `running_var` and `num_batches_tracked`.

use std::sync::atomic::{AtomicBool, Ordering};

use tapegrad_tape::{Float, RunningStats, Tensor, Var};

use crate::buffer::{Buffer, BufferValue};
use crate::error::{NnError, Result};
use crate::module::Module;
use crate::norm::{check_channels, debug_as_module, unit_affine, visit_affine};

/// The running estimates of a batch-norm layer.
struct Running<T: Float> {
    mean: Buffer<T>,
    var: Buffer<T>,
    batches: Buffer<T>,
}

/// What `BatchNorm1d` and `BatchNorm2d` share; they differ in the input ranks
/// they accept.
struct BatchNorm<T: Float> {
    op: &'static str,
    ranks: &'static [usize],
    num_features: usize,
    weight: Option<Var<T>>,
    bias: Option<Var<T>>,
    running: Option<Running<T>>,
    momentum: Option<f64>,
    eps: f64,
    training: AtomicBool,
}

impl<T: Float> BatchNorm<T> {
    fn new(op: &'static str, ranks: &'static [usize], num_features: usize) -> Self {
        let (w, b) = unit_affine(&[num_features]);
        let running = Running {
            mean: Buffer::tensor(Tensor::zeros(&[num_features])),
            var: Buffer::tensor(Tensor::ones(&[num_features])),
            batches: Buffer::count(0),
        };
        Self {
            op,
            ranks,
            num_features,
            weight: Some(w),
            bias: Some(b),
            running: Some(running),
            momentum: Some(0.1),
            eps: 1e-5,
            training: AtomicBool::new(true),
        }
    }

    fn check_input(&self, x: &Var<T>) -> Result<()> {
        if !self.ranks.contains(&x.ndim()) {
            return Err(NnError::InvalidArgument {
                op: self.op,
                name: "input",
                value: format!("shape {:?}", x.shape()),
                reason: format!("must be of rank {:?}", self.ranks),
            });
        }
        check_channels(self.op, x, self.num_features)
    }

    /// PyTorch's `_BatchNorm.forward`: in training with running statistics,
    /// count the batch and blend with `momentum` (or 1/count when it is
    /// `None`); use the batch's statistics in training or when there are no
    /// running ones, the running ones otherwise.
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        self.check_input(x)?;
        let training = self.training.load(Ordering::Relaxed);
        let (w, b) = (self.weight.as_ref(), self.bias.as_ref());
        let Some(running) = &self.running else {
            return Ok(x.batch_norm(w, b, None, true, self.eps)?);
        };
        let mut batches = running.batches.write();
        let mut momentum = self.momentum.unwrap_or(0.0);
        if training {
            let BufferValue::Count(n) = &mut *batches else {
                unreachable!("num_batches_tracked is a count")
            };
            *n += 1;
            momentum = self.momentum.unwrap_or(1.0 / *n as f64);
        }
        let (mut mean, mut var) = (running.mean.write(), running.var.write());
        let (BufferValue::Float(mean), BufferValue::Float(var)) = (&mut *mean, &mut *var) else {
            unreachable!("running statistics are tensors")
        };
        let stats = RunningStats {
            mean,
            var,
            momentum,
        };
        let y = x.batch_norm(w, b, Some(stats), training, self.eps);
        if y.is_err() && training {
            // A refused batch is not counted (the op changed no statistic).
            if let BufferValue::Count(n) = &mut *batches {
                *n -= 1;
            }
        }
        Ok(y?)
    }

    fn visit_buffers(&self, visit: &mut dyn FnMut(&str, &Buffer<T>)) {
        if let Some(r) = &self.running {
            visit("running_mean", &r.mean);
            visit("running_var", &r.var);
            visit("num_batches_tracked", &r.batches);
        }
    }
}

/// Declares a batch-norm layer over the shared `BatchNorm`.
macro_rules! batch_norm_layer {
    ($(#[$meta:meta])* $name:ident, $ranks:expr) => {
        $(#[$meta])*
        pub struct $name<T: Float = f32>(BatchNorm<T>);

        impl<T: Float> $name<T> {
            /// A layer over `num_features` channels with PyTorch's defaults:
            /// γ = 1, β = 0, running mean 0 and variance 1, momentum 0.1,
            /// ε = 1e-5, in training mode.
            pub fn new(num_features: usize) -> Self {
                Self(BatchNorm::new(stringify!($name), $ranks, num_features))
            }

            /// The weight of each new batch in the running estimates, in
            /// [0, 1]; `None` for their cumulative average (1/batches seen).
            pub fn momentum(mut self, momentum: Option<f64>) -> Self {
                self.0.momentum = momentum;
                self
            }

            /// ε in the denominator (default 1e-5).
            pub fn eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }

            /// Without γ and β (PyTorch's `affine=False`).
            pub fn without_affine(mut self) -> Self {
                self.0.weight = None;
                self.0.bias = None;
                self
            }

            /// Without running statistics (PyTorch's
            /// `track_running_stats=False`): the batch's statistics in both
            /// modes, and no buffers.
            pub fn without_running_stats(mut self) -> Self {
                self.0.running = None;
                self
            }

            /// γ, if the layer has it.
            pub fn weight(&self) -> Option<&Var<T>> {
                self.0.weight.as_ref()
            }

            /// β, if the layer has it.
            pub fn bias(&self) -> Option<&Var<T>> {
                self.0.bias.as_ref()
            }
        }

        impl<T: Float> Module<T> for $name<T> {
            fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
                self.0.forward(x)
            }

            fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
                visit_affine(self.0.weight.as_ref(), self.0.bias.as_ref(), visit);
            }

            fn visit_own_buffers(&self, visit: &mut dyn FnMut(&str, &Buffer<T>)) {
                self.0.visit_buffers(visit);
            }

            fn set_own_training(&self, training: bool) {
                self.0.training.store(training, Ordering::Relaxed);
            }
        }

        debug_as_module!($name);
    };
}

batch_norm_layer!(
    /// Batch normalization of `[N, C]` or `[N, C, L]`, as `torch.nn.BatchNorm1d`:
    ///
    /// ```text
    /// y = (x − μ_c) / √(σ²_c + ε) · γ_c + β_c
    /// ```
    ///
    /// In training, μ_c and the biased σ²_c are the batch's over N (and L);
    /// the buffers move toward them, `running ← (1 − m) running + m batch`
    /// with the variance unbiased, and `num_batches_tracked` counts the
    /// batches. In evaluation the running estimates are used.
    ///
    /// ```
    /// use tapegrad_nn::{BatchNorm1d, BufferValue, Module};
    /// use tapegrad_tape::{Tensor, Var};
    /// let bn = BatchNorm1d::<f64>::new(2);
    /// let x = Var::constant(Tensor::from_vec(vec![1.0, 0.0, 3.0, 0.0], &[2, 2]).unwrap());
    /// let y = bn.forward(&x).unwrap();
    /// assert!((y.value().data()[0] + 1.0).abs() < 1e-5);
    /// let buffers = bn.named_buffers();
    /// assert_eq!(buffers[0].0, "running_mean");
    /// assert_eq!(buffers[0].1.value(), BufferValue::Float(Tensor::from_vec(vec![0.2, 0.0], &[2]).unwrap()));
    /// assert_eq!(buffers[2].1.value(), BufferValue::Count(1));
    /// bn.eval(); // now the running statistics
    /// assert_eq!(bn.forward(&x).unwrap().shape(), &[2, 2]);
    /// ```
    BatchNorm1d,
    &[2, 3]
);

batch_norm_layer!(
    /// Batch normalization of images `[N, C, H, W]`, as `torch.nn.BatchNorm2d`:
    /// [`BatchNorm1d`]'s formula with the statistics of each channel over N,
    /// H and W.
    ///
    /// ```
    /// use tapegrad_nn::{BatchNorm2d, Module};
    /// use tapegrad_tape::{Tensor, Var};
    /// let bn = BatchNorm2d::<f32>::new(3);
    /// let x = Var::constant(Tensor::ones(&[2, 3, 4, 4]));
    /// assert_eq!(bn.forward(&x).unwrap().shape(), &[2, 3, 4, 4]);
    /// assert!(bn.forward(&Var::constant(Tensor::ones(&[2, 3]))).is_err());
    /// ```
    BatchNorm2d,
    &[4]
);
