//! The learning-rate schedule of a run (`--schedule`): stepped after every
//! optimizer step, or (ReduceLROnPlateau) after every epoch on its training
//! loss; what a checkpoint records of it to resume exactly.

use tapegrad_optim::{
    LrScheduler, Optimizer, PlateauState, ReduceLrOnPlateau, ScheduleKind, Scheduler,
    SchedulerState,
};

use super::error::{Result, TrainError};

/// What a checkpoint holds of a run's schedule beyond its kind: the length of
/// a step schedule (which `--epochs` sets) and its state, the counters of a
/// plateau schedule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScheduleRecord {
    /// The optimizer steps a step schedule spans (0 for none).
    pub total_steps: usize,
    /// The step scheduler's base lrs and steps taken.
    pub scheduler: Option<SchedulerState>,
    /// ReduceLROnPlateau's counters.
    pub plateau: Option<PlateauState>,
}

/// The schedule as the training loop drives it.
pub enum RunSchedule {
    /// The lr stays.
    Constant,
    /// A closed-form schedule over `total` steps.
    Steps {
        /// The schedule and its step count.
        scheduler: Scheduler<Box<dyn LrScheduler>>,
        /// Its length.
        total: usize,
    },
    /// Follows each epoch's training loss.
    Plateau(ReduceLrOnPlateau),
}

impl RunSchedule {
    /// The schedule of a run of `epochs` epochs of `per_epoch` steps from `lr`,
    /// continued from the checkpoint's `saved` record (refused, naming
    /// `--epochs`, when the step schedule's length differs).
    pub fn start(
        kind: ScheduleKind,
        lr: f64,
        (per_epoch, epochs): (usize, usize),
        saved: Option<&ScheduleRecord>,
        opt: &mut dyn Optimizer<f32>,
    ) -> Result<Self> {
        let total = per_epoch * epochs;
        if let Some(plateau) = kind.plateau() {
            let mut plateau = plateau.validated(opt)?;
            if let Some(state) = saved.and_then(|s| s.plateau.clone()) {
                plateau.state = state;
            }
            return Ok(RunSchedule::Plateau(plateau));
        }
        if kind == ScheduleKind::Constant {
            return Ok(RunSchedule::Constant);
        }
        let schedule = kind.schedule(lr, total)?.expect("a step schedule");
        let scheduler = match saved {
            None => Scheduler::new(schedule, opt)?,
            Some(record) if record.total_steps != total => {
                return Err(TrainError::InvalidArgument {
                    name: "--epochs",
                    value: epochs.to_string(),
                    reason: format!(
                        "the checkpoint's {kind} schedule spans {} steps, this run's would span {total}; \
                         give the --epochs it was started with",
                        record.total_steps
                    ),
                });
            }
            Some(record) => match &record.scheduler {
                Some(state) => Scheduler::restore(schedule, state, opt)?,
                None => {
                    return Err(TrainError::InvalidArgument {
                        name: "--schedule",
                        value: kind.to_string(),
                        reason: "the checkpoint holds no scheduler state".into(),
                    });
                }
            },
        };
        Ok(RunSchedule::Steps { scheduler, total })
    }

    /// After each optimizer step.
    pub fn after_step(&mut self, opt: &mut dyn Optimizer<f32>) -> Result<()> {
        if let RunSchedule::Steps { scheduler, .. } = self {
            scheduler.step(opt)?;
        }
        Ok(())
    }

    /// After each epoch, with its mean training loss.
    pub fn after_epoch(&mut self, train_loss: f64, opt: &mut dyn Optimizer<f32>) -> Result<()> {
        if let RunSchedule::Plateau(plateau) = self {
            plateau.step(train_loss, opt)?;
        }
        Ok(())
    }

    /// What a checkpoint records.
    pub fn record(&self) -> ScheduleRecord {
        match self {
            RunSchedule::Constant => ScheduleRecord::default(),
            RunSchedule::Steps { scheduler, total } => ScheduleRecord {
                total_steps: *total,
                scheduler: Some(scheduler.state()),
                plateau: None,
            },
            RunSchedule::Plateau(p) => ScheduleRecord {
                plateau: Some(p.state.clone()),
                ..ScheduleRecord::default()
            },
        }
    }
}
