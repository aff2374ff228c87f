//! Gauss–Newton–vector products against an explicitly formed JᵀBJ, against
//! the Hessian where the two coincide, and their positive semi-definiteness.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_nn::{NnError, OutputCurvature, gauss_newton_product};
use tapegrad_tape::functional::{hvp, jacobian};
use tapegrad_tape::{Tensor, Var};

const S: usize = 5; // instances
const K: usize = 3; // outputs

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// z = tanh(x W₁ᵀ + b₁) W₂ᵀ for x `[S, 4]`: parameters W₁ `[6, 4]`, b₁ `[6]`, W₂ `[K, 6]`.
fn net(p: &[Var<f64>], x: &Var<f64>) -> tapegrad_tape::Result<Var<f64>> {
    let h = x.matmul_t(&p[0], false, true)?.add(&p[1])?.tanh();
    h.matmul_t(&p[2], false, true)
}

fn params() -> Vec<Tensor<f64>> {
    vec![randn(&[6, 4], 1), randn(&[6], 2), randn(&[K, 6], 3)]
}

fn tangents(seed: u64) -> Vec<Var<f64>> {
    params()
        .iter()
        .enumerate()
        .map(|(i, p)| Var::constant(randn(p.shape(), seed + i as u64)))
        .collect()
}

fn flat(vs: &[Var<f64>]) -> Vec<f64> {
    vs.iter().flat_map(|v| v.value().data().to_vec()).collect()
}

/// (1/S) Σᵢ Jᵢᵀ Bᵢ Jᵢ v + λ v with J formed densely as `[S·K, P]`.
fn dense_product(curvature: OutputCurvature, lambda: f64, v: &[f64]) -> Vec<f64> {
    let x = Var::constant(randn(&[S, 4], 9));
    let at: Vec<Var<f64>> = params().into_iter().map(Var::constant).collect();
    let blocks = jacobian(|p| net(p, &x), &at, false).unwrap();
    let p_len = v.len();
    // Row r = (i, k) of J: the blocks' rows side by side.
    let mut j = vec![0.0; S * K * p_len];
    let mut col = 0;
    for b in &blocks {
        let n = b.numel() / (S * K);
        for r in 0..S * K {
            j[r * p_len + col..][..n].copy_from_slice(&b.value().data()[r * n..][..n]);
        }
        col += n;
    }
    let z = net(&at, &x).unwrap().value();
    let jv: Vec<f64> = (0..S * K)
        .map(|r| (0..p_len).map(|c| j[r * p_len + c] * v[c]).sum())
        .collect();
    let mut bjv = [0.0; S * K];
    for i in 0..S {
        let zi = &z.data()[i * K..][..K];
        let max = zi.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = zi.iter().map(|&a| (a - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        for a in 0..K {
            for b in 0..K {
                let bab = match curvature {
                    OutputCurvature::SquaredError => 2.0 * f64::from(u8::from(a == b)),
                    OutputCurvature::SoftmaxCrossEntropy => {
                        let (pa, pb) = (e[a] / sum, e[b] / sum);
                        pa * f64::from(u8::from(a == b)) - pa * pb
                    }
                };
                bjv[i * K + a] += bab * jv[i * K + b];
            }
        }
    }
    (0..p_len)
        .map(|c| {
            (0..S * K).map(|r| j[r * p_len + c] * bjv[r]).sum::<f64>() / S as f64 + lambda * v[c]
        })
        .collect()
}

fn product(curvature: OutputCurvature, lambda: f64, v: &[Var<f64>]) -> Vec<f64> {
    let x = Var::constant(randn(&[S, 4], 9));
    let p: Vec<Var<f64>> = params().into_iter().map(Var::parameter).collect();
    let z = net(&p, &x).unwrap();
    flat(&gauss_newton_product(&z, &p, v, curvature, lambda).unwrap())
}

#[test]
fn matches_the_explicit_jt_b_j_for_both_losses() {
    for curvature in [
        OutputCurvature::SquaredError,
        OutputCurvature::SoftmaxCrossEntropy,
    ] {
        for (seed, lambda) in [(10, 0.0), (20, 0.25)] {
            let v = tangents(seed);
            let got = product(curvature, lambda, &v);
            let want = dense_product(curvature, lambda, &flat(&v));
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "{curvature:?}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn the_product_is_positive_semi_definite() {
    for seed in 0..8 {
        let v = tangents(100 + 10 * seed);
        let gv = product(OutputCurvature::SoftmaxCrossEntropy, 0.0, &v);
        let vgv: f64 = flat(&v).iter().zip(&gv).map(|(a, b)| a * b).sum();
        assert!(vgv >= -1e-12, "vᵀGv = {vgv}");
    }
}

/// For a linear model and squared error the Gauss–Newton matrix is the
/// Hessian of the mean loss (the second-order term of z vanishes).
#[test]
fn equals_the_hessian_for_a_linear_model_with_squared_error() {
    let x = Var::constant(randn(&[S, 4], 30));
    let y = Var::constant(randn(&[S, K], 31));
    let w = Var::parameter(randn(&[K, 4], 32));
    let v = Var::constant(randn(&[K, 4], 33));
    let z = x.matmul_t(&w, false, true).unwrap();
    let gv = gauss_newton_product(
        &z,
        &[w.clone()],
        &[v.clone()],
        OutputCurvature::SquaredError,
        0.1,
    )
    .unwrap();
    let loss = |p: &[Var<f64>]| {
        let r = x.matmul_t(&p[0], false, true)?.sub(&y)?;
        // (1/S) Σᵢ ‖zᵢ − yᵢ‖² + (λ/2) ‖w‖²
        let fit = r.mul(&r)?.sum().mul_scalar(1.0 / S as f64);
        fit.add(&p[0].mul(&p[0])?.sum().mul_scalar(0.05))
    };
    let (_, hv) = hvp(loss, &[Var::constant(w.value())], &[v], false).unwrap();
    for (g, h) in gv[0].value().data().iter().zip(hv[0].value().data()) {
        assert!((g - h).abs() < 1e-12, "{g} vs {h}");
    }
}

#[test]
fn bad_arguments_are_errors() {
    let p = Var::parameter(randn(&[3], 40));
    let v = Var::constant(randn(&[3], 41));
    let flat_z = p.mul(&p).unwrap();
    let err = gauss_newton_product(
        &flat_z,
        &[p.clone()],
        &[v.clone()],
        OutputCurvature::SquaredError,
        0.0,
    );
    assert!(matches!(
        err,
        Err(NnError::InvalidArgument { name: "z", .. })
    ));
    let z = flat_z.reshape(&[1, 3]).unwrap();
    for lambda in [-1.0, f64::NAN] {
        let err = gauss_newton_product(
            &z,
            &[p.clone()],
            &[v.clone()],
            OutputCurvature::SquaredError,
            lambda,
        );
        assert!(matches!(
            err,
            Err(NnError::InvalidArgument { name: "lambda", .. })
        ));
    }
    let err = gauss_newton_product(&z, &[p.clone()], &[], OutputCurvature::SquaredError, 0.0);
    assert!(matches!(err, Err(NnError::Tape(_))));
}
