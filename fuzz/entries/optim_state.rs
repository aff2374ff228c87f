//! Fuzz entry point for restoring optimizer state from a file
//! (`Optimizer::load`), shared by `fuzz_targets/optim_state.rs` and the replay
//! test `crates/optim/tests/fuzz_corpus.rs`.
//!
//! The first byte holds options: bit 0 wraps the rest in a valid header (magic,
//! length, FNV-1a checksum) so that the fuzzer reaches the payload decoder
//! past the checksum, else the rest is the whole file; bit 1 uses `f64`
//! parameters (else `f32`); bits 2–5 choose the optimizer, modulo 10 (SGD with
//! momentum, AdaGrad, RMSprop, Adam with AMSGrad, AdamW, plain SGD, Adadelta,
//! Adamax, NAdamW, RAdam). The optimizer holds
//! two groups over parameters of shapes [2, 3], [3] and [4].
//!
//! Every input must give `Ok` or `Err`, never a panic; a refused file must leave
//! the optimizer's state as it was, and after a successful load a step must run.

use std::path::Path;

use tapegrad_optim::{
    Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, Adamax,
    AdamaxConfig, NAdam, NAdamConfig, Optimizer, ParamGroup, RAdam, RAdamConfig, RmsProp,
    RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad_tape::{Float, Tensor, Var};

/// The state file's magic number (see `crates/optim/src/file.rs`).
const MAGIC: &[u8; 8] = b"TGOPTIM\x01";

/// FNV-1a 64 of `bytes`, the state file's checksum.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `payload` behind a header that announces it and carries its checksum.
pub fn wrap(payload: &[u8]) -> Vec<u8> {
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&fnv1a(payload).to_le_bytes());
    file.extend_from_slice(payload);
    file
}

/// The parameters every optimizer of the entry holds.
pub fn params<T: Float>() -> Vec<Var<T>> {
    [&[2, 3][..], &[3], &[4]]
        .iter()
        .map(|shape| Var::parameter(Tensor::ones(shape)))
        .collect()
}

/// Optimizer `kind` (0..10) over `params`, in two groups.
pub fn optimizer<T: Float>(kind: u8, params: &[Var<T>]) -> Box<dyn Optimizer<T>> {
    let groups = vec![
        ParamGroup::new(vec![params[0].clone(), params[1].clone()]),
        ParamGroup::new(vec![params[2].clone()]).with_lr(0.02),
    ];
    let built: tapegrad_optim::Result<Box<dyn Optimizer<T>>> = match kind % 10 {
        0 => Sgd::with_groups(
            groups,
            SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                ..Default::default()
            },
        )
        .map(|o| Box::new(o) as _),
        1 => Adagrad::with_groups(groups, AdagradConfig::default()).map(|o| Box::new(o) as _),
        2 => RmsProp::with_groups(
            groups,
            RmsPropConfig {
                centered: true,
                momentum: 0.5,
                ..Default::default()
            },
        )
        .map(|o| Box::new(o) as _),
        3 => Adam::with_groups(
            groups,
            AdamConfig {
                amsgrad: true,
                ..Default::default()
            },
        )
        .map(|o| Box::new(o) as _),
        4 => AdamW::with_groups(groups, AdamConfig::adamw()).map(|o| Box::new(o) as _),
        6 => Adadelta::with_groups(groups, AdadeltaConfig::default()).map(|o| Box::new(o) as _),
        7 => Adamax::with_groups(groups, AdamaxConfig::default()).map(|o| Box::new(o) as _),
        8 => NAdam::with_groups(
            groups,
            NAdamConfig {
                weight_decay: 0.01,
                decoupled_weight_decay: true,
                ..Default::default()
            },
        )
        .map(|o| Box::new(o) as _),
        9 => RAdam::with_groups(groups, RAdamConfig::default()).map(|o| Box::new(o) as _),
        _ => Sgd::with_groups(
            groups,
            SgdConfig {
                lr: 0.1,
                ..Default::default()
            },
        )
        .map(|o| Box::new(o) as _),
    };
    built.expect("valid configurations")
}

/// Writes the file the input describes to `scratch` and loads it; `scratch`
/// must be a path this caller alone uses.
pub fn run(data: &[u8], scratch: &Path) {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let file = if options & 1 != 0 {
        wrap(rest)
    } else {
        rest.to_vec()
    };
    std::fs::write(scratch, &file).expect("the scratch file can be written");
    let kind = (options >> 2) & 15;
    if options & 2 != 0 {
        load::<f64>(kind, scratch);
    } else {
        load::<f32>(kind, scratch);
    }
}

fn load<T: Float>(kind: u8, path: &Path) {
    let params = params::<T>();
    let mut opt = optimizer(kind, &params);
    let before = opt.state_dict();
    if opt.load(path).is_err() {
        assert!(opt.state_dict() == before, "a refused file changes nothing");
        return;
    }
    for p in &params {
        p.set_grad(Some(Tensor::ones(p.shape())));
    }
    let _ = opt.step();
}
