//! Fuzz entry point for resuming a training checkpoint
//! (`tapegrad_train::find_checkpoint` then `Checkpoint::restore`), shared by
//! `fuzz_targets/checkpoint.rs` and the replay test
//! `crates/train/tests/fuzz_corpus.rs`.
//!
//! A valid checkpoint of a small network with Adam (after one step) is written once (the template);
//! each input replaces one of its four files. The first byte holds options:
//! bits 0–1 choose the file (`checkpoint.txt`, `model.safetensors`,
//! `optimizer.state`, `metrics.csv`); bit 2 (for the three data files) rewrites
//! `checkpoint.txt` with the replaced file's true size and CRC-32 and a correct
//! last line, so that the fuzzer reaches the readers behind the checksums; for
//! `checkpoint.txt` itself, bit 2 appends the correct CRC-32 line to the input.
//!
//! Every input must give `Ok` or `Err`, never a panic, and a refused checkpoint
//! must leave the model's weights as they were.

use std::fs;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_nn::{Linear, Module, Relu, Sequential};
use tapegrad_tape::Tensor;
use tapegrad_train::{
    EpochMetrics, ModelKind, RunSpec, ScheduleRecord, build_optimizer, find_checkpoint,
    save_checkpoint,
};

/// The files of a checkpoint, in the order the option bits number them.
pub const FILES: [&str; 4] = [
    "checkpoint.txt",
    "model.safetensors",
    "optimizer.state",
    "metrics.csv",
];

/// The run recorded in the template (the network itself is [`model`]'s).
pub fn spec() -> RunSpec {
    RunSpec {
        model: ModelKind::Mlp,
        ..RunSpec::default()
    }
}

/// A small network (4 → 5 → 3), so that the corpus files stay small.
fn model() -> Sequential {
    let mut rng = StdRng::seed_from_u64(0);
    Sequential::new()
        .push(Linear::new(4, 5, &mut rng))
        .push(Relu)
        .push(Linear::new(5, 3, &mut rng))
}

/// Writes the template checkpoint (epoch 1) into `out`; returns its directory.
pub fn template(out: &Path) -> PathBuf {
    let model = model();
    let mut optimizer = build_optimizer(&spec(), model.parameters()).expect("a valid optimizer");
    for p in model.parameters() {
        p.set_grad(Some(Tensor::ones(p.shape())));
    }
    optimizer
        .step()
        .expect("a step creates the optimizer's state");
    let history = [EpochMetrics {
        epoch: 1,
        train_loss: 1.0,
        train_accuracy: 0.5,
        test_loss: 1.1,
        test_accuracy: 0.4,
        seconds: 0.01,
    }];
    fs::create_dir_all(out).expect("the scratch directory can be made");
    let schedule = ScheduleRecord::default();
    save_checkpoint(
        out,
        (1, 1),
        &spec(),
        &model,
        optimizer.as_ref(),
        &schedule,
        &history,
    )
    .expect("the template checkpoint can be written")
}

/// Copies the `template` checkpoint directory into `scratch`, replaces the file
/// the input names, and resumes from it; returns whether the resume succeeded.
/// `scratch` must be this caller's alone.
pub fn run(data: &[u8], template: &Path, scratch: &Path) -> bool {
    let Some((&options, rest)) = data.split_first() else {
        return false;
    };
    let _ = fs::remove_dir_all(scratch);
    fs::create_dir_all(scratch).expect("the scratch directory can be made");
    for name in FILES {
        fs::copy(template.join(name), scratch.join(name)).expect("the template can be copied");
    }
    let file = usize::from(options & 3);
    let fix_checksums = options & 4 != 0;
    if file == 0 {
        let mut text = rest.to_vec();
        if fix_checksums {
            text.extend_from_slice(format!("crc32 = {:08x}\n", crc32fast::hash(rest)).as_bytes());
        }
        fs::write(scratch.join(FILES[0]), text).expect("scratch is writable");
    } else {
        fs::write(scratch.join(FILES[file]), rest).expect("scratch is writable");
        if fix_checksums {
            reseal(scratch, FILES[file], rest);
        }
    }
    resume(scratch)
}

/// Rewrites `checkpoint.txt` in `dir` so that its line for `name` records
/// `bytes`, with a correct last line.
fn reseal(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(FILES[0]);
    let text = fs::read_to_string(&path).expect("the template's text");
    let prefix = format!("file = {name} ");
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("crc32 = "))
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix}{} {:08x}\n", bytes.len(), crc32fast::hash(bytes))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let sealed = format!("{body}crc32 = {:08x}\n", crc32fast::hash(body.as_bytes()));
    fs::write(&path, sealed).expect("scratch is writable");
}

fn weights(model: &Sequential) -> Vec<Vec<u32>> {
    model
        .parameters()
        .iter()
        .map(|p| p.value().data().iter().map(|x| x.to_bits()).collect())
        .collect()
}

fn resume(dir: &Path) -> bool {
    let Ok(checkpoint) = find_checkpoint(dir) else {
        return false;
    };
    let model = model();
    let Ok(mut optimizer) = build_optimizer(&checkpoint.spec, model.parameters()) else {
        return false;
    };
    let before = weights(&model);
    let restored = checkpoint.restore(&model, optimizer.as_mut()).is_ok();
    if !restored {
        assert!(
            weights(&model) == before,
            "a refused checkpoint changed the weights"
        );
    }
    restored
}
