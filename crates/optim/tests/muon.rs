//! Muon, which takes matrices only and so has its own cases
//! (`fixtures/muon_reference.json`): trajectories and state equal to PyTorch's
//! Muon with a float64 Newton–Schulz iteration (f64 to 1e-12, f32 to 1e-5),
//! within bfloat16 rounding of PyTorch's own, its refusals, and resume.

mod common;

use common::{f64s, fixture, param, set_grad, values};
use serde_json::{Map, Value};
use tapegrad_optim::{AdjustLr, Muon, MuonConfig, Optimizer, Options, ParamGroup};
use tapegrad_tape::{Float, Var};

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/muon_reference.json"
);

/// PyTorch's options by name; every key must be understood.
fn configured(options: &Map<String, Value>) -> MuonConfig {
    let mut cfg = MuonConfig::default();
    for (key, value) in options {
        let set = match (key.as_str(), value) {
            ("adjust_lr_fn", Value::String(name)) => {
                let index = ["original", "match_rms_adamw", "spectral_unclamped"]
                    .iter()
                    .position(|n| n == name)
                    .unwrap_or_else(|| panic!("adjust_lr_fn {name} is not mapped"));
                cfg.set(key, index as f64)
            }
            (_, Value::Bool(b)) => cfg.set(key, f64::from(u8::from(*b))),
            (_, Value::Array(items)) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, x)| cfg.set(&format!("{key}.{i}"), x.as_f64().unwrap())),
            (_, v) => cfg.set(key, v.as_f64().unwrap()),
        };
        set.unwrap_or_else(|e| panic!("option {key}: {e}"));
    }
    cfg
}

/// |a − b| ≤ rtol |b| + atol; the worst relative error.
fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst: f64 = 0.0;
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= rtol * b.abs() + atol,
            "{what}[{i}]: got {a:e}, PyTorch {b:e}"
        );
        worst = worst.max((a - b).abs() / b.abs());
    }
    worst
}

fn run_case<T: Float>(name: &str, case: &Value, rtol: f64, atol: f64) -> f64 {
    assert_eq!(case["optimizer"], "Muon", "{name}");
    let params: Vec<Var<T>> = common::case_params(case);
    let cfg = configured(case["options"].as_object().unwrap());
    let mut opt = Muon::new(params.clone(), cfg).unwrap();
    let mut worst: f64 = 0.0;
    let steps = case["grads"]
        .as_array()
        .unwrap()
        .iter()
        .zip(case["expected"].as_array().unwrap());
    for (t, (grads, expected)) in steps.enumerate() {
        for (p, g) in params.iter().zip(grads.as_array().unwrap()) {
            set_grad(p, &f64s(g));
        }
        opt.step().unwrap();
        for (i, (p, want)) in params.iter().zip(expected.as_array().unwrap()).enumerate() {
            let what = format!("{name} ({}) step {t} param {i}", T::NAME);
            worst = worst.max(assert_close(&what, &values(p), &f64s(want), rtol, atol));
        }
    }
    let state = opt.state_dict();
    for (i, want) in case["state"].as_array().unwrap().iter().enumerate() {
        let got = state.state[0][i].as_ref().unwrap();
        let buffer: Vec<f64> = got
            .buffer("momentum_buffer")
            .unwrap()
            .iter()
            .map(|x| x.to_f64())
            .collect();
        let what = format!("{name} ({}) momentum_buffer of param {i}", T::NAME);
        worst = worst.max(assert_close(
            &what,
            &buffer,
            &f64s(&want["momentum_buffer"]),
            rtol,
            atol,
        ));
    }
    worst
}

/// The float64-iteration cases at `rtol`, PyTorch's bfloat16 one at its own.
fn run_all<T: Float>(rtol: f64, atol: f64) {
    let root = fixture(FILE);
    let cases = root["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 4, "the fixture has 4 cases");
    for (name, case) in cases {
        let worst = match case.get("rtol") {
            Some(loose) => {
                let loose = loose.as_f64().unwrap();
                run_case::<T>(name, case, loose, loose)
            }
            None => run_case::<T>(name, case, rtol, atol),
        };
        println!("{name:32} {}: worst relative error {worst:.2e}", T::NAME);
    }
}

#[test]
fn trajectories_match_pytorch_in_f64() {
    run_all::<f64>(1e-12, 1e-14);
}

#[test]
fn trajectories_match_pytorch_in_f32() {
    run_all::<f32>(1e-5, 1e-6);
}

fn matrix(rows: usize, cols: usize, seed: u64) -> Var<f64> {
    param(&common::noise(seed, rows * cols), &[rows, cols])
}

#[test]
fn other_shapes_and_bad_options_are_refused() {
    let bias = param::<f64>(&[0.0; 3], &[3]);
    let err = Muon::new(vec![matrix(2, 3, 1), bias.clone()], MuonConfig::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Muon: cannot take a parameter of shape [3]: Muon takes 2-D parameters only, as \
         PyTorch's; give the others to another optimizer"
    );
    let mut opt = Muon::new(vec![matrix(2, 3, 1)], MuonConfig::default()).unwrap();
    assert!(opt.add_param_group(ParamGroup::new(vec![bias])).is_err());
    assert_eq!(opt.groups().len(), 1);
    let refused = |cfg: MuonConfig| {
        Muon::new(vec![matrix(2, 2, 2)], cfg)
            .unwrap_err()
            .to_string()
    };
    let base = MuonConfig::default();
    assert_eq!(
        refused(MuonConfig {
            ns_steps: 100,
            ..base
        }),
        "Muon: invalid ns_steps = 100: must be < 100"
    );
    assert_eq!(
        refused(MuonConfig {
            momentum: -0.5,
            ..base
        }),
        "Muon: invalid momentum = -0.5: must be >= 0"
    );
    assert_eq!(
        refused(MuonConfig {
            ns_coefficients: (3.0, f64::NAN, 2.0),
            ..base
        }),
        "Muon: invalid ns_coefficients.1 = NaN: must be a finite number"
    );
    assert!(refused(MuonConfig { eps: -1.0, ..base }).contains("eps"));
    let mut cfg = base;
    cfg.set("adjust_lr_fn", 2.0).unwrap();
    assert_eq!(cfg.adjust_lr_fn, AdjustLr::SpectralUnclamped);
    assert!(cfg.set("adjust_lr_fn", 3.0).is_err());
}

/// The step is an orthogonalized direction: its singular values are near 1
/// (PyTorch's coefficients give 0.7–1.2), for a wide and a tall matrix.
#[test]
fn the_step_has_singular_values_near_one() {
    for (rows, cols) in [(4, 9), (9, 4)] {
        let w = param::<f64>(&vec![0.0; rows * cols], &[rows, cols]);
        let cfg = MuonConfig {
            lr: 1.0,
            weight_decay: 0.0,
            nesterov: false,
            adjust_lr_fn: AdjustLr::SpectralUnclamped,
            ..MuonConfig::default()
        };
        let mut opt = Muon::new(vec![w.clone()], cfg).unwrap();
        set_grad(&w, &common::noise(7, rows * cols));
        opt.step().unwrap();
        // O = −θ / √(rows/cols); O Oᵀ (or Oᵀ O) has eigenvalues σ², its trace their sum.
        let scale = (rows as f64 / cols as f64).sqrt();
        let o: Vec<f64> = values(&w).iter().map(|x| -x / scale).collect();
        let short = rows.min(cols);
        let frob_sq: f64 = o.iter().map(|x| x * x).sum();
        let mean_sigma_sq = frob_sq / short as f64;
        assert!(
            (0.5..1.5).contains(&mean_sigma_sq),
            "{rows}x{cols}: mean σ² {mean_sigma_sq}"
        );
    }
}

#[test]
fn a_restored_run_continues_bit_for_bit() {
    let fresh = || vec![matrix(3, 5, 10), matrix(6, 2, 11)];
    let grads = |t: usize, params: &[Var<f64>]| {
        for (i, p) in params.iter().enumerate() {
            set_grad(p, &common::noise((t * 10 + i) as u64, p.numel()));
        }
    };
    let params = fresh();
    let mut opt = Muon::new(params.clone(), MuonConfig::default()).unwrap();
    let mut saved = None;
    let mut reference = Vec::new();
    for t in 0..8 {
        if t == 3 {
            let copies: Vec<Var<f64>> = params.iter().map(|p| Var::parameter(p.value())).collect();
            saved = Some((opt.state_dict(), copies));
        }
        grads(t, &params);
        opt.step().unwrap();
        reference.push(params.iter().map(common::bits).collect::<Vec<_>>());
    }
    let (state, params) = saved.unwrap();
    let mut opt = Muon::new(params.clone(), MuonConfig::default()).unwrap();
    opt.load_state_dict(&state).unwrap();
    for (t, want) in reference.iter().enumerate().skip(3) {
        grads(t, &params);
        opt.step().unwrap();
        assert_eq!(
            &params.iter().map(common::bits).collect::<Vec<_>>(),
            want,
            "step {t}"
        );
    }
}
