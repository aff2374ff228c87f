//! A checkpoint refuses what it cannot trust before anything changes: a
//! damaged or edited file, another format, a model whose generators differ, a
//! name the format cannot hold; and saving over a checkpoint replaces it whole.

use std::fs;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use tapegrad_checkpoint::{Checkpoint, CheckpointError, SavedCheckpoint};
use tapegrad_nn::{ChaCha12Rng, Dropout, Linear, Module, NnError, Sequential};
use tapegrad_optim::{CosineAnnealingLr, OptimError, Optimizer, Scheduler, Sgd, SgdConfig, StepLr};
use tapegrad_tape::Tensor;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-ck-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn net(seed: u64, dropouts: usize) -> Sequential<f32> {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let mut model = Sequential::new().push(Linear::new(3, 2, &mut rng));
    for i in 0..dropouts {
        model = model.push(Dropout::new(0.5, seed + i as u64).unwrap());
    }
    model
}

fn sgd(model: &Sequential<f32>) -> Sgd<f32> {
    let cfg = SgdConfig {
        lr: 0.5,
        momentum: 0.9,
        ..Default::default()
    };
    Sgd::new(model.parameters(), cfg).unwrap()
}

/// A checkpoint after one step, with a scheduler and an extra file.
fn saved(dir: &Path) {
    let model = net(0, 1);
    let mut opt = sgd(&model);
    let mut sched = Scheduler::new(StepLr::new(2, 0.5).unwrap(), &mut opt).unwrap();
    for p in model.parameters() {
        p.set_grad(Some(Tensor::ones(p.shape())));
    }
    opt.step().unwrap();
    sched.step(&mut opt).unwrap();
    Checkpoint::new(1, 1)
        .scheduler(&sched)
        .meta("run", "a b = c")
        .file("log.csv", "epoch,loss\n1,0.5\n")
        .save(dir, &model, &opt)
        .unwrap();
}

fn weights(model: &Sequential<f32>) -> Vec<Tensor<f32>> {
    model.parameters().iter().map(|p| p.value()).collect()
}

/// Restores `dir` into a fresh model; the error, with the model unchanged.
fn refused(dir: &Path) -> CheckpointError {
    let model = net(3, 1);
    let mut opt = sgd(&model);
    let before = weights(&model);
    let err = SavedCheckpoint::open(dir)
        .and_then(|s| s.restore(&model, &mut opt))
        .expect_err("the checkpoint is refused");
    assert_eq!(
        weights(&model),
        before,
        "a refused checkpoint changed the weights"
    );
    let state = opt.state_dict().state;
    assert!(
        state.iter().flatten().all(Option::is_none),
        "a refused checkpoint changed the optimizer"
    );
    err
}

fn flip_a_bit(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    fs::write(path, bytes).unwrap();
}

#[test]
fn a_flipped_bit_in_any_file_is_refused_naming_the_file() {
    for name in [
        "model.safetensors",
        "optimizer.state",
        "log.csv",
        "checkpoint.txt",
    ] {
        let dir = scratch(&format!("flip-{name}"));
        saved(&dir);
        flip_a_bit(&dir.join(name));
        let msg = refused(&dir).to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(msg.contains("changed after it was written"), "{msg}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn an_extra_file_reads_back_after_its_checksum() {
    let dir = scratch("extra");
    saved(&dir);
    let ck = SavedCheckpoint::open(&dir).unwrap();
    assert_eq!(ck.files(), ["log.csv"]);
    assert_eq!(ck.read_file("log.csv").unwrap(), b"epoch,loss\n1,0.5\n");
    assert_eq!(
        (ck.step(), ck.epoch(), ck.meta("run")),
        (1, 1, Some("a b = c"))
    );
    assert!(matches!(
        ck.read_file("other"),
        Err(CheckpointError::NotSaved { .. })
    ));
    flip_a_bit(&dir.join("log.csv"));
    let err = ck.read_file("log.csv").unwrap_err();
    assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn another_format_or_an_oversized_text_is_refused() {
    let dir = scratch("format");
    saved(&dir);
    let meta = dir.join("checkpoint.txt");
    let text = fs::read_to_string(&meta).unwrap();
    fs::write(
        &meta,
        text.replacen("tapegrad-checkpoint 1", "tapegrad-train-checkpoint 2", 1),
    )
    .unwrap();
    let msg = refused(&dir).to_string();
    assert!(
        msg.contains("\"tapegrad-train-checkpoint 2\", not `tapegrad-checkpoint 1`"),
        "{msg}"
    );
    fs::write(
        &meta,
        format!("tapegrad-checkpoint 1\n{}\n", "x".repeat(2 << 20)),
    )
    .unwrap();
    let msg = refused(&dir).to_string();
    assert!(
        msg.contains("larger than 1048576 bytes") && msg.len() < 300,
        "{msg}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_model_with_other_generators_is_refused_unchanged() {
    let dir = scratch("generators");
    saved(&dir);
    for dropouts in [0, 2] {
        let model = net(3, dropouts);
        let mut opt = sgd(&model);
        let before = weights(&model);
        let err = SavedCheckpoint::open(&dir)
            .unwrap()
            .restore(&model, &mut opt)
            .unwrap_err();
        assert!(
            matches!(err, CheckpointError::Nn(NnError::GeneratorMismatch { .. })),
            "{err}"
        );
        assert_eq!(weights(&model), before);
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_scheduler_must_be_the_saved_one() {
    let dir = scratch("scheduler");
    saved(&dir);
    let ck = SavedCheckpoint::open(&dir).unwrap();
    let model = net(3, 1);
    let mut opt = sgd(&model);
    ck.restore(&model, &mut opt).unwrap();
    let other = CosineAnnealingLr::new(4, 0.0).unwrap();
    let err = ck.restore_scheduler(other, &mut opt).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::Optim(OptimError::StateMismatch { .. })
        ),
        "{err}"
    );
    let sched = ck
        .restore_scheduler(StepLr::new(2, 0.5).unwrap(), &mut opt)
        .unwrap();
    assert_eq!(
        (sched.base_lrs(), sched.steps_taken(), opt.lr()),
        (&[0.5][..], 1, 0.5)
    );

    let bare = scratch("no-scheduler");
    Checkpoint::new(0, 0).save(&bare, &model, &opt).unwrap();
    let err = SavedCheckpoint::open(&bare)
        .unwrap()
        .restore_scheduler(StepLr::new(2, 0.5).unwrap(), &mut opt)
        .unwrap_err();
    assert!(
        err.to_string().contains("holds no scheduler state"),
        "{err}"
    );
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&bare).unwrap();
}

#[test]
fn names_the_format_cannot_hold_are_refused_before_writing() {
    let model = net(0, 0);
    let opt = sgd(&model);
    let dir = scratch("names");
    let cases = [
        Checkpoint::new(0, 0).meta("two words", "x"),
        Checkpoint::new(0, 0).meta("k", "line\nbreak"),
        Checkpoint::new(0, 0).file("model.safetensors", "x"),
        Checkpoint::new(0, 0).file("../escape", "x"),
        Checkpoint::new(0, 0).file(".hidden", "x"),
        Checkpoint::new(0, 0).generator("", &ChaCha12Rng::seed_from_u64(0)),
    ];
    for case in cases {
        let err = case.save(&dir, &model, &opt).unwrap_err();
        assert!(
            matches!(
                err,
                CheckpointError::InvalidName { .. } | CheckpointError::InvalidValue { .. }
            ),
            "{err}"
        );
        assert!(!dir.exists());
    }
}

#[test]
fn saving_over_a_checkpoint_replaces_it_and_leaves_no_temporary() {
    let root = scratch("replace");
    let dir = root.join("ck");
    saved(&dir);
    let model = net(4, 1);
    let opt = sgd(&model);
    Checkpoint::new(9, 2).save(&dir, &model, &opt).unwrap();
    let ck = SavedCheckpoint::open(&dir).unwrap();
    assert_eq!(
        (ck.step(), ck.files().len(), ck.scheduler_state()),
        (9, 0, None)
    );
    assert!(!dir.join("log.csv").exists());
    let names: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ck"]);
    fs::remove_dir_all(&root).unwrap();
}
