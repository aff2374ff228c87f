//! The MLP trains on the embedded digits, and the run leaves its log, plot and
//! checkpoint.

use std::path::PathBuf;

use tapegrad_train::{
    CSV_HEADER, ModelKind, OptimizerKind, RunSpec, TrainConfig, find_checkpoint, read_csv, train,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn mlp_reaches_95_percent_on_the_digits() {
    let out = scratch("e2e-mlp");
    let config = TrainConfig {
        spec: RunSpec {
            model: ModelKind::Mlp,
            optimizer: OptimizerKind::Adam,
            ..RunSpec::default()
        },
        epochs: 8,
        out: out.clone(),
        quiet: true,
        ..TrainConfig::default()
    };
    let outcome = train(&config).unwrap();
    let last = *outcome.history.last().unwrap();
    assert_eq!(last.epoch, 8);
    assert!(
        last.test_accuracy >= 0.95,
        "test accuracy {}",
        last.test_accuracy
    );
    assert!(outcome.history[0].train_loss > last.train_loss);

    let logged = read_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(logged, outcome.history);
    let text = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(text.lines().next(), Some(CSV_HEADER));

    let png = std::fs::read(out.join("metrics.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 10_000,
        "a plot with text and lines, not an empty image"
    );

    let ck = find_checkpoint(&out).unwrap();
    assert_eq!((ck.epoch, &ck.spec), (8, &config.spec));
    assert_eq!(Some(ck.dir.clone()), outcome.checkpoint);
    let dirs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("checkpoint"))
        .collect();
    assert_eq!(
        dirs,
        ["checkpoint-epoch-8"],
        "older checkpoints are removed"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn mlp_trains_on_a_libsvm_file() {
    let out = scratch("e2e-libsvm");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("two-blobs.svm");
    // Two classes separated by the sign of feature 1.
    let mut text = String::from("# label index:value ...\n");
    for i in 0..100 {
        let x = 0.5 + (i % 10) as f64 / 10.0;
        let (label, sign) = if i % 2 == 0 { (1, 1.0) } else { (-1, -1.0) };
        text += &format!("{label} 1:{} 2:{}\n", sign * x, (i % 7) as f64 - 3.0);
    }
    std::fs::write(&file, text).unwrap();
    let config = TrainConfig {
        spec: RunSpec {
            data: tapegrad_train::DataSource::Path(file),
            model: ModelKind::Mlp,
            optimizer: OptimizerKind::Sgd,
            lr: 0.1,
            batch_size: 16,
            ..RunSpec::default()
        },
        epochs: 5,
        out: out.clone(),
        quiet: true,
        ..TrainConfig::default()
    };
    let outcome = train(&config).unwrap();
    assert_eq!(outcome.history.last().unwrap().test_accuracy, 1.0);
    std::fs::remove_dir_all(&out).unwrap();
}
