//! The training loop: epochs of minibatch steps, evaluation, logs and checkpoints.

use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_data::{Dataset, batches};
use tapegrad_nn::{Module, cross_entropy};
use tapegrad_optim::{Optimizer, clip_grad_norm};
use tapegrad_tape::Var;

use super::checkpoint::{
    Checkpoint, epoch_seed, find_checkpoint, save_checkpoint, spec_mismatch, value_name,
};
use super::config::{RunSpec, TrainConfig};
use super::data::{Splits, load_splits};
use super::error::{Result, TrainError};
use super::eval::{EVAL_BATCH, count_correct, evaluate};
use super::fsutil::{create_dir, remove_stale_temps};
use super::metrics::{EpochMetrics, write_csv};
use super::model::build_model;
use super::optimizer::build_optimizer;
use super::plot::plot_metrics;
use super::report::Reporter;
use super::schedule::RunSchedule;

/// What a finished (or stopped) run leaves.
pub struct Outcome {
    /// The metrics of every epoch so far, including those before a resume.
    pub history: Vec<EpochMetrics>,
    /// The trained network.
    pub model: Box<dyn Module<f32>>,
    /// The latest checkpoint written, if any epoch ran.
    pub checkpoint: Option<PathBuf>,
}

/// Trains as `config` says; writes `metrics.csv`, `metrics.png` and a
/// checkpoint into `config.out` after every epoch.
///
/// Epoch e shuffles with a generator seeded by [`super::epoch_seed`]`(seed, e)`
/// and the weights start from `seed`, so a run resumed from the checkpoint of
/// epoch k (`config.resume`) computes exactly what the uninterrupted run does.
///
/// ```no_run
/// use tapegrad_train::{TrainConfig, train};
/// let outcome = train(&TrainConfig::default()).unwrap();
/// assert!(outcome.history.last().unwrap().test_accuracy >= 0.97);
/// ```
pub fn train(config: &TrainConfig) -> Result<Outcome> {
    validate(config)?;
    let spec = &config.spec;
    let resume = config.resume.as_deref().map(find_checkpoint).transpose()?;
    if let Some(ck) = &resume {
        check_same_run(spec, ck)?;
    }
    let splits = load_splits(&spec.data, spec.model, spec.seed)?;
    let model = build_model(
        spec.model,
        splits.sample_shape(),
        splits.num_classes(),
        spec.seed,
    )?;
    let mut optimizer = build_optimizer(spec, model.parameters())?;
    let mut history = match &resume {
        Some(ck) => ck.restore(model.as_ref(), optimizer.as_mut())?,
        None => Vec::new(),
    };
    let per_epoch = splits.train.len().div_ceil(spec.batch_size);
    let mut schedule = RunSchedule::start(
        spec.schedule,
        spec.lr,
        (per_epoch, config.epochs),
        resume.as_ref().map(|ck| &ck.schedule),
        optimizer.as_mut(),
    )?;
    create_dir(&config.out)?;
    remove_stale_temps(&config.out)?;
    let reporter = Reporter::new(config.quiet);
    introduce(&reporter, config, &splits, model.as_ref(), resume.as_ref());
    history.iter().for_each(|m| reporter.row(m));
    let last = config
        .stop_after
        .map_or(config.epochs, |s| s.min(config.epochs));
    let mut checkpoint = None;
    for epoch in history.len() + 1..=last {
        let bar_epochs = config.epochs;
        let m = run_epoch(
            model.as_ref(),
            optimizer.as_mut(),
            &mut schedule,
            &splits,
            spec,
            epoch,
            bar_epochs,
            &reporter,
        )?;
        schedule.after_epoch(m.train_loss, optimizer.as_mut())?;
        reporter.row(&m);
        history.push(m);
        write_csv(&config.out.join("metrics.csv"), &history)?;
        if let Err(e) = plot_metrics(&config.out.join("metrics.png"), &history) {
            eprintln!("warning: {}", e.one_line());
        }
        checkpoint = Some(save_checkpoint(
            &config.out,
            (epoch, epoch * per_epoch),
            spec,
            model.as_ref(),
            optimizer.as_ref(),
            &schedule.record(),
            &history,
        )?);
    }
    Ok(Outcome {
        history,
        model,
        checkpoint,
    })
}

/// Refuses settings no run can have, naming the flag.
fn validate(config: &TrainConfig) -> Result<()> {
    let s = &config.spec;
    let invalid = |name, value: String, reason: &str| {
        Err(TrainError::InvalidArgument {
            name,
            value,
            reason: reason.into(),
        })
    };
    if !(s.lr.is_finite() && s.lr > 0.0) {
        return invalid("--lr", s.lr.to_string(), "must be a positive number");
    }
    if !(s.weight_decay.is_finite() && s.weight_decay >= 0.0) {
        return invalid("--weight-decay", s.weight_decay.to_string(), "must be ≥ 0");
    }
    if let Some(c) = s.clip_grad_norm
        && !(c.is_finite() && c > 0.0)
    {
        return invalid(
            "--clip-grad-norm",
            c.to_string(),
            "must be a positive number",
        );
    }
    if s.batch_size == 0 {
        return invalid("--batch-size", "0".into(), "must be at least 1");
    }
    if config.epochs == 0 {
        return invalid("--epochs", "0".into(), "must be at least 1");
    }
    Ok(())
}

fn check_same_run(spec: &RunSpec, ck: &Checkpoint) -> Result<()> {
    match spec_mismatch(spec, &ck.spec) {
        None => Ok(()),
        Some(diff) => Err(TrainError::InvalidArgument {
            name: "--resume",
            value: ck.dir.display().to_string(),
            reason: format!("the checkpoint belongs to another run: {diff}"),
        }),
    }
}

/// Prints what is being trained, then the table header.
fn introduce(
    reporter: &Reporter,
    config: &TrainConfig,
    splits: &Splits,
    model: &dyn Module<f32>,
    resume: Option<&Checkpoint>,
) {
    let s = &config.spec;
    let params: usize = model.parameters().iter().map(|p| p.numel()).sum();
    reporter.line(&format!(
        "{} ({params} parameters) on {}: {} train / {} test samples of shape {:?}",
        value_name(&s.model),
        s.data,
        splits.train.len(),
        splits.test.len(),
        splits.sample_shape(),
    ));
    reporter.line(&format!(
        "{} lr {}{} weight decay {}{}, batch {}, seed {}, {} epochs → {}",
        s.optimizer.name(),
        s.lr,
        match s.schedule {
            tapegrad_optim::ScheduleKind::Constant => String::new(),
            other => format!(" ({other} schedule)"),
        },
        s.weight_decay,
        if s.bias_correction {
            ""
        } else {
            " (no bias correction)"
        },
        s.batch_size,
        s.seed,
        config.epochs,
        config.out.display(),
    ));
    if let Some(ck) = resume {
        reporter.line(&format!(
            "resumed from {} (epoch {})",
            ck.dir.display(),
            ck.epoch
        ));
    }
    reporter.table_header();
}

/// One epoch: shuffled minibatch steps, then evaluation on the test set.
fn run_epoch(
    model: &dyn Module<f32>,
    optimizer: &mut dyn Optimizer<f32>,
    schedule: &mut RunSchedule,
    splits: &Splits,
    spec: &RunSpec,
    epoch: usize,
    epochs: usize,
    reporter: &Reporter,
) -> Result<EpochMetrics> {
    let (train_loss, train_accuracy, seconds) = train_epoch(
        model,
        optimizer,
        schedule,
        &splits.train,
        spec,
        epoch,
        epochs,
        reporter,
    )?;
    // At the point the optimizer means to evaluate (schedule-free: the average).
    let mut evaluated = None;
    optimizer.with_eval_weights(&mut || {
        evaluated = Some(evaluate(model, &splits.test, EVAL_BATCH));
    });
    let (test_loss, test_accuracy) = evaluated.expect("the evaluation ran")?;
    Ok(EpochMetrics {
        epoch,
        train_loss,
        train_accuracy,
        test_loss,
        test_accuracy,
        seconds,
    })
}

/// The steps of one epoch; returns (mean loss, accuracy, seconds) over its batches.
fn train_epoch(
    model: &dyn Module<f32>,
    optimizer: &mut dyn Optimizer<f32>,
    schedule: &mut RunSchedule,
    train: &Dataset,
    spec: &RunSpec,
    epoch: usize,
    epochs: usize,
    reporter: &Reporter,
) -> Result<(f64, f64, f64)> {
    let mut rng = StdRng::seed_from_u64(epoch_seed(spec.seed, epoch));
    let minibatches = batches(train, spec.batch_size, true, false, &mut rng)?;
    let bar = reporter.epoch_bar(epoch, epochs, minibatches.len());
    model.train();
    let start = Instant::now();
    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    let params = model.parameters();
    for (x, y) in minibatches {
        let x = Var::constant(x);
        // The loss and the hits at the batch's starting point (L-BFGS
        // evaluates it again at its trial points).
        let mut start_point = None;
        let mut closure = || -> tapegrad_tape::Result<f64> {
            params.iter().for_each(Var::zero_grad);
            let logits = model.forward(&x)?;
            let loss = cross_entropy(&logits, &y)?;
            loss.backward()?;
            if let Some(max_norm) = spec.clip_grad_norm {
                clip_grad_norm(&params, max_norm, 2.0, false)?;
            }
            let value = loss.item()?;
            start_point.get_or_insert_with(|| (value, count_correct(&logits.value(), &y)));
            Ok(f64::from(value))
        };
        optimizer.step_with(&mut closure)?;
        let (loss, hits) = start_point.expect("the step evaluated the loss");
        schedule.after_step(optimizer)?;
        loss_sum += f64::from(loss) * y.len() as f64;
        correct += hits;
        seen += y.len();
        bar.step(
            loss_sum / seen as f64,
            seen as f64 / start.elapsed().as_secs_f64(),
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    bar.finish();
    let n = seen.max(1) as f64;
    Ok((loss_sum / n, correct as f64 / n, seconds))
}
