//! A run stopped after epoch 1 of 3 and resumed from its checkpoint ends with
//! exactly the weights of the run that was never interrupted.

use std::path::{Path, PathBuf};

use tapegrad_train::{
    EpochMetrics, ModelKind, OptimizerKind, Outcome, RunSpec, ScheduleKind, TrainConfig,
    TrainError, find_checkpoint, train,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config(spec: &RunSpec, out: &Path) -> TrainConfig {
    TrainConfig {
        spec: spec.clone(),
        epochs: 3,
        out: out.to_path_buf(),
        quiet: true,
        ..TrainConfig::default()
    }
}

fn weight_bits(outcome: &Outcome) -> Vec<(String, Vec<u32>)> {
    outcome
        .model
        .named_parameters()
        .into_iter()
        .map(|(name, p)| (name, p.value().data().iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// Everything but the wall-clock time.
fn numbers(history: &[EpochMetrics]) -> Vec<[u64; 5]> {
    history
        .iter()
        .map(|m| {
            [
                m.epoch as u64,
                m.train_loss.to_bits(),
                m.train_accuracy.to_bits(),
                m.test_loss.to_bits(),
                m.test_accuracy.to_bits(),
            ]
        })
        .collect()
}

fn stop_resume_equals_uninterrupted(spec: RunSpec, name: &str) {
    let whole_dir = scratch(&format!("{name}-whole"));
    let parts_dir = scratch(&format!("{name}-parts"));
    let whole = train(&config(&spec, &whole_dir)).unwrap();

    let first = train(&TrainConfig {
        stop_after: Some(1),
        ..config(&spec, &parts_dir)
    })
    .unwrap();
    assert_eq!(first.history.len(), 1);
    assert_ne!(
        weight_bits(&first),
        weight_bits(&whole),
        "epoch 1 differs from epoch 3"
    );

    let resumed = train(&TrainConfig {
        resume: first.checkpoint.clone(),
        ..config(&spec, &parts_dir)
    })
    .unwrap();
    assert_eq!(weight_bits(&resumed), weight_bits(&whole));
    assert_eq!(numbers(&resumed.history), numbers(&whole.history));
    assert_eq!(
        resumed.history[0], first.history[0],
        "epoch 1 comes from the checkpoint"
    );

    std::fs::remove_dir_all(&whole_dir).unwrap();
    std::fs::remove_dir_all(&parts_dir).unwrap();
}

#[test]
fn cnn_with_adam_resumes_bit_for_bit() {
    stop_resume_equals_uninterrupted(RunSpec::default(), "resume-cnn");
}

#[test]
fn mlp_with_momentum_resumes_bit_for_bit() {
    let spec = RunSpec {
        model: ModelKind::Mlp,
        optimizer: OptimizerKind::Momentum,
        lr: 0.01,
        weight_decay: 1e-4,
        batch_size: 64,
        seed: 3,
        ..RunSpec::default()
    };
    stop_resume_equals_uninterrupted(spec, "resume-mlp");
}

fn mlp(schedule: ScheduleKind) -> RunSpec {
    RunSpec {
        model: ModelKind::Mlp,
        schedule,
        batch_size: 128,
        seed: 5,
        ..RunSpec::default()
    }
}

/// A step schedule continues from the steps taken, and it is used: the
/// weights differ from those of the constant lr.
#[test]
fn a_one_cycle_run_resumes_bit_for_bit_and_differs_from_a_constant_lr() {
    stop_resume_equals_uninterrupted(mlp(ScheduleKind::OneCycle), "resume-onecycle");
    let (a, b) = (scratch("onecycle-a"), scratch("constant-b"));
    let cycled = train(&config(&mlp(ScheduleKind::OneCycle), &a)).unwrap();
    let constant = train(&config(&mlp(ScheduleKind::Constant), &b)).unwrap();
    assert_ne!(weight_bits(&cycled), weight_bits(&constant));
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

/// MultiplicativeLR continues its recurrence from the restored lr, and
/// ConstantLR its factor's window.
#[test]
fn multiplicative_and_constant_factor_runs_resume_bit_for_bit() {
    stop_resume_equals_uninterrupted(mlp(ScheduleKind::Multiplicative), "resume-multiplicative");
    stop_resume_equals_uninterrupted(mlp(ScheduleKind::ConstantFactor), "resume-constant-factor");
}

/// Schedule-free AdamW evaluates at its average and resumes from its state.
#[test]
fn a_schedule_free_run_resumes_bit_for_bit() {
    let spec = RunSpec {
        optimizer: OptimizerKind::ScheduleFreeAdamW,
        lr: 0.0025,
        ..mlp(ScheduleKind::Constant)
    };
    stop_resume_equals_uninterrupted(spec, "resume-sfadamw");
}

/// L-BFGS (full batch, stepped through the closure) and Muon+AdamW on the
/// CNN, the latter inside Lookahead: each resumes from its state.
#[test]
fn lbfgs_and_muon_with_lookahead_runs_resume_bit_for_bit() {
    let lbfgs = RunSpec {
        optimizer: OptimizerKind::Lbfgs,
        lr: 0.5,
        batch_size: 1437,
        ..RunSpec::default()
    };
    stop_resume_equals_uninterrupted(lbfgs, "resume-lbfgs");
    let muon = RunSpec {
        optimizer: OptimizerKind::Muon,
        lr: 0.01,
        weight_decay: 0.01,
        lookahead: Some((3, 0.5)),
        ..RunSpec::default()
    };
    stop_resume_equals_uninterrupted(muon.clone(), "resume-muon-lookahead");

    let out = scratch("lookahead-other");
    let first = train(&TrainConfig {
        stop_after: Some(1),
        ..config(&muon, &out)
    })
    .unwrap();
    let other = RunSpec {
        lookahead: Some((5, 0.5)),
        ..muon
    };
    let err = train(&TrainConfig {
        resume: first.checkpoint,
        ..config(&other, &out)
    })
    .err()
    .expect("another lookahead is refused");
    assert!(
        err.to_string()
            .contains("--lookahead 5 0.5 (checkpoint: 3 0.5)"),
        "{err}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// ReduceLROnPlateau's counters travel in the checkpoint.
#[test]
fn a_plateau_run_resumes_bit_for_bit_with_its_counters() {
    stop_resume_equals_uninterrupted(mlp(ScheduleKind::Plateau), "resume-plateau");
    let out = scratch("plateau-counters");
    let first = train(&TrainConfig {
        stop_after: Some(1),
        ..config(&mlp(ScheduleKind::Plateau), &out)
    })
    .unwrap();
    let ck = find_checkpoint(first.checkpoint.as_ref().unwrap()).unwrap();
    let plateau = ck.schedule.plateau.expect("plateau counters");
    assert_eq!(
        (plateau.steps, plateau.best),
        (1, first.history[0].train_loss)
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// The length of a step schedule is fixed by --epochs: resuming with another
/// is refused rather than silently bending the schedule.
#[test]
fn a_schedule_resumed_with_other_epochs_is_refused() {
    let out = scratch("cosine-epochs");
    let spec = mlp(ScheduleKind::Cosine);
    train(&TrainConfig {
        stop_after: Some(1),
        ..config(&spec, &out)
    })
    .unwrap();
    let err = train(&TrainConfig {
        epochs: 5,
        resume: Some(out.clone()),
        ..config(&spec, &out)
    })
    .err()
    .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("--epochs"), "{msg}");
    assert!(msg.contains("cosine schedule spans"), "{msg}");
    let other = train(&TrainConfig {
        resume: Some(out.clone()),
        ..config(&mlp(ScheduleKind::Step), &out)
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        other.contains("--schedule step (checkpoint: cosine)"),
        "{other}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_checkpoint_of_another_run_is_refused() {
    let out = scratch("resume-other");
    let spec = RunSpec {
        model: ModelKind::Mlp,
        ..RunSpec::default()
    };
    let first = train(&TrainConfig {
        stop_after: Some(1),
        ..config(&spec, &out)
    })
    .unwrap();
    let other = RunSpec {
        seed: 1,
        lr: 0.01,
        ..spec
    };
    let err = train(&TrainConfig {
        resume: Some(out.clone()),
        ..config(&other, &out)
    })
    .err()
    .unwrap();
    assert!(matches!(
        err,
        TrainError::InvalidArgument {
            name: "--resume",
            ..
        }
    ));
    let msg = err.to_string();
    assert!(msg.contains("--lr 0.01 (checkpoint: 0.001)"), "{msg}");
    assert!(msg.contains("--seed 1 (checkpoint: 0)"), "{msg}");
    assert!(first.checkpoint.unwrap().ends_with("checkpoint-epoch-1"));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_damaged_checkpoint_is_an_error() {
    let out = scratch("resume-damaged");
    let spec = RunSpec {
        model: ModelKind::Mlp,
        ..RunSpec::default()
    };
    let first = train(&TrainConfig {
        stop_after: Some(1),
        ..config(&spec, &out)
    })
    .unwrap();
    let dir = first.checkpoint.unwrap();
    let weights = dir.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let resume = |path: &PathBuf| {
        train(&TrainConfig {
            resume: Some(path.clone()),
            ..config(&spec, &out)
        })
        .err()
        .unwrap()
    };
    let err = resume(&dir);
    assert!(matches!(err, TrainError::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    assert!(
        err.to_string().contains("changed after it was written"),
        "{err}"
    );

    std::fs::write(dir.join("checkpoint.txt"), "not a checkpoint\n").unwrap();
    let err = resume(&dir);
    assert!(matches!(err, TrainError::Checkpoint { .. }), "{err}");

    let empty = out.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = resume(&empty);
    assert!(err.to_string().contains("no checkpoint"), "{err}");
    std::fs::remove_dir_all(&out).unwrap();
}
