//! The ViT and the row LSTM train on the embedded digits with the recipe the
//! README gives them, gradient clipping is part of a run's identity, and
//! inputs they cannot read are refused by name.

use std::path::PathBuf;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_train::{
    DataSource, ModelKind, OptimizerKind, RunSpec, ScheduleKind, TrainConfig, TrainError, Vit,
    VitConfig, find_checkpoint, parse_args, train,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(spec: RunSpec, epochs: usize, name: &str) -> (f64, PathBuf) {
    let out = scratch(name);
    let config = TrainConfig {
        spec,
        epochs,
        out: out.clone(),
        quiet: true,
        ..TrainConfig::default()
    };
    let outcome = train(&config).unwrap();
    let first = outcome.history[0];
    let last = *outcome.history.last().unwrap();
    assert!(
        first.train_loss > 2.0 * last.train_loss,
        "{first:?} → {last:?}"
    );
    (last.test_accuracy, out)
}

#[test]
fn vit_with_adamw_warmup_cosine_and_clipping_learns_the_digits() {
    let spec = RunSpec {
        model: ModelKind::Vit,
        optimizer: OptimizerKind::AdamW,
        weight_decay: 0.05,
        schedule: ScheduleKind::WarmupCosine,
        clip_grad_norm: Some(1.0),
        ..RunSpec::default()
    };
    let (accuracy, out) = run(spec.clone(), 15, "vit-digits");
    // 93.3 % on 360 test digits (a ViT has no convolution's prior on 1437 samples).
    assert!(accuracy >= 0.90, "test accuracy {accuracy}");
    let ck = find_checkpoint(&out).unwrap();
    assert_eq!(ck.spec, spec, "the clipping norm is recorded");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn row_lstm_learns_the_digits() {
    let spec = RunSpec {
        model: ModelKind::Lstm,
        clip_grad_norm: Some(1.0),
        ..RunSpec::default()
    };
    let (accuracy, out) = run(spec, 15, "lstm-digits");
    assert!(accuracy >= 0.95, "test accuracy {accuracy}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn resuming_with_another_clipping_norm_is_refused() {
    let out = scratch("clip-resume");
    let spec = RunSpec {
        model: ModelKind::Lstm,
        clip_grad_norm: Some(1.0),
        ..RunSpec::default()
    };
    let config = TrainConfig {
        spec: spec.clone(),
        epochs: 2,
        out: out.clone(),
        quiet: true,
        stop_after: Some(1),
        ..TrainConfig::default()
    };
    train(&config).unwrap();
    let other = TrainConfig {
        spec: RunSpec {
            clip_grad_norm: Some(5.0),
            ..spec
        },
        resume: Some(out.clone()),
        ..config
    };
    let err = train(&other).err().unwrap().to_string();
    assert!(
        err.contains("--clip-grad-norm 5.0 (checkpoint: 1.0)"),
        "{err}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_bad_clipping_norm_is_refused_by_name() {
    for value in ["0", "-1", "inf", "x"] {
        let err = parse_args(["train", "--clip-grad-norm", value])
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("--clip-grad-norm"),
            "{value}: {err}"
        );
    }
    let config = TrainConfig {
        spec: RunSpec {
            clip_grad_norm: Some(f64::NAN),
            ..RunSpec::default()
        },
        quiet: true,
        ..TrainConfig::default()
    };
    let err = train(&config).err().unwrap();
    assert!(
        matches!(
            err,
            TrainError::InvalidArgument {
                name: "--clip-grad-norm",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn inputs_the_models_cannot_read_are_refused() {
    let dir = scratch("seq-libsvm");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vectors.svm");
    std::fs::write(
        &file,
        "1 1:0.5 2:1\n-1 1:-0.5 2:2\n1 1:0.7\n-1 2:0.1\n1 1:1\n",
    )
    .unwrap();
    for model in [ModelKind::Vit, ModelKind::Lstm] {
        let config = TrainConfig {
            spec: RunSpec {
                data: DataSource::Path(file.clone()),
                model,
                ..RunSpec::default()
            },
            out: dir.join("out"),
            quiet: true,
            ..TrainConfig::default()
        };
        let err = train(&config).err().unwrap();
        assert!(
            matches!(&err, TrainError::InvalidArgument { name: "--model", reason, .. } if reason.contains("not images")),
            "{model:?}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let rng = &mut StdRng::seed_from_u64(0);
    let untiled = Vit::new(&[1, 9, 9], 10, VitConfig::for_side(9), rng)
        .err()
        .unwrap();
    assert!(untiled.contains("do not tile 9×9"), "{untiled}");
    let heads = VitConfig {
        heads: 5,
        ..VitConfig::for_side(8)
    };
    assert!(Vit::new(&[1, 8, 8], 10, heads, rng).is_err());
}
