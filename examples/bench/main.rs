//! The speed benchmark, one workload per process, one JSON line per
//! figure: `{"fw": "tapegrad", "wl": "W1", "metric": "ms_step", "value": 4.2}`.
//! `benches/torch_twin.py` runs the same workloads in PyTorch and
//! `benches/compare.py` runs both in alternation.
//!
//! - W1: MLP 784-512-512-10, ReLU, cross-entropy, Adam, batch 128, f32.
//! - W2: CNN conv 5×5×32 → ReLU → pool 2 → conv 3×3×64 → ReLU → pool 2 →
//!   linear 1600→10, cross-entropy, Adam, batch 64, f32.
//! - W3: a 16-element parameter through 10 000 alternating `x * 1.0001` and
//!   `x + 0.0001`, sum, backward (graph release included).
//! - W4: f32 GEMM 1024³ and 256×784×512 into a preallocated output.
//! - W5: one Adam step on a 10 M-element f32 parameter, gradient given.
//! - W5opt: the same step for every optimizer of `OptimizerKind` (PyTorch
//!   defaults, lr 1e-3), one figure `ms_<name>` each.
//! - W6: one pre-norm transformer encoder block (d_model 128, 4 heads,
//!   feed-forward 512, GELU, no dropout) on batch 32 × sequence 64,
//!   mean-squared error to a fixed target, AdamW, f32.
//! - W7: a 2-layer LSTM (input 28, hidden 128) over 28 steps at batch 64, a
//!   linear 128→10 on the last layer's final state, cross-entropy, Adam, f32.
//! - WEVAL: W2's CNN forward only, under `no_grad`, on a batch of 1000:
//!   `ms_batch` and `samples_per_s`.
//! - WGN: one Gauss–Newton–vector product (cross-entropy curvature) against
//!   one gradient on the same batch, for W1's MLP and W2's CNN.
//! - WLBFGS: L-BFGS (history 10, no line search) on W1's MLP over a full batch
//!   of 60 000 random MNIST-sized samples: `ms_per_iteration`, `ms_per_eval`.
//!
//! Run: `cargo run --release --example bench -- W1 [--steps N] [--memory]`.
//! `--steps N` times N steps instead of 50; `--memory` (W1, W2) also prints the
//! peak resident set size (VmHWM) before training, after the first 10 steps and
//! after all steps, and the bytes held by parameters, gradients, Adam's moments
//! and the activations the graph saves.
//!
//! Beside each compute-bound workload's time the bench prints its limit on
//! this machine (`limits.rs`): `fma_peak_gflops`, the f32 FMA peak of all the
//! pool's threads measured in the same process, and `limit_ms_step` (or
//! `limit_ms_batch`, `limit_gflops_…`), the step's GEMM FLOPs over that peak;
//! for W5 `limit_ms_step` and `limit_GBps` are those of the plainest fused
//! Adam loop over the same 28 bytes per element.
//!
//! Each workload runs on a thread of rayon's pool (two threads in all on two
//! cores, as PyTorch's `set_num_threads(2)`). The allocator is mimalloc;
//! `TAPEGRAD_BENCH_ALLOCATOR=system` in the environment selects the system's
//! `malloc` instead (`allocator.rs`).

use std::hint::black_box;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tapegrad::nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, Relu, Sequential, cross_entropy};
use tapegrad::optim::{
    Adam, AdamConfig, Lbfgs, LbfgsConfig, Optimizer, OptimizerKind, OptimizerSettings,
};
use tapegrad::tape::tensor::gemm::{Layout, matmul_into};
use tapegrad::tape::{Tensor, Var};

mod allocator;
mod limits;
mod second_order;
mod sequence;

use limits::Product;

#[global_allocator]
static ALLOCATOR: allocator::Chosen = allocator::Chosen;

const WARMUP: usize = 10;
const STEPS: usize = 50;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn emit(wl: &str, metric: &str, value: f64) {
    println!(
        "{{\"fw\": \"tapegrad\", \"wl\": \"{wl}\", \"metric\": \"{metric}\", \"value\": {value:.4}}}"
    );
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median milliseconds of `steps` calls after `warmup` untimed ones.
pub(crate) fn timed_ms(warmup: usize, steps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    median(
        (0..steps)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

/// Prints the FMA peak and `metric`, the time `flops` take at that peak.
pub(crate) fn emit_flop_limit(wl: &str, metric: &str, flops: f64) {
    let peak = limits::fma_peak_gflops();
    emit(wl, "fma_peak_gflops", peak);
    emit(wl, metric, flops / (peak * 1e6));
}

/// The peak resident set size of this process so far, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

struct Options {
    steps: usize,
    memory: bool,
}

/// Times a training step (forward, cross-entropy, backward, Adam) and the
/// optimizer step alone.
fn train(
    wl: &str,
    model: &dyn Module<f32>,
    x: &Var<f32>,
    labels: &[usize],
    activations: usize,
    products: &[Product],
    opts: &Options,
) -> Result<(), BoxError> {
    let params = model.parameters();
    let cfg = AdamConfig {
        lr: 1e-3,
        eps: 1e-8,
        ..Default::default()
    };
    let mut opt = Adam::new(params.clone(), cfg)?;
    let loss = || Ok(cross_entropy(&model.forward(x)?, labels)?);
    train_loop(wl, &params, &mut opt, loss, activations, opts)?;
    emit_flop_limit(wl, "limit_ms_step", limits::step_flops(products));
    Ok(())
}

/// Times `steps` training steps (zero_grad, `loss`, backward, `opt.step()`)
/// and the optimizer step alone; with `--memory` also the peak RSS figures.
fn train_loop(
    wl: &str,
    params: &[Var<f32>],
    opt: &mut dyn Optimizer<f32>,
    loss: impl Fn() -> Result<Var<f32>, BoxError>,
    activations: usize,
    opts: &Options,
) -> Result<(), BoxError> {
    let step = |opt: &mut dyn Optimizer<f32>| -> Result<(), BoxError> {
        opt.zero_grad();
        loss()?.backward()?;
        opt.step()?;
        Ok(())
    };
    if opts.memory {
        emit(wl, "rss_before_training_mib", peak_rss_mib());
        for _ in 0..WARMUP {
            step(opt)?;
        }
        emit(wl, "peak_rss_after_10_steps_mib", peak_rss_mib());
    }
    let mut failure = None;
    let ms_step = timed_ms(WARMUP, opts.steps, || {
        if let Err(e) = step(opt) {
            failure.get_or_insert(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    emit(wl, "ms_step", ms_step);
    if opts.memory {
        memory_figures(wl, params, activations);
    }
    let ms_opt = timed_ms(WARMUP, opts.steps, || {
        opt.step().expect("the gradients are still there");
    });
    emit(wl, "ms_opt", ms_opt);
    Ok(())
}

/// Peak RSS and the bytes the training state must hold: parameters, their
/// gradients, Adam's two moments, and `activations` saved f32 elements.
fn memory_figures(wl: &str, params: &[Var<f32>], activations: usize) {
    let numel: usize = params.iter().map(Var::numel).sum();
    let mib = |elements: usize| (elements * 4) as f64 / (1024.0 * 1024.0);
    emit(wl, "state_mib", mib(4 * numel + activations));
    emit(wl, "peak_rss_at_end_mib", peak_rss_mib());
}

/// W1's MLP 784-512-512-10 with ReLU.
pub(crate) fn mlp(rng: &mut StdRng) -> Sequential {
    Sequential::new()
        .push(Linear::new(784, 512, rng))
        .push(Relu)
        .push(Linear::new(512, 512, rng))
        .push(Relu)
        .push(Linear::new(512, 10, rng))
}

fn w1(opts: &Options) -> Result<(), BoxError> {
    let mut rng = StdRng::seed_from_u64(0);
    let model = mlp(&mut rng);
    let x = Var::constant(Tensor::rand_normal(&[128, 784], 0.0, 1.0, &mut rng));
    let labels: Vec<usize> = (0..128).map(|_| rng.random_range(0..10)).collect();
    // Saved by the graph: the input, two pre-activations, two ReLU outputs, the logits.
    let activations = 128 * (784 + 4 * 512 + 10);
    let products = [
        Product::linear(128, 784, 512, false),
        Product::linear(128, 512, 512, true),
        Product::linear(128, 512, 10, true),
    ];
    train("W1", &model, &x, &labels, activations, &products, opts)
}

/// W2's CNN for 28×28 single-channel images.
pub(crate) fn cnn(rng: &mut StdRng) -> Sequential {
    Sequential::new()
        .push(Conv2d::new(1, 32, 5, rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Conv2d::new(32, 64, 3, rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push(Linear::new(1600, 10, rng))
}

/// The CNN's products on `images` images, as im2col GEMMs: conv1 has 576
/// output positions of a 25-element patch into 32 channels (its input is
/// data: no input gradient), conv2 100 positions of 288 into 64.
fn cnn_products(images: usize) -> [Product; 3] {
    [
        Product::linear(images * 576, 25, 32, false),
        Product::linear(images * 100, 288, 64, true),
        Product::linear(images, 1600, 10, true),
    ]
}

fn w2(opts: &Options) -> Result<(), BoxError> {
    let mut rng = StdRng::seed_from_u64(0);
    let model = cnn(&mut rng);
    let x = Var::constant(Tensor::rand_normal(&[64, 1, 28, 28], 0.0, 1.0, &mut rng));
    let labels: Vec<usize> = (0..64).map(|_| rng.random_range(0..10)).collect();
    // Input, conv1 out and ReLU (32×24×24 each), pool1 (32×12×12) and its
    // argmax positions (u32, as many), conv2 out and ReLU (64×10×10 each),
    // pool2 (1600) and its positions, logits.
    let activations = 64 * (784 + 2 * 32 * 576 + 2 * 32 * 144 + 2 * 64 * 100 + 2 * 1600 + 10);
    train(
        "W2",
        &model,
        &x,
        &labels,
        activations,
        &cnn_products(64),
        opts,
    )
}

/// WEVAL: the CNN's forward pass alone on 1000 images, as in evaluation.
fn w_eval(opts: &Options) -> Result<(), BoxError> {
    const BATCH: usize = 1000;
    let mut rng = StdRng::seed_from_u64(0);
    let model = cnn(&mut rng);
    model.eval();
    let x = Var::constant(Tensor::rand_normal(&[BATCH, 1, 28, 28], 0.0, 1.0, &mut rng));
    let mut failure = None;
    let ms = timed_ms(3, opts.steps.min(20), || {
        let logits = tapegrad::tape::no_grad(|| model.forward(&x));
        match logits {
            Ok(logits) => drop(black_box(logits)),
            Err(e) => drop(failure.get_or_insert(e)),
        }
    });
    if let Some(e) = failure {
        return Err(e.into());
    }
    emit("WEVAL", "ms_batch", ms);
    emit("WEVAL", "samples_per_s", BATCH as f64 / (ms * 1e-3));
    let forward: f64 = cnn_products(BATCH).map(Product::forward_flops).iter().sum();
    emit_flop_limit("WEVAL", "limit_ms_batch", forward);
    Ok(())
}

fn w3(opts: &Options) -> Result<(), BoxError> {
    const OPS: usize = 10_000;
    let runs = WARMUP + opts.steps;
    let x = Var::parameter(Tensor::<f32>::ones(&[16]));
    let (mut fwd, mut bwd, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let start = Instant::now();
        let mut y = x.clone();
        for i in 0..OPS {
            y = if i % 2 == 0 { &y * 1.0001 } else { &y + 0.0001 };
        }
        let loss = y.sum();
        drop(y);
        let mid = Instant::now();
        loss.backward()?;
        drop(loss);
        let end = Instant::now();
        x.zero_grad();
        if run >= WARMUP {
            let per_op = |d: std::time::Duration| d.as_nanos() as f64 / OPS as f64;
            fwd.push(per_op(mid - start));
            bwd.push(per_op(end - mid));
            total.push(per_op(end - start));
        }
    }
    emit("W3", "ns_per_op", median(total));
    emit("W3", "fwd_ns_per_op", median(fwd));
    emit("W3", "bwd_ns_per_op", median(bwd));
    Ok(())
}

fn w4() {
    for ((m, k, n), metric) in [
        ((1024, 1024, 1024), "gflops_1024^3"),
        ((256, 784, 512), "gflops_256x784x512"),
    ] {
        let mut rng = StdRng::seed_from_u64(0);
        let a = Tensor::<f32>::rand_normal(&[m, k], 0.0, 1.0, &mut rng);
        let b = Tensor::<f32>::rand_normal(&[k, n], 0.0, 1.0, &mut rng);
        let mut out = vec![0.0f32; m * n];
        let ms = timed_ms(5, 30, || {
            let (a, b) = (a.data(), b.data());
            matmul_into(
                m,
                k,
                n,
                a,
                Layout::Normal,
                b,
                Layout::Normal,
                &mut out,
                false,
            );
            black_box(&mut out);
        });
        emit("W4", metric, 2.0 * (m * n * k) as f64 / (ms * 1e-3) / 1e9);
        emit("W4", &format!("limit_{metric}"), limits::fma_peak_gflops());
    }
}

fn w5() -> Result<(), BoxError> {
    const N: usize = 10_000_000;
    let mut rng = StdRng::seed_from_u64(0);
    let param = Var::parameter(Tensor::<f32>::rand_normal(&[N], 0.0, 1.0, &mut rng));
    param.set_grad(Some(Tensor::rand_normal(&[N], 0.0, 1.0, &mut rng)));
    let mut opt = Adam::new(vec![param], AdamConfig::default())?;
    let ms = timed_ms(5, 30, || opt.step().expect("the gradient is there"));
    emit("W5", "ms_step", ms);
    emit("W5", "GBps", 28.0 * N as f64 / (ms * 1e-3) / 1e9);
    let plain = limits::plain_adam_ms(N);
    emit("W5", "limit_ms_step", plain);
    emit("W5", "limit_GBps", 28.0 * N as f64 / (plain * 1e-3) / 1e9);
    Ok(())
}

/// W5 for every kind: median ms of one step on 10 M f32 elements.
fn w5_every_optimizer() -> Result<(), BoxError> {
    const N: usize = 10_000_000;
    let mut rng = StdRng::seed_from_u64(0);
    let param = Var::parameter(Tensor::<f32>::rand_normal(&[N], 0.0, 1.0, &mut rng));
    param.set_grad(Some(Tensor::rand_normal(&[N], 0.0, 1.0, &mut rng)));
    let start = param.value();
    // Muon's step is matrix products on matrices only, L-BFGS's a closure of
    // several evaluations (WLBFGS): neither is an element-wise W5 step.
    let elementwise = |k: &OptimizerKind| !matches!(k, OptimizerKind::Muon | OptimizerKind::Lbfgs);
    for kind in OptimizerKind::ALL.into_iter().filter(elementwise) {
        param.set_value(start.clone())?;
        let settings = OptimizerSettings::new(kind).with_lr(1e-3);
        let mut opt = settings.build(vec![param.clone()])?;
        let ms = timed_ms(3, 15, || opt.step().expect("the gradient is there"));
        emit("W5opt", &format!("ms_{}", kind.name()), ms);
    }
    Ok(())
}

/// L-BFGS on the MLP over a full MNIST-sized batch: one untimed step, then two
/// timed ones of four iterations each; time per iteration and per evaluation.
fn w_lbfgs() -> Result<(), BoxError> {
    const N: usize = 60_000;
    let mut rng = StdRng::seed_from_u64(0);
    let model = mlp(&mut rng);
    let x = Var::constant(Tensor::rand_normal(&[N, 784], 0.0, 1.0, &mut rng));
    let labels: Vec<usize> = (0..N).map(|_| rng.random_range(0..10)).collect();
    let params = model.parameters();
    let cfg = LbfgsConfig {
        max_iter: 4,
        history_size: 10,
        ..LbfgsConfig::default()
    };
    let mut opt = Lbfgs::new(params.clone(), cfg)?;
    let mut closure = || -> tapegrad::tape::Result<f64> {
        params.iter().for_each(Var::zero_grad);
        let logits = model.forward(&x)?;
        let loss = cross_entropy(&logits, &labels)?;
        loss.backward()?;
        Ok(f64::from(loss.item()?))
    };
    opt.step(&mut closure)?;
    let counts = |o: &Lbfgs<f32>| o.state().map_or((0, 0), |s| (s.n_iter, s.func_evals));
    let before = counts(&opt);
    let start = Instant::now();
    for _ in 0..2 {
        opt.step(&mut closure)?;
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let after = counts(&opt);
    emit(
        "WLBFGS",
        "ms_per_iteration",
        ms / (after.0 - before.0).max(1) as f64,
    );
    emit(
        "WLBFGS",
        "ms_per_eval",
        ms / (after.1 - before.1).max(1) as f64,
    );
    Ok(())
}

/// Runs a workload on a thread of the pool, as two threads in all (PyTorch's
/// `set_num_threads(2)` likewise counts the calling thread): each parallel
/// loop then starts on a worker instead of being handed over from an outside
/// thread, and only the pool's threads run products, each with its own packing
/// buffer (docs/performance.md, "Peak memory").
fn on_pool(f: impl FnOnce() -> Result<(), BoxError> + Send) -> Result<(), BoxError> {
    rayon::scope(|_| f())
}

/// One workload by name.
fn run(wl: &str, opts: &Options) -> Result<(), BoxError> {
    match wl {
        "W1" => w1(opts),
        "W2" => w2(opts),
        "W3" => w3(opts),
        "W4" => {
            w4();
            Ok(())
        }
        "W5" => w5(),
        "W5opt" => w5_every_optimizer(),
        "W6" => sequence::w6(opts),
        "W7" => sequence::w7(opts),
        "WEVAL" => w_eval(opts),
        "WGN" => second_order::w_gauss_newton(opts),
        "WLBFGS" => w_lbfgs(),
        other => {
            Err(format!("unknown workload {other} (W1..W7, W5opt, WEVAL, WGN, WLBFGS)").into())
        }
    }
}

fn main() -> Result<(), BoxError> {
    allocator::keep_freed_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = args
        .iter()
        .position(|a| a == "--steps")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(STEPS);
    let opts = Options {
        steps,
        memory: args.iter().any(|a| a == "--memory"),
    };
    let workloads: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with('W'))
        .collect();
    for wl in if workloads.is_empty() {
        vec!["W1", "W2", "W3", "W4", "W5", "W6", "W7"]
    } else {
        workloads
    } {
        on_pool(|| run(wl, &opts))?;
    }
    Ok(())
}
