//! For every optimizer of the registry (L-BFGS too, as every one steps
//! through a closure; and Muon alone, and Lookahead around Adam) under a
//! schedule, on a network with dropout: stop after k steps, save one
//! checkpoint, restore it into a freshly built model, optimizer and scheduler
//! (other seeds, so nothing is shared by accident) and continue: the weights,
//! the losses and the learning rates are bit for bit those of the run that
//! never stopped.

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use tapegrad_checkpoint::{Checkpoint, SavedCheckpoint};
use tapegrad_nn::{ChaCha12Rng, Dropout, Linear, Module, Sequential, Tanh, cross_entropy};
use tapegrad_optim::{
    Lookahead, LrScheduler, MuonConfig, Optim, Optimizer, OptimizerKind, OptimizerSettings,
    Scheduler, warmup_cosine,
};
use tapegrad_tape::{Tensor, Var};

const TOTAL: usize = 8;
const STOP: usize = 3;

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapegrad-ck-{name}-{}", std::process::id()))
}

fn model(seed: u64) -> Sequential<f64> {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    Sequential::new()
        .push(Linear::new(4, 6, &mut rng))
        .push(Tanh)
        .push(Dropout::new(0.3, seed + 100).unwrap())
        .push(Linear::new(6, 3, &mut rng))
}

fn schedule() -> impl LrScheduler {
    warmup_cosine(0.1, 2, TOTAL, 1e-4).unwrap()
}

type Build<'a> = &'a dyn Fn(&Sequential<f64>) -> Box<dyn Optimizer<f64>>;

/// One minibatch drawn from `data`: the program's own generator, saved too.
fn step(
    model: &Sequential<f64>,
    opt: &mut dyn Optimizer<f64>,
    sched: &mut Scheduler<impl LrScheduler>,
    data: &mut ChaCha12Rng,
) -> u64 {
    let x: Vec<f64> = (0..20).map(|_| data.random::<f64>() - 0.5).collect();
    let y: Vec<usize> = (0..5).map(|_| data.random_range(0..3)).collect();
    let x = Var::constant(Tensor::from_vec(x, &[5, 4]).unwrap());
    let mut closure = || {
        opt_zero(model);
        let loss = cross_entropy(&model.forward(&x)?, &y)?;
        loss.backward()?;
        loss.item()
    };
    let loss = opt.step_with(&mut closure).unwrap();
    sched.step(opt).unwrap();
    loss.to_bits()
}

fn opt_zero(model: &Sequential<f64>) {
    model.parameters().iter().for_each(Var::zero_grad);
}

fn bits(model: &Sequential<f64>) -> Vec<u64> {
    let params = model.parameters();
    params
        .iter()
        .flat_map(|p| {
            p.value()
                .data()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The weights and the losses of the last steps, and the lr at the end.
fn uninterrupted(build: Build) -> (Vec<u64>, Vec<u64>, u64) {
    let net = model(0);
    let mut opt = build(&net);
    let mut sched = Scheduler::new(schedule(), opt.as_mut()).unwrap();
    let mut data = ChaCha12Rng::seed_from_u64(7);
    let losses: Vec<u64> = (0..TOTAL)
        .map(|_| step(&net, opt.as_mut(), &mut sched, &mut data))
        .collect();
    (bits(&net), losses[STOP..].to_vec(), opt.lr().to_bits())
}

fn resumed(build: Build, name: &str) -> (Vec<u64>, Vec<u64>, u64) {
    let dir = scratch(name);
    {
        let net = model(0);
        let mut opt = build(&net);
        let mut sched = Scheduler::new(schedule(), opt.as_mut()).unwrap();
        let mut data = ChaCha12Rng::seed_from_u64(7);
        for _ in 0..STOP {
            step(&net, opt.as_mut(), &mut sched, &mut data);
        }
        Checkpoint::new(STOP, 0)
            .scheduler(&sched)
            .generator("data", &data)
            .save(&dir, &net, opt.as_ref())
            .unwrap();
    }
    let net = model(1);
    let mut opt = build(&net);
    let saved = SavedCheckpoint::open(&dir).unwrap();
    saved.restore(&net, opt.as_mut()).unwrap();
    let mut sched = saved.restore_scheduler(schedule(), opt.as_mut()).unwrap();
    let mut data = saved.generator("data").unwrap();
    let losses: Vec<u64> = (STOP..TOTAL)
        .map(|_| step(&net, opt.as_mut(), &mut sched, &mut data))
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    (bits(&net), losses, opt.lr().to_bits())
}

fn registry(kind: OptimizerKind) -> impl Fn(&Sequential<f64>) -> Box<dyn Optimizer<f64>> {
    move |net| {
        let settings = OptimizerSettings {
            // L-BFGS has none.
            weight_decay: if kind == OptimizerKind::Lbfgs {
                0.0
            } else {
                0.01
            },
            ..OptimizerSettings::new(kind)
        };
        settings.build(net.parameters()).unwrap()
    }
}

#[test]
fn every_registered_optimizer_resumes_bit_for_bit_under_a_schedule() {
    for kind in OptimizerKind::ALL {
        let build = registry(kind);
        let (whole, stopped) = (uninterrupted(&build), resumed(&build, kind.name()));
        assert_eq!(whole, stopped, "{kind}");
    }
}

#[test]
fn muon_and_lookahead_resume_bit_for_bit() {
    let muon = |net: &Sequential<f64>| -> Box<dyn Optimizer<f64>> {
        let two_d = net
            .parameters()
            .into_iter()
            .filter(|p| p.shape().len() == 2);
        Box::new(Optim::new(two_d.collect(), MuonConfig::default()).unwrap())
    };
    let lookahead = |net: &Sequential<f64>| -> Box<dyn Optimizer<f64>> {
        let inner = registry(OptimizerKind::Adam)(net);
        Box::new(Lookahead::new(inner, 2, 0.5).unwrap())
    };
    let builds: [(&str, Build); 2] = [("muon-alone", &muon), ("lookahead", &lookahead)];
    for (name, build) in builds {
        assert_eq!(uninterrupted(build), resumed(build, name), "{name}");
    }
}
