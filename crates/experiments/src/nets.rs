//! Training the training program's networks for the experiments: image data
//! (MNIST subsets or the digits), a step loop that records every minibatch loss,
//! an optional learning-rate schedule, and evaluation after each epoch.

use std::fmt;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_data::{Dataset, batches};
use tapegrad_nn::{Module, cross_entropy};
use tapegrad_optim::{LrScheduler, Scheduler};
use tapegrad_tape::Var;

use super::binary::shared_data;
use super::error::Result;
use tapegrad_optim::OptimizerSettings;
use tapegrad_train::{
    DataSource, EVAL_BATCH, ModelKind, Splits, build_model, evaluate, load_splits,
};

/// An image classification data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource {
    /// The first `train` training and first `test` test images of MNIST.
    Mnist {
        /// Training images kept.
        train: usize,
        /// Test images kept.
        test: usize,
    },
    /// The embedded 8×8 digits, split 80/20 by seed 0.
    Digits,
}

impl ImageSource {
    /// `Mnist { train, test }` if `../shared/data/mnist` exists, else the digits.
    pub fn mnist_or_digits(train: usize, test: usize) -> Self {
        match shared_data("mnist") {
            Some(_) => ImageSource::Mnist { train, test },
            None => ImageSource::Digits,
        }
    }

    /// The standardized splits shaped for `model` (the training program's
    /// [`load_splits`]), cut to the subset sizes.
    ///
    /// ```
    /// use tapegrad_experiments::ImageSource;
    /// use tapegrad_train::ModelKind;
    /// let s = ImageSource::Digits.load(ModelKind::Mlp).unwrap();
    /// assert_eq!(s.train.features().shape(), &[1437, 64]);
    /// ```
    pub fn load(self, model: ModelKind) -> Result<Splits> {
        match self {
            ImageSource::Digits => Ok(load_splits(&DataSource::Digits, model, 0)?),
            ImageSource::Mnist { train, test } => {
                let dir = shared_data("mnist").unwrap_or_else(|| "mnist".into());
                let full = load_splits(&DataSource::Path(dir), model, 0)?;
                let first = |n: usize, len: usize| (0..n.min(len)).collect::<Vec<_>>();
                Ok(Splits {
                    train: full.train.select(&first(train, full.train.len()))?,
                    test: full.test.select(&first(test, full.test.len()))?,
                })
            }
        }
    }
}

impl ImageSource {
    /// [`ImageSource::load`] plus a validation set disjoint from both parts:
    /// MNIST training images from index 50000 on (`valid` of them), or for the
    /// digits a fifth of the training part (split off by seed 1).
    ///
    /// ```
    /// use tapegrad_experiments::ImageSource;
    /// use tapegrad_train::ModelKind;
    /// let (s, valid) = ImageSource::Digits.load_with_validation(ModelKind::Cnn, 0).unwrap();
    /// assert_eq!((s.train.len(), valid.len(), s.test.len()), (1149, 288, 360));
    /// ```
    pub fn load_with_validation(self, model: ModelKind, valid: usize) -> Result<(Splits, Dataset)> {
        match self {
            ImageSource::Digits => {
                let s = self.load(model)?;
                let (train, validation) = s.train.train_test_split(1, 0.2)?;
                Ok((
                    Splits {
                        train,
                        test: s.test,
                    },
                    validation,
                ))
            }
            ImageSource::Mnist { train, test } => {
                let dir = shared_data("mnist").unwrap_or_else(|| "mnist".into());
                let full = load_splits(&DataSource::Path(dir), model, 0)?;
                let range = |a: usize, n: usize, len: usize| {
                    (a.min(len)..(a + n).min(len)).collect::<Vec<_>>()
                };
                let splits = Splits {
                    train: full
                        .train
                        .select(&range(0, train.min(50_000), full.train.len()))?,
                    test: full.test.select(&range(0, test, full.test.len()))?,
                };
                let validation = full.train.select(&range(50_000, valid, full.train.len()))?;
                Ok((splits, validation))
            }
        }
    }
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageSource::Mnist { train, test } => {
                write!(f, "MNIST (first {train} train / {test} test)")
            }
            ImageSource::Digits => f.write_str("digits (80/20 split)"),
        }
    }
}

/// How one network is trained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetSpec {
    /// The training program's MLP or CNN.
    pub model: ModelKind,
    /// The optimizer.
    pub method: OptimizerSettings,
    /// Its (base) learning rate.
    pub lr: f64,
    /// Its weight decay 1/C.
    pub weight_decay: f64,
    /// Minibatch size.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Stop after this many steps, if sooner.
    pub max_steps: Option<usize>,
    /// Evaluate on the training set too after each epoch (costs a forward pass over it).
    pub eval_train: bool,
}

/// What one training run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct NetRun {
    /// The cross-entropy of every minibatch, before its step.
    pub step_losses: Vec<f64>,
    /// After each epoch (and after the last step): loss and accuracy on the
    /// training set (NaN unless `eval_train`), then on the test set.
    pub epochs: Vec<[f64; 4]>,
    /// Accuracy on the validation set at the same times (empty without one).
    pub validation: Vec<f64>,
}

impl NetRun {
    /// The last evaluation: `[train loss, train accuracy, test loss, test accuracy]`.
    pub fn last(&self) -> [f64; 4] {
        self.epochs.last().copied().unwrap_or([f64::NAN; 4])
    }
}

/// Trains `spec.model` from initialization `seed` with minibatch order `seed`;
/// `schedule` (if any) sets the learning rate of each step from `spec.lr`.
/// A run whose loss becomes NaN stops there (its evaluations are NaN).
pub fn train_net(
    splits: &Splits,
    spec: &NetSpec,
    schedule: Option<&dyn LrScheduler>,
    seed: u64,
) -> Result<NetRun> {
    train_net_validated(splits, None, spec, schedule, seed)
}

/// [`train_net`], also measuring accuracy on `validation` at each evaluation.
pub fn train_net_validated(
    splits: &Splits,
    validation: Option<&Dataset>,
    spec: &NetSpec,
    schedule: Option<&dyn LrScheduler>,
    seed: u64,
) -> Result<NetRun> {
    let model = build_model(
        spec.model,
        splits.sample_shape(),
        splits.num_classes(),
        seed,
    )?;
    let mut opt = spec
        .method
        .with_lr(spec.lr)
        .with_weight_decay(spec.weight_decay)
        .build(model.parameters())?;
    let mut scheduler = schedule
        .map(|s| Scheduler::new(Borrowed(s), opt.as_mut()))
        .transpose()?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0f0e_b0c4);
    let mut run = NetRun {
        step_losses: Vec::new(),
        epochs: Vec::new(),
        validation: Vec::new(),
    };
    let limit = spec.max_steps.unwrap_or(usize::MAX);
    'epochs: for _ in 0..spec.epochs {
        for (x, y) in batches(&splits.train, spec.batch_size, true, false, &mut rng)? {
            if run.step_losses.len() == limit {
                break 'epochs;
            }
            opt.zero_grad();
            let loss = cross_entropy(&model.forward(&Var::constant(x))?, &y)?;
            let value = f64::from(loss.item()?);
            run.step_losses.push(value);
            if !value.is_finite() {
                run.epochs.push([f64::NAN; 4]);
                return Ok(run);
            }
            loss.backward()?;
            opt.step()?;
            if let Some(s) = scheduler.as_mut() {
                s.step(opt.as_mut())?;
            }
        }
        record(&mut run, &model, splits, validation, spec.eval_train)?;
    }
    if run.epochs.len() < spec.epochs {
        record(&mut run, &model, splits, validation, spec.eval_train)?;
    }
    Ok(run)
}

fn record(
    run: &mut NetRun,
    model: &dyn Module<f32>,
    splits: &Splits,
    validation: Option<&Dataset>,
    train: bool,
) -> Result<()> {
    run.epochs.push(evaluation(model, splits, train)?);
    if let Some(v) = validation {
        run.validation.push(evaluate(model, v, EVAL_BATCH)?.1);
    }
    Ok(())
}

fn evaluation(model: &dyn Module<f32>, splits: &Splits, train: bool) -> Result<[f64; 4]> {
    let (train_loss, train_acc) = if train {
        evaluate(model, &splits.train, EVAL_BATCH)?
    } else {
        (f64::NAN, f64::NAN)
    };
    let (test_loss, test_acc) = evaluate(model, &splits.test, EVAL_BATCH)?;
    Ok([train_loss, train_acc, test_loss, test_acc])
}

/// A borrowed schedule, so that one schedule can serve runs on several threads.
struct Borrowed<'a>(&'a dyn LrScheduler);

impl LrScheduler for Borrowed<'_> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        self.0.lr_at(base, t)
    }
    fn total_steps(&self) -> Option<usize> {
        self.0.total_steps()
    }
}
