//! A checkpoint records every file's size and CRC-32, and the CRC-32 of its own
//! text: a resume from a damaged or edited checkpoint is refused before
//! anything is trained. Temporary files of killed runs are removed.

use std::fs;
use std::path::{Path, PathBuf};

use tapegrad_train::{ModelKind, RunSpec, TrainConfig, TrainError, train};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn config(out: &Path) -> TrainConfig {
    TrainConfig {
        spec: RunSpec {
            model: ModelKind::Mlp,
            ..RunSpec::default()
        },
        epochs: 2,
        out: out.to_path_buf(),
        quiet: true,
        ..TrainConfig::default()
    }
}

/// A one-epoch run in `out`; returns its checkpoint directory.
fn first_epoch(out: &Path) -> PathBuf {
    let first = train(&TrainConfig {
        stop_after: Some(1),
        ..config(out)
    })
    .unwrap();
    first.checkpoint.unwrap()
}

fn resume_error(out: &Path, dir: &Path) -> TrainError {
    train(&TrainConfig {
        resume: Some(dir.to_path_buf()),
        ..config(out)
    })
    .err()
    .expect("the resume is refused")
}

/// Flips one bit in the middle of `path`.
fn flip_a_bit(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    fs::write(path, bytes).unwrap();
}

/// `checkpoint.txt` with `edit` applied to its body and a correct last line.
fn rewrite_meta(dir: &Path, edit: impl Fn(&str) -> String) {
    let path = dir.join("checkpoint.txt");
    let text = fs::read_to_string(&path).unwrap();
    let body_end = text.trim_end().rfind('\n').unwrap() + 1;
    let body = edit(&text[..body_end]);
    fs::write(
        &path,
        format!("{body}crc32 = {:08x}\n", crc32fast::hash(body.as_bytes())),
    )
    .unwrap();
}

#[test]
fn a_flipped_bit_in_any_file_is_refused_naming_the_file() {
    for name in ["model.safetensors", "optimizer.state", "metrics.csv"] {
        let out = scratch(&format!("flip-{name}"));
        let dir = first_epoch(&out);
        flip_a_bit(&dir.join(name));
        let err = resume_error(&out, &dir);
        let msg = err.to_string();
        assert!(matches!(err, TrainError::Checkpoint { .. }), "{msg}");
        assert!(msg.contains(name) && msg.contains("CRC-32"), "{msg}");
        fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn an_edited_checkpoint_txt_is_refused() {
    let out = scratch("edited-meta");
    let dir = first_epoch(&out);
    let path = dir.join("checkpoint.txt");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace("seed = 0", "seed = 1")).unwrap();
    let msg = resume_error(&out, &dir).to_string();
    assert!(msg.contains("changed after it was written"), "{msg}");
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_impossible_epoch_with_a_valid_checksum_is_refused_at_once() {
    let out = scratch("huge-epoch");
    let dir = first_epoch(&out);
    rewrite_meta(&dir, |body| {
        body.replace("epoch = 1\n", "epoch = 18446744073709551615\n")
    });
    let msg = resume_error(&out, &dir).to_string();
    assert!(msg.contains("expected 1..=18446744073709551615"), "{msg}");
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_missing_manifest_line_or_an_earlier_format_is_refused() {
    let out = scratch("no-manifest");
    let dir = first_epoch(&out);
    rewrite_meta(&dir, |body| {
        body.lines()
            .filter(|l| !l.starts_with("file = optimizer.state"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    let msg = resume_error(&out, &dir).to_string();
    assert!(msg.contains("no `file` line for optimizer.state"), "{msg}");

    let path = dir.join("checkpoint.txt");
    let text = fs::read_to_string(&path).unwrap();
    let old = text.replacen("tapegrad-checkpoint 1", "tapegrad-train-checkpoint 2", 1);
    fs::write(&path, old).unwrap();
    let msg = resume_error(&out, &dir).to_string();
    assert!(
        msg.contains("\"tapegrad-train-checkpoint 2\", not `tapegrad-checkpoint 1`"),
        "{msg}"
    );
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_oversized_checkpoint_txt_is_refused_without_reading_it_all() {
    let out = scratch("big-meta");
    let dir = first_epoch(&out);
    let line = "x".repeat(2 << 20);
    fs::write(
        dir.join("checkpoint.txt"),
        format!("tapegrad-checkpoint 1\n{line}\n"),
    )
    .unwrap();
    let msg = resume_error(&out, &dir).to_string();
    assert!(msg.contains("larger than 1048576 bytes"), "{msg}");
    assert!(
        msg.len() < 300,
        "the error quotes the input: {} bytes",
        msg.len()
    );
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_long_bad_line_is_quoted_cut() {
    let out = scratch("long-line");
    let dir = first_epoch(&out);
    let long = "y".repeat(10_000);
    rewrite_meta(&dir, |body| format!("{body}{long}\n"));
    let msg = resume_error(&out, &dir).to_string();
    assert!(msg.contains("bad line") && msg.contains('…'), "{msg}");
    assert!(
        msg.len() < 300,
        "the error quotes the whole line: {} bytes",
        msg.len()
    );
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn temporary_files_of_dead_runs_are_removed_and_others_kept() {
    let out = scratch("stale");
    fs::create_dir_all(&out).unwrap();
    // pid_max is at most 2^22 on Linux: no process has this pid.
    let dead = u32::MAX - 1;
    let stale = [
        out.join(format!(".metrics.csv.tmp-{dead}")),
        out.join(format!(".metrics.tmp-{dead}.png")),
    ];
    let stale_dir = out.join(format!(".checkpoint-epoch-3.tmp-{dead}"));
    for path in &stale {
        fs::write(path, b"partial").unwrap();
    }
    fs::create_dir_all(&stale_dir).unwrap();
    fs::write(stale_dir.join("model.safetensors"), b"partial").unwrap();
    let keep = [out.join("notes.txt"), out.join(".hidden")];
    for path in &keep {
        fs::write(path, b"mine").unwrap();
    }
    train(&TrainConfig {
        stop_after: Some(1),
        ..config(&out)
    })
    .unwrap();
    for path in stale.iter().chain([&stale_dir]) {
        assert!(!path.exists(), "{} is still there", path.display());
    }
    for path in &keep {
        assert!(path.exists(), "{} was removed", path.display());
    }
    let leftovers: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    fs::remove_dir_all(&out).unwrap();
}
