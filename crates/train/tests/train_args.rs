//! The command line: defaults, flags, and the one-line errors of bad flags and bad data.

use std::path::PathBuf;
use std::process::ExitCode;

use tapegrad_train::{
    Command, DataSource, ModelKind, OptimizerKind, TrainConfig, TrainError, main_with_args,
    parse_args, train,
};

fn config(args: &[&str]) -> TrainConfig {
    let argv = std::iter::once("train").chain(args.iter().copied());
    match parse_args(argv).unwrap() {
        Command::Run { config, .. } => config,
        Command::Print(text) => panic!("printed {text}"),
    }
}

fn error(args: &[&str]) -> TrainError {
    parse_args(std::iter::once("train").chain(args.iter().copied())).unwrap_err()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn no_arguments_is_the_default_run() {
    assert_eq!(config(&[]), TrainConfig::default());
    let c = config(&[]);
    assert_eq!(
        (c.spec.model, c.spec.data),
        (ModelKind::Cnn, DataSource::Digits)
    );
    assert_eq!(c.out, PathBuf::from("runs/train"));
}

#[test]
fn every_flag_is_read() {
    let dir = scratch("args-flags");
    let c = config(&[
        "--data",
        dir.to_str().unwrap(),
        "--model",
        "mlp",
        "--optimizer",
        "adamw",
        "--lr",
        "0.003",
        "--weight-decay",
        "0.05",
        "--no-bias-correction",
        "--schedule",
        "warmup-cosine",
        "--epochs",
        "4",
        "--batch-size",
        "128",
        "--seed",
        "9",
        "--out",
        "/tmp/x",
        "--quiet",
    ]);
    assert_eq!(c.spec.data, DataSource::Path(dir.clone()));
    assert_eq!(
        (c.spec.model, c.spec.optimizer),
        (ModelKind::Mlp, OptimizerKind::AdamW)
    );
    assert_eq!((c.spec.lr, c.spec.weight_decay), (0.003, 0.05));
    assert!(!c.spec.bias_correction);
    assert_eq!(c.spec.schedule, tapegrad_train::ScheduleKind::WarmupCosine);
    assert_eq!(
        config(&[]).spec.schedule,
        tapegrad_train::ScheduleKind::Constant
    );
    assert_eq!((c.epochs, c.spec.batch_size, c.spec.seed), (4, 128, 9));
    assert_eq!(c.out, PathBuf::from("/tmp/x"));
    assert!(c.quiet);
    let Command::Run { threads, .. } = parse_args(["train", "--threads", "2"]).unwrap() else {
        panic!()
    };
    assert_eq!(threads, Some(2));
    for (args, flush) in [
        (&["train"][..], false),
        (&["train", "--flush-denormal"][..], true),
    ] {
        let Command::Run { flush_denormal, .. } = parse_args(args.iter().copied()).unwrap() else {
            panic!()
        };
        assert_eq!(flush_denormal, flush, "{args:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn learning_rate_and_weight_decay_default_per_optimizer() {
    let c = config(&["--optimizer", "sgd"]);
    assert_eq!((c.spec.lr, c.spec.weight_decay), (0.1, 0.0));
    let c = config(&["--optimizer", "adamw"]);
    assert_eq!((c.spec.lr, c.spec.weight_decay), (1e-3, 0.01));
}

#[test]
fn help_is_printed_not_an_error() {
    let Command::Print(text) = parse_args(["train", "--help"]).unwrap() else {
        panic!()
    };
    for flag in [
        "--data",
        "--model",
        "--optimizer",
        "--lr",
        "--resume",
        "--threads",
    ] {
        assert!(text.contains(flag), "{flag} missing from help");
    }
}

#[test]
fn bad_model_is_one_line_naming_the_choices() {
    let err = error(&["--model", "resnet"]);
    assert!(matches!(err, TrainError::Usage(_)));
    assert_eq!(
        err.to_string(),
        "invalid value 'resnet' for '--model <MODEL>' [possible values: mlp, cnn, vit, lstm]"
    );
}

#[test]
fn bad_numbers_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--lr", "-0.1"],
            "invalid value '-0.1' for '--lr <LR>': must be a positive number",
        ),
        (
            &["--lr", "0"],
            "invalid value '0' for '--lr <LR>': must be a positive number",
        ),
        (
            &["--lr", "fast"],
            "invalid value 'fast' for '--lr <LR>': not a number",
        ),
        (
            &["--weight-decay", "-1"],
            "invalid value '-1' for '--weight-decay <WEIGHT_DECAY>': must be a number ≥ 0",
        ),
        (
            &["--epochs", "0"],
            "invalid value '0' for '--epochs <EPOCHS>': must be a whole number ≥ 1",
        ),
        (
            &["--batch-size", "-4"],
            "invalid value '-4' for '--batch-size <BATCH_SIZE>': must be a whole number ≥ 1",
        ),
    ];
    for (args, message) in cases {
        let err = error(args);
        assert!(matches!(err, TrainError::Usage(_)), "{args:?}");
        assert_eq!(err.to_string(), *message);
    }
}

#[test]
fn every_schedule_is_a_value_of_schedule() {
    for kind in tapegrad_train::ScheduleKind::ALL {
        assert_eq!(config(&["--schedule", kind.name()]).spec.schedule, kind);
    }
    let err = parse_args(["train", "--schedule", "fast"])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid value 'fast' for '--schedule <SCHEDULE>'"),
        "{err}"
    );
    assert!(err.contains("warmup-cosine"), "{err}");
}

#[test]
fn unknown_flags_and_missing_values_are_one_line() {
    for args in [
        &["--learning-rate", "1"][..],
        &["--epochs"][..],
        &["extra"][..],
    ] {
        let msg = error(args).to_string();
        assert!(!msg.contains('\n'), "{msg:?}");
        assert!(!msg.is_empty());
    }
    assert!(
        error(&["--learning-rate", "1"])
            .to_string()
            .starts_with("unexpected argument '--learning-rate'")
    );
}

#[test]
fn missing_data_path() {
    let err = error(&["--data", "/nonexistent/mnist"]);
    assert_eq!(
        err.to_string(),
        "invalid --data = /nonexistent/mnist: no such file or directory"
    );
}

#[test]
fn corrupt_idx_folder_names_the_file_and_byte() {
    let dir = scratch("args-corrupt-idx");
    let labels = [0u8, 0, 8, 1, 0, 0, 0, 2, 3, 7];
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        [0x12u8, 0x34, 8, 3, 0, 0],
    )
    .unwrap();
    for name in [
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(dir.join(name), labels).unwrap();
    }
    let c = config(&[
        "--data",
        dir.to_str().unwrap(),
        "--quiet",
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    let err = train(&c).err().unwrap();
    assert!(matches!(err, TrainError::Data(_)), "{err}");
    let msg = err.one_line();
    assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
    assert!(msg.contains("byte 0"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_libsvm_file_names_the_line() {
    let dir = scratch("args-corrupt-svm");
    let file = dir.join("bad.svm");
    std::fs::write(&file, "1 1:0.5 2:1\n0 1:0.25 2:oops\n").unwrap();
    let c = config(&[
        "--data",
        file.to_str().unwrap(),
        "--model",
        "mlp",
        "--quiet",
    ]);
    let msg = train(&c).err().unwrap().one_line();
    assert!(msg.contains("bad.svm") && msg.contains("line 2"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cnn_on_vectors_and_bias_correction_for_sgd_are_refused() {
    let dir = scratch("args-vectors");
    let file = dir.join("v.svm");
    std::fs::write(&file, "1 1:0.5\n0 2:1\n1 1:1\n0 2:2\n1 1:2\n").unwrap();
    let out = dir.join("out");
    let c = config(&[
        "--data",
        file.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let msg = train(&c).err().unwrap().to_string();
    assert!(
        msg.starts_with("invalid --model = cnn:") && msg.contains("use --model mlp"),
        "{msg}"
    );
    let c = config(&[
        "--optimizer",
        "sgd",
        "--no-bias-correction",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let msg = train(&c).err().unwrap().to_string();
    assert!(
        msg.contains("only adam and adamw have a bias correction"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_takes_the_checkpoint_settings_and_refuses_conflicting_flags() {
    let dir = scratch("args-resume");
    let out = dir.to_str().unwrap();
    let mut first = config(&[
        "--model", "mlp", "--lr", "0.002", "--seed", "5", "--quiet", "--out", out,
    ]);
    first.stop_after = Some(1);
    train(&first).unwrap();
    let resumed = config(&["--resume", out, "--quiet", "--out", out]);
    assert_eq!(resumed.spec, first.spec);
    let conflicting = config(&["--resume", out, "--model", "cnn", "--quiet", "--out", out]);
    let msg = train(&conflicting).err().unwrap().to_string();
    assert!(msg.contains("--model cnn (checkpoint: mlp)"), "{msg}");
    let err = error(&["--resume", dir.join("nothing").to_str().unwrap()]);
    assert!(err.to_string().contains("nothing"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn main_exits_non_zero_on_errors() {
    assert_eq!(
        main_with_args(["train", "--model", "rnn"]),
        ExitCode::from(2)
    );
    assert_eq!(
        main_with_args(["train", "--data", "/nonexistent"]),
        ExitCode::from(2)
    );
    assert_eq!(main_with_args(["train", "--version"]), ExitCode::SUCCESS);
}

#[test]
fn lookahead_takes_k_and_alpha() {
    assert_eq!(
        config(&["--lookahead", "5,0.5"]).spec.lookahead,
        Some((5, 0.5))
    );
    assert_eq!(config(&[]).spec.lookahead, None);
    for bad in ["0,0.5", "5", "5,1.5", "5,x", "5,-0.5"] {
        let msg = error(&["--lookahead", bad]).to_string();
        assert!(msg.contains("want K,ALPHA"), "{bad}: {msg}");
    }
}

#[test]
fn muon_and_lbfgs_are_selectable() {
    let c = config(&["--optimizer", "lbfgs"]);
    assert_eq!(
        (c.spec.optimizer, c.spec.lr, c.spec.weight_decay),
        (OptimizerKind::Lbfgs, 1.0, 0.0)
    );
    let c = config(&["--optimizer", "muon"]);
    assert_eq!(
        (c.spec.optimizer, c.spec.lr, c.spec.weight_decay),
        (OptimizerKind::Muon, 1e-3, 0.1)
    );
}
