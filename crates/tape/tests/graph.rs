//! Semantics of the graph: accumulation, freeing, versions, deep chains, threads.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use smallvec::smallvec;
use tapegrad_tape::ops::OutputNotRead;
use tapegrad_tape::{
    Ctx, GradOptions, GradcheckOptions, Grads, Result, TapeError, Tensor, Var, grad, gradcheck,
    no_grad,
};

fn param(values: &[f64]) -> Var<f64> {
    Var::parameter(Tensor::from_vec(values.to_vec(), &[values.len()]).unwrap())
}

#[test]
fn a_var_used_twice_gets_the_summed_gradient() {
    let x = param(&[1.0, -2.0]);
    let y = x.mul_scalar(3.0).add(&x.exp()).unwrap().sum();
    y.backward().unwrap();
    let expected: Vec<f64> = [1.0f64, -2.0].iter().map(|v| 3.0 + v.exp()).collect();
    assert_eq!(x.grad().unwrap().data(), expected.as_slice());
}

#[test]
fn backward_accumulates_until_zero_grad() {
    let x = param(&[2.0]);
    x.mul(&x).unwrap().sum().backward().unwrap();
    x.mul(&x).unwrap().sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[8.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    x.mul(&x).unwrap().sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[4.0]);
}

#[test]
fn grad_leaves_the_accumulated_gradients_alone() {
    let x = param(&[2.0, 3.0]);
    let y = x.mul(&x).unwrap().sum();
    let g = grad(&[y], &[x.clone()], None, GradOptions::default()).unwrap();
    assert_eq!(g[0].as_ref().unwrap().value().data(), &[4.0, 6.0]);
    assert!(x.grad().is_none());
}

#[test]
fn grad_of_an_unused_input_is_an_error_or_none() {
    let x = param(&[1.0]);
    let z = param(&[1.0]);
    let y = x.exp().sum();
    let err = grad(
        &[y.clone()],
        &[z.clone()],
        None,
        GradOptions {
            retain_graph: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err, TapeError::UnusedInput { index: 0 });
    let got = grad(
        &[y],
        &[z],
        None,
        GradOptions {
            allow_unused: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(got[0].is_none());
}

#[test]
fn second_backward_through_a_freed_graph_is_an_error() {
    let x = param(&[1.0]);
    let y = x.exp().sum();
    y.backward().unwrap();
    let err = y.backward().unwrap_err();
    assert!(matches!(err, TapeError::GraphFreed { op: "sum" }), "{err}");
    assert!(err.to_string().contains("retain_graph"));
}

#[test]
fn a_parameter_modified_in_place_makes_backward_fail() {
    let w = param(&[1.0, 2.0]);
    w.set_name("fc.weight");
    let y = w.exp().sum();
    w.update(|d| d[0] += 1.0);
    let err = y.backward().unwrap_err();
    assert_eq!(
        err.to_string(),
        "backward: `fc.weight` (input 0 of `exp`) was modified in place after the forward pass (version 0 when used, now 1)"
    );
}

#[test]
fn backward_needs_a_one_element_output() {
    let x = param(&[1.0, 2.0]);
    let err = x.exp().backward().unwrap_err();
    assert_eq!(
        err,
        TapeError::NonScalarOutput {
            shape: smallvec![2]
        }
    );
}

#[test]
fn a_chain_of_100_000_ops_runs_and_drops_without_recursion() {
    let x = param(&[1.0]);
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = y.mul_scalar(1.0).add_scalar(0.0);
    }
    let loss = y.sum();
    drop(y);
    loss.backward_retain().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[1.0]);
    drop(loss); // the drop of the graph must not recurse either
}

#[test]
fn intermediates_are_freed_after_backward_and_drop() {
    let x = param(&[0.5, 1.5]);
    let hidden = x.tanh();
    let weak = hidden.downgrade();
    let loss = hidden.exp().sum();
    drop(hidden);
    assert!(
        weak.upgrade().is_some(),
        "the graph keeps the intermediate alive"
    );
    loss.backward().unwrap();
    assert!(weak.upgrade().is_none(), "backward frees the graph");

    let hidden = x.tanh();
    let weak = hidden.downgrade();
    let loss = hidden.exp().sum();
    drop(hidden);
    drop(loss);
    assert!(
        weak.upgrade().is_none(),
        "dropping the loss frees the graph"
    );
}

#[test]
fn no_grad_and_detach_record_nothing() {
    let x = param(&[1.0]);
    let y = no_grad(|| x.exp());
    assert!(!y.requires_grad());
    assert!(!x.exp().detach().requires_grad());
    assert!(x.exp().requires_grad());
}

#[test]
fn vars_are_send_and_sync_and_work_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Var<f32>>();
    assert_send_sync::<Var<f64>>();
    let w = param(&[1.0, 2.0]);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let w = w.clone();
            std::thread::spawn(move || w.mul(&w).unwrap().sum().backward().unwrap())
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(w.grad().unwrap().data(), &[4.0, 8.0]);
}

#[test]
fn hessian_vector_product_of_a_quadratic() {
    // f(x) = ½ xᵀ A x with symmetric A: H v = A v.
    let a = Var::constant(Tensor::from_vec(vec![2.0, 1.0, 1.0, 3.0], &[2, 2]).unwrap());
    let x = Var::parameter(Tensor::from_vec(vec![0.3, -0.7], &[2, 1]).unwrap());
    let ax = a
        .mul(&x.reshape(&[1, 2]).unwrap())
        .unwrap()
        .sum_axes(&[1], true)
        .unwrap(); // A x as [2,1]
    let f = x.mul(&ax).unwrap().sum().mul_scalar(0.5);
    let opts = GradOptions {
        create_graph: true,
        ..Default::default()
    };
    let g = grad(&[f], &[x.clone()], None, opts).unwrap()[0]
        .clone()
        .unwrap();
    let v = Var::constant(Tensor::from_vec(vec![1.0, 2.0], &[2, 1]).unwrap());
    let hv = grad(
        &[g.mul(&v).unwrap().sum()],
        &[x],
        None,
        GradOptions::default(),
    )
    .unwrap();
    assert_eq!(hv[0].as_ref().unwrap().value().data(), &[4.0, 7.0]);
}

/// A deliberately wrong rule (∂ exp = g instead of g eˣ) must be caught, with
/// the element and both values in the report.
#[test]
fn gradcheck_catches_a_wrong_rule() {
    fn bad_exp(x: &Var<f64>) -> Var<f64> {
        let value = x.value().map(f64::exp);
        Var::from_op(
            "bad_exp",
            value,
            &[x],
            |c: &Ctx<'_, f64>| -> Result<Grads<f64>> { Ok(smallvec![Some(c.grad.clone())]) },
        )
    }
    let x = Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap();
    let err = gradcheck(|v| Ok(bad_exp(&v[0])), &[x], GradcheckOptions::default()).unwrap_err();
    match err {
        TapeError::GradientMismatch {
            output: 1,
            input: 0,
            element: 1,
            analytic,
            numeric,
            ..
        } => {
            assert_eq!(analytic, 1.0);
            assert!((numeric - 1f64.exp()).abs() < 1e-6);
        }
        other => panic!("unexpected: {other}"),
    }
}

#[test]
fn custom_op_with_a_correct_rule_passes_both_checks() {
    fn cube(x: &Var<f64>) -> Var<f64> {
        let value = x.value().map(|v| v * v * v);
        Var::from_op(
            "cube",
            value,
            &[x],
            |c: &Ctx<'_, f64>| -> Result<Grads<f64>> {
                let x = &c.inputs[0];
                Ok(smallvec![Some(c.grad.mul(&x.mul(x)?.mul_scalar(3.0))?)])
            },
        )
    }
    common::check_both(|v| Ok(cube(&v[0])), &[common::randn(&[3], 9)]);
}

/// `y = 2x` whose rule reports how many elements of its own output it can still
/// see, and says (through `OutputNotRead` or not) whether it reads them.
fn doubling(x: &Var<f64>, declared_unread: bool, seen: &Arc<AtomicUsize>) -> Var<f64> {
    let seen = Arc::clone(seen);
    let rule = move |c: &Ctx<'_, f64>| -> Result<Grads<f64>> {
        seen.store(c.output.with_value(Tensor::numel), Ordering::SeqCst);
        assert_eq!(
            c.output.shape(),
            c.inputs[0].shape(),
            "the shape stays known"
        );
        Ok(smallvec![Some(c.grad * 2.0)])
    };
    let value = x.value().scale(2.0);
    if declared_unread {
        Var::from_op("double", value, &[x], OutputNotRead(rule))
    } else {
        Var::from_op("double", value, &[x], rule)
    }
}

#[test]
fn an_unread_output_is_freed_before_its_rule_only_when_nothing_can_see_it() {
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let x = param(&[1.0, 2.0, 3.0]);
    let run = |declared_unread: bool, keep: bool, weak: bool, retain: bool| {
        let y = doubling(&x, declared_unread, &seen);
        let (kept, weak_ref) = (keep.then(|| y.clone()), weak.then(|| y.downgrade()));
        let loss = y.exp().sum();
        drop(y);
        x.zero_grad();
        if retain {
            loss.backward_retain().unwrap();
        } else {
            loss.backward().unwrap();
        }
        let expected: Vec<f64> = [1.0f64, 2.0, 3.0]
            .iter()
            .map(|v| 2.0 * (2.0 * v).exp())
            .collect();
        assert_eq!(x.grad().unwrap().data(), expected.as_slice());
        drop((kept, weak_ref));
        seen.load(Ordering::SeqCst)
    };
    assert_eq!(run(true, false, false, false), 0, "no handle left: freed");
    assert_eq!(
        run(true, true, false, false),
        3,
        "the user holds the result"
    );
    assert_eq!(run(true, false, true, false), 3, "the user holds a WeakVar");
    assert_eq!(run(true, false, false, true), 3, "the graph is retained");
    assert_eq!(
        run(false, false, false, false),
        3,
        "a closure may read its output"
    );
}

/// One gradient reaches two ReLUs (the rule of `add` hands the same var to
/// both); the first must not mask it in place under the second.
#[test]
fn a_gradient_shared_by_two_relus_is_masked_separately() {
    let x = param(&[1.0, -2.0, 3.0]);
    let z = param(&[-1.0, 2.0, 3.0]);
    let weights = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
    let loss = x
        .relu()
        .add(&z.relu())
        .unwrap()
        .mul(&weights)
        .unwrap()
        .sum();
    loss.backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[1.0, 0.0, 3.0]);
    assert_eq!(z.grad().unwrap().data(), &[0.0, 2.0, 3.0]);
}

/// `x + x`: the rule of `add` hands one gradient var to x twice, so the sum
/// waiting at x shares its buffer with what is added to it; accumulating in
/// place must not apply there.
#[test]
fn a_gradient_delivered_twice_to_one_var_is_summed_correctly() {
    let x = param(&[1.0, -2.0, 3.0]);
    let weights = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
    let h = x.mul_scalar(1.5);
    let loss = h.add(&h).unwrap().mul(&weights).unwrap().sum();
    drop(h);
    loss.backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[3.0, 6.0, 9.0]);
}

#[test]
fn a_frozen_parameter_gets_no_gradient_and_can_be_unfrozen() {
    let w = Var::parameter(Tensor::from_vec(vec![2.0f64, 3.0], &[2]).unwrap());
    let b = Var::parameter(Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap());
    b.set_requires_grad(false).unwrap();
    let loss = w.mul(&b).unwrap().sum();
    loss.backward().unwrap();
    assert_eq!(w.grad().unwrap().data(), &[1.0, 1.0]);
    assert!(b.grad().is_none());
    // Frozen after recording: the next backward pass through that graph skips it.
    b.set_requires_grad(true).unwrap();
    let loss = w.mul(&b).unwrap().sum();
    w.set_requires_grad(false).unwrap();
    w.zero_grad();
    loss.backward().unwrap();
    assert!(w.grad().is_none());
    assert_eq!(b.grad().unwrap().data(), &[2.0, 3.0]);
    // Everything frozen: the result is a constant.
    b.set_requires_grad(false).unwrap();
    assert!(!w.mul(&b).unwrap().requires_grad());
}

#[test]
fn only_parameters_can_be_frozen() {
    let c = Var::constant(Tensor::<f64>::ones(&[2]));
    let err = c.set_requires_grad(true).unwrap_err();
    assert!(err.to_string().contains("only a parameter"), "{err}");
    let p = Var::parameter(Tensor::<f64>::ones(&[2]));
    assert!(p.exp().set_requires_grad(false).is_err());
}
