//! Conjugate gradient on explicit symmetric positive definite systems and on
//! Gauss–Newton products of a small network: the solution, the stopping
//! rules, the curvature from the residual, and errors.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_optim::{CgConfig, OptimError, conjugate_gradient};
use tapegrad_tape::functional::{jvp_of, vjp_of};
use tapegrad_tape::{Tensor, Var};

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// A = M Mᵀ + I for a random 7×7 M, as a dense row-major matrix.
fn spd(seed: u64) -> Vec<f64> {
    let m = randn(&[7, 7], seed);
    let m = m.data();
    let mut a = vec![0.0; 49];
    for i in 0..7 {
        for j in 0..7 {
            a[i * 7 + j] = (0..7).map(|k| m[i * 7 + k] * m[j * 7 + k]).sum::<f64>();
        }
        a[i * 7 + i] += 1.0;
    }
    a
}

/// A d for d split into blocks of 3 and 4 elements.
fn product(a: &[f64], d: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let flat: Vec<f64> = d.iter().flat_map(|t| t.data().to_vec()).collect();
    let ad: Vec<f64> = (0..7)
        .map(|i| (0..7).map(|j| a[i * 7 + j] * flat[j]).sum())
        .collect();
    vec![
        Tensor::from_vec(ad[..3].to_vec(), &[3]).unwrap(),
        Tensor::from_vec(ad[3..].to_vec(), &[2, 2]).unwrap(),
    ]
}

fn gradient(seed: u64) -> Vec<Tensor<f64>> {
    vec![randn(&[3], seed), randn(&[2, 2], seed + 1)]
}

fn flat(ts: &[Tensor<f64>]) -> Vec<f64> {
    ts.iter().flat_map(|t| t.data().to_vec()).collect()
}

#[test]
fn solves_a_dense_system_and_the_curvature_is_the_direct_product() {
    let a = spd(1);
    let g = gradient(2);
    let cfg = CgConfig {
        rel_tol: 1e-12,
        ..CgConfig::default()
    };
    let sol = conjugate_gradient(|d| Ok(product(&a, d)), &g, cfg).unwrap();
    assert!(
        sol.converged && sol.iterations <= 7 + 2,
        "{} iterations",
        sol.iterations
    );
    // A s = −g.
    let residual: Vec<f64> = flat(&product(&a, &sol.step))
        .iter()
        .zip(flat(&g))
        .map(|(as_, g)| as_ + g)
        .collect();
    assert!(residual.iter().all(|r| r.abs() < 1e-10), "{residual:?}");
    let direct: f64 = flat(&sol.step)
        .iter()
        .zip(flat(&product(&a, &sol.step)))
        .map(|(s, as_)| s * as_)
        .sum();
    assert!((sol.curvature - direct).abs() < 1e-10 * direct.abs());
}

#[test]
fn stops_at_the_relative_tolerance_and_at_the_limit() {
    let a = spd(3);
    let g = gradient(4);
    let g_norm = flat(&g).iter().map(|x| x * x).sum::<f64>().sqrt();
    let loose = conjugate_gradient(|d| Ok(product(&a, d)), &g, CgConfig::default()).unwrap();
    assert!(loose.converged && loose.residual_norm <= 0.1 * g_norm);
    // Even when stopped early, the curvature from the residual is sᵀAs.
    let direct: f64 = flat(&loose.step)
        .iter()
        .zip(flat(&product(&a, &loose.step)))
        .map(|(s, as_)| s * as_)
        .sum();
    assert!((loose.curvature - direct).abs() < 1e-10 * direct.abs());
    let one = CgConfig {
        rel_tol: 1e-12,
        max_iter: 1,
    };
    let short = conjugate_gradient(|d| Ok(product(&a, d)), &g, one).unwrap();
    assert_eq!(short.iterations, 1);
    assert!(!short.converged);
    // A zero gradient is already solved: no product taken.
    let zero = vec![Tensor::zeros(&[3]), Tensor::zeros(&[2, 2])];
    let none = conjugate_gradient(|d| Ok(product(&a, d)), &zero, CgConfig::default()).unwrap();
    assert_eq!((none.iterations, none.converged), (0, true));
    assert!(flat(&none.step).iter().all(|&s| s == 0.0));
}

/// With `(JᵀJ + λI)` products through the tape (a Gauss–Newton matrix of
/// squared error): CG's sᵀAs from the residual equals one more product.
#[test]
fn works_on_gauss_newton_products_of_a_network() {
    let x = Var::constant(randn(&[6, 3], 10));
    let w = Var::parameter(randn(&[4, 3], 11));
    let z = x.matmul_t(&w, false, true).unwrap().tanh();
    let lambda = 0.5;
    let apply = |d: &[Tensor<f64>]| {
        let v = Var::constant(d[0].clone());
        let jv = jvp_of(&z, std::slice::from_ref(&w), &[v], false)?;
        let jtjv = vjp_of(&z, std::slice::from_ref(&w), &jv, false)?;
        Ok(vec![jtjv[0].value().add(&d[0].scale(lambda))?])
    };
    let g = vec![randn(&[4, 3], 12)];
    let sol = conjugate_gradient(apply, &g, CgConfig::default()).unwrap();
    assert!(sol.converged);
    let direct: f64 = sol.step[0]
        .data()
        .iter()
        .zip(apply(&sol.step).unwrap()[0].data())
        .map(|(s, as_)| s * as_)
        .sum();
    assert!((sol.curvature - direct).abs() < 1e-10 * direct.abs());
    // A descent direction: sᵀg < 0.
    let sg: f64 = sol.step[0]
        .data()
        .iter()
        .zip(g[0].data())
        .map(|(s, g)| s * g)
        .sum();
    assert!(sg < 0.0);
}

#[test]
fn bad_settings_and_products_are_errors() {
    let a = spd(5);
    let g = gradient(6);
    for rel_tol in [0.0, -1.0, f64::NAN] {
        let cfg = CgConfig {
            rel_tol,
            ..CgConfig::default()
        };
        let err = conjugate_gradient(|d| Ok(product(&a, d)), &g, cfg).unwrap_err();
        assert!(matches!(
            err,
            OptimError::InvalidHyperParameter {
                name: "rel_tol",
                ..
            }
        ));
    }
    let cfg = CgConfig {
        max_iter: 0,
        ..CgConfig::default()
    };
    let err = conjugate_gradient(|d| Ok(product(&a, d)), &g, cfg).unwrap_err();
    assert!(matches!(
        err,
        OptimError::InvalidHyperParameter {
            name: "max_iter",
            ..
        }
    ));
    let wrong = |_: &[Tensor<f64>]| Ok(vec![Tensor::zeros(&[7])]);
    let err = conjugate_gradient(wrong, &g, CgConfig::default()).unwrap_err();
    assert!(matches!(
        err,
        OptimError::InvalidArgument { name: "apply", .. }
    ));
}
