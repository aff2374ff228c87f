//! Shape ops: gradients (first and second order) on non-square, size-1, 0-d
//! inputs and negative axes; values by hand (PyTorch's documented examples for
//! gather and scatter_add); repeated indices; every error a bad argument gives.

mod common;

use common::{check_both, randn};
use tapegrad_tape::{TapeError, Tensor, Var};

fn arange(shape: &[usize]) -> Var<f64> {
    let n = shape.iter().product();
    Var::constant(Tensor::arange(n).reshape(shape).unwrap())
}

fn values(v: &tapegrad_tape::Result<Var<f64>>) -> Vec<f64> {
    v.as_ref().unwrap().value().into_vec()
}

#[test]
fn axis_reordering_passes_checks() {
    let cube = [randn(&[2, 3, 4], 1)];
    check_both(|v| v[0].permute(&[2, 0, 1]), &cube);
    check_both(|v| v[0].permute(&[1, 2, 0]), &cube);
    check_both(|v| v[0].transpose(0, -1), &cube);
    check_both(|v| v[0].transpose(-2, 1), &cube);
    let wide = [randn(&[1, 3], 2)];
    check_both(|v| v[0].permute(&[1, 0]), &wide);
    check_both(|v| v[0].t(), &wide);
    check_both(|v| v[0].t(), &[randn(&[3, 4], 3)]);
    check_both(|v| v[0].t(), &[randn(&[4], 4)]);
    let scalar = [randn(&[], 5)];
    check_both(|v| v[0].transpose(0, -1), &scalar);
    check_both(|v| v[0].permute(&[]), &scalar);
}

#[test]
fn reshaping_ops_pass_checks() {
    let x = [randn(&[2, 1, 3], 6)];
    check_both(|v| v[0].squeeze(1), &x);
    check_both(|v| v[0].squeeze(-2), &x);
    check_both(|v| v[0].unsqueeze(-1), &x);
    check_both(|v| v[0].unsqueeze(0), &x);
    check_both(|v| v[0].flatten(0, -1), &x);
    check_both(|v| v[0].flatten(1, 2), &x);
    let scalar = [randn(&[], 7)];
    check_both(|v| v[0].squeeze(0), &scalar);
    check_both(|v| v[0].unsqueeze(-1), &scalar);
    check_both(|v| v[0].flatten(0, -1), &scalar);
}

#[test]
fn reshaping_ops_give_the_right_shapes() {
    let x = arange(&[2, 1, 3, 1]);
    assert_eq!(x.squeeze(1).unwrap().shape(), &[2, 3, 1]);
    assert_eq!(x.squeeze(-1).unwrap().shape(), &[2, 1, 3]);
    assert_eq!(x.squeeze(0).unwrap().shape(), &[2, 1, 3, 1]); // extent 2: unchanged
    assert_eq!(x.unsqueeze(4).unwrap().shape(), &[2, 1, 3, 1, 1]);
    assert_eq!(x.unsqueeze(-5).unwrap().shape(), &[1, 2, 1, 3, 1]);
    assert_eq!(x.flatten(0, 2).unwrap().shape(), &[6, 1]);
    assert_eq!(x.flatten(1, -1).unwrap().shape(), &[2, 3]);
    assert_eq!(x.flatten(2, 2).unwrap().shape(), &[2, 1, 3, 1]);
    let s = Var::scalar(2.0f64);
    assert_eq!(s.flatten(0, -1).unwrap().shape(), &[1]);
    assert_eq!(s.unsqueeze(0).unwrap().shape(), &[1]);
    assert_eq!(s.t().unwrap().shape(), &[] as &[usize]);
    assert_eq!(
        values(&x.flatten(0, -1)),
        (0..6).map(f64::from).collect::<Vec<_>>()
    );
}

#[test]
fn permute_and_transpose_values_by_hand() {
    let x = arange(&[2, 3]);
    assert_eq!(values(&x.t()), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert_eq!(values(&x.transpose(-1, 0)), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    let c = arange(&[2, 3, 4]);
    let p = c.permute(&[1, 2, 0]).unwrap();
    assert_eq!(p.shape(), &[3, 4, 2]);
    // p[i][j][k] = c[k][i][j] = 12k + 4i + j
    for i in 0..3 {
        for j in 0..4 {
            for k in 0..2 {
                let want = (12 * k + 4 * i + j) as f64;
                assert_eq!(p.value().get(&[i, j, k]).unwrap(), want);
            }
        }
    }
    // The gradient is the inverse permutation: a weight per element comes back in place.
    let w = Var::parameter(randn(&[2, 3, 4], 8));
    let probe = Var::constant(permute_probe());
    w.permute(&[1, 2, 0])
        .unwrap()
        .mul(&probe)
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(w.grad().unwrap().data(), c.value().data());
}

/// Extents above the 32-element tiles of the blocked copy, with ragged edges.
#[test]
fn large_permutes_match_the_definition() {
    let shape = [37, 3, 70];
    let x = arange(&shape).value();
    for perm in [[2, 1, 0], [2, 0, 1], [0, 2, 1], [1, 0, 2]] {
        let y = Var::constant(x.clone()).permute(&perm).unwrap().value();
        let mut k = 0;
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        for a in 0..out_shape[0] {
            for b in 0..out_shape[1] {
                for c in 0..out_shape[2] {
                    let mut src = [0; 3];
                    for (d, i) in [a, b, c].into_iter().enumerate() {
                        src[perm[d]] = i;
                    }
                    assert_eq!(y.data()[k], x.get(&src).unwrap(), "perm {perm:?} at {k}");
                    k += 1;
                }
            }
        }
    }
}

/// The head split of attention, [N, L, H, D] → [N, H, L, D] and back: the
/// last axis stays, whole rows move.
#[test]
fn permutes_that_keep_the_last_axis_match_the_definition() {
    let shape = [2, 5, 3, 4];
    let x = arange(&shape).value();
    for perm in [[0, 2, 1, 3], [2, 1, 0, 3], [1, 2, 0, 3]] {
        let y = Var::constant(x.clone()).permute(&perm).unwrap().value();
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        assert_eq!(y.shape(), &out_shape[..]);
        for k in 0..y.numel() {
            let mut rest = k;
            let mut src = [0; 4];
            for d in (0..4).rev() {
                src[perm[d]] = rest % out_shape[d];
                rest /= out_shape[d];
            }
            assert_eq!(y.data()[k], x.get(&src).unwrap(), "perm {perm:?} at {k}");
        }
    }
}

/// The [3, 4, 2] tensor p with p[i][j][k] = 12k + 4i + j, so that
/// `Σ permute(w, [1, 2, 0]) ⊙ p` has the gradient arange in w's layout.
fn permute_probe() -> Tensor<f64> {
    let mut out = Vec::new();
    for i in 0..3 {
        for j in 0..4 {
            for k in 0..2 {
                out.push((12 * k + 4 * i + j) as f64);
            }
        }
    }
    Tensor::from_vec(out, &[3, 4, 2]).unwrap()
}

#[test]
fn concat_and_stack_pass_checks() {
    let parts = [randn(&[2, 1], 10), randn(&[2, 3], 11), randn(&[2, 2], 12)];
    check_both(|v| Var::concat(&[&v[0], &v[1], &v[2]], -1), &parts);
    let rows = [randn(&[1, 3], 13), randn(&[2, 3], 14)];
    check_both(|v| Var::concat(&[&v[0], &v[1]], 0), &rows);
    let cubes = [randn(&[2, 1, 2], 15), randn(&[2, 2, 2], 16)];
    check_both(|v| Var::concat(&[&v[0], &v[1], &v[0]], 1), &cubes);
    let same = [randn(&[2, 3], 17), randn(&[2, 3], 18)];
    check_both(|v| Var::stack(&[&v[0], &v[1]], 0), &same);
    check_both(|v| Var::stack(&[&v[0], &v[1]], -1), &same);
    check_both(|v| Var::stack(&[&v[1], &v[0], &v[1]], 1), &same);
    let scalars = [randn(&[], 19), randn(&[], 20)];
    check_both(|v| Var::stack(&[&v[0], &v[1]], 0), &scalars);
}

#[test]
fn concat_and_stack_values_by_hand() {
    let a = arange(&[2, 2]);
    let b = Var::constant(Tensor::full(&[2, 1], 9.0));
    assert_eq!(
        values(&Var::concat(&[&a, &b], 1)),
        [0.0, 1.0, 9.0, 2.0, 3.0, 9.0]
    );
    assert_eq!(
        values(&Var::concat(&[&b, &a], -1)),
        [9.0, 0.0, 1.0, 9.0, 2.0, 3.0]
    );
    let c = Var::concat(&[&a, &a], 0).unwrap();
    assert_eq!(c.shape(), &[4, 2]);
    assert_eq!(c.value().data(), &[0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0, 3.0]);
    let s = Var::stack(&[&a, &a.mul_scalar(10.0)], 1).unwrap();
    assert_eq!(s.shape(), &[2, 2, 2]);
    assert_eq!(
        s.value().data(),
        &[0.0, 1.0, 0.0, 10.0, 2.0, 3.0, 20.0, 30.0]
    );
    let s = Var::stack(&[&Var::scalar(1.0f64), &Var::scalar(2.0)], -1).unwrap();
    assert_eq!(s.value().data(), &[1.0, 2.0]);
    // Gradients: each part gets its own slice; a part used twice gets the sum.
    let p = Var::<f64>::parameter(Tensor::ones(&[1, 2]));
    let q = Var::<f64>::parameter(Tensor::ones(&[2, 2]));
    let w = Var::constant(Tensor::arange(8).reshape(&[4, 2]).unwrap());
    let cat = Var::concat(&[&p, &q, &p], 0).unwrap();
    cat.mul(&w).unwrap().sum().backward().unwrap();
    assert_eq!(p.grad().unwrap().data(), &[0.0 + 6.0, 1.0 + 7.0]);
    assert_eq!(q.grad().unwrap().data(), &[2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn narrow_and_pad_pass_checks() {
    let x = [randn(&[4, 3], 21)];
    check_both(|v| v[0].narrow(0, 1, 2), &x);
    check_both(|v| v[0].narrow(-1, 2, 1), &x);
    check_both(|v| v[0].narrow(1, 0, 3), &x);
    check_both(|v| v[0].narrow(0, 4, 0), &x);
    check_both(|v| v[0].pad_axis(-1, 2, 1), &x);
    check_both(|v| v[0].pad_axis(0, 0, 2), &x);
    check_both(
        |v| v[0].narrow(1, 1, 1)?.pad_axis(0, 1, 1),
        &[randn(&[1, 3], 22)],
    );
}

#[test]
fn narrow_and_pad_values_by_hand() {
    let x = arange(&[3, 4]);
    assert_eq!(values(&x.narrow(1, 1, 2)), [1.0, 2.0, 5.0, 6.0, 9.0, 10.0]);
    assert_eq!(values(&x.narrow(-2, 2, 1)), [8.0, 9.0, 10.0, 11.0]);
    assert_eq!(x.narrow(1, 4, 0).unwrap().shape(), &[3, 0]);
    let y = arange(&[2, 1]);
    assert_eq!(
        values(&y.pad_axis(1, 1, 2)),
        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    );
    let w = Var::<f64>::parameter(Tensor::ones(&[3, 4]));
    w.narrow(1, 1, 2).unwrap().sum().backward().unwrap();
    let want = [0.0, 1.0, 1.0, 0.0];
    assert_eq!(w.grad().unwrap().data(), want.repeat(3).as_slice());
}

#[test]
fn index_select_and_index_add_pass_checks() {
    let x = [randn(&[4, 3], 23)];
    check_both(|v| v[0].index_select(0, &[3, 0, 3]), &x);
    check_both(|v| v[0].index_select(-1, &[2]), &x);
    check_both(|v| v[0].index_select(1, &[]), &x);
    let cube = [randn(&[2, 3, 2], 24)];
    check_both(|v| v[0].index_select(1, &[1, 1, 0, 2]), &cube);
    let pair = [randn(&[3, 2], 25), randn(&[4, 2], 26)];
    check_both(|v| v[0].index_add(0, &[2, 0, 2, 1], &v[1]), &pair);
    let cols = [randn(&[2, 3], 27), randn(&[2, 2], 28)];
    check_both(|v| v[0].index_add(-1, &[1, 1], &v[1]), &cols);
}

#[test]
fn index_select_and_index_add_values_by_hand() {
    let x = arange(&[3, 2]);
    assert_eq!(
        values(&x.index_select(0, &[2, 0, 2])),
        [4.0, 5.0, 0.0, 1.0, 4.0, 5.0]
    );
    assert_eq!(values(&x.index_select(1, &[1])), [1.0, 3.0, 5.0]);
    // Repeated indices accumulate in the gradient.
    let p = Var::<f64>::parameter(Tensor::ones(&[3]));
    p.index_select(0, &[2, 0, 2, 2])
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(p.grad().unwrap().data(), &[1.0, 0.0, 3.0]);
    let base = Var::constant(Tensor::ones(&[2, 3]));
    let src = arange(&[2, 2]);
    assert_eq!(
        values(&base.index_add(1, &[2, 2], &src)),
        [1.0, 1.0, 2.0, 1.0, 1.0, 6.0]
    );
}

#[test]
fn gather_and_scatter_add_pass_checks() {
    let x = [randn(&[3, 4], 29)];
    check_both(|v| v[0].gather(1, &[3, 0, 1, 1, 2, 2], &[3, 2]), &x);
    check_both(|v| v[0].gather(0, &[2, 0, 1, 2, 0, 0, 0, 1], &[2, 4]), &x);
    check_both(|v| v[0].gather(-1, &[1, 3, 0, 0], &[2, 2]), &x); // shorter along axis 0
    let cube = [randn(&[2, 3, 2], 30)];
    check_both(|v| v[0].gather(-2, &[2, 0, 1, 1], &[2, 1, 2]), &cube);
    let pair = [randn(&[3, 4], 31), randn(&[2, 4], 32)];
    check_both(
        |v| v[0].scatter_add(0, &[0, 1, 2, 0, 0, 1, 2, 2], &[2, 4], &v[1]),
        &pair,
    );
    let rows = [randn(&[2, 3], 33), randn(&[1, 4], 34)];
    check_both(
        |v| v[0].scatter_add(1, &[2, 2, 0, 1], &[1, 4], &v[1]),
        &rows,
    );
}

#[test]
fn gather_and_scatter_add_match_the_pytorch_examples() {
    // torch.gather(torch.tensor([[1, 2], [3, 4]]), 1, torch.tensor([[0, 0], [1, 0]]))
    let t = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    assert_eq!(
        values(&t.gather(1, &[0, 0, 1, 0], &[2, 2])),
        [1.0, 1.0, 4.0, 3.0]
    );
    // torch.zeros(3, 5).scatter_add_(0, index, torch.ones(2, 5)) with
    // index = [[0, 1, 2, 0, 0], [0, 1, 2, 2, 2]]
    let zeros = Var::constant(Tensor::zeros(&[3, 5]));
    let ones = Var::constant(Tensor::ones(&[2, 5]));
    let index = [0, 1, 2, 0, 0, 0, 1, 2, 2, 2];
    let want = [
        2.0, 0.0, 0.0, 1.0, 1.0, //
        0.0, 2.0, 0.0, 0.0, 0.0, //
        0.0, 0.0, 2.0, 1.0, 1.0,
    ];
    assert_eq!(values(&zeros.scatter_add(0, &index, &[2, 5], &ones)), want);
    // The gradient of gather with a repeated index accumulates.
    let p = Var::<f64>::parameter(Tensor::ones(&[2, 3]));
    p.gather(1, &[2, 2, 0, 1], &[2, 2])
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(p.grad().unwrap().data(), &[0.0, 0.0, 2.0, 1.0, 1.0, 0.0]);
}

fn err(r: tapegrad_tape::Result<Var<f64>>) -> (TapeError, String) {
    let e = r.unwrap_err();
    let m = e.to_string();
    (e, m)
}

#[test]
fn axis_and_permutation_errors() {
    let x = arange(&[2, 3]);
    let (e, m) = err(x.permute(&[0, 0]));
    assert!(matches!(
        e,
        TapeError::InvalidArgument {
            op: "permute",
            name: "perm",
            ..
        }
    ));
    assert_eq!(
        m,
        "permute: invalid argument perm = [0, 0]: not a permutation of the 2 axes of shape [2, 3]"
    );
    assert!(x.permute(&[1]).is_err() && x.permute(&[0, 2]).is_err());
    let (e, m) = err(x.transpose(0, 2));
    assert!(matches!(
        e,
        TapeError::AxisOutOfRange {
            op: "transpose",
            axis: 2,
            ndim: 2
        }
    ));
    assert_eq!(
        m,
        "transpose: axis 2 is out of range for a tensor of rank 2"
    );
    let (e, m) = err(arange(&[2, 3, 4]).t());
    assert!(matches!(e, TapeError::InvalidShape { op: "t", .. }));
    assert_eq!(
        m,
        "t: invalid shape [2, 3, 4]: t() takes at most 2 axes; use transpose or permute"
    );
    let (_, m) = err(x.squeeze(-3));
    assert_eq!(m, "squeeze: axis -3 is out of range for a tensor of rank 2");
    let (_, m) = err(x.unsqueeze(3));
    assert_eq!(
        m,
        "unsqueeze: axis 3 is out of range for a tensor of rank 3"
    );
    let (_, m) = err(x.flatten(0, 2));
    assert_eq!(m, "flatten: axis 2 is out of range for a tensor of rank 2");
    let (e, m) = err(x.flatten(-1, 0));
    assert!(matches!(
        e,
        TapeError::InvalidArgument {
            op: "flatten",
            name: "start",
            ..
        }
    ));
    assert_eq!(
        m,
        "flatten: invalid argument start = -1: start axis 1 comes after end axis 0"
    );
}

#[test]
fn concat_and_stack_errors() {
    let a = arange(&[2, 1]);
    let b = arange(&[3, 2]);
    let (e, m) = err(Var::concat(&[], 0));
    assert!(matches!(
        e,
        TapeError::InvalidArgument {
            op: "concat",
            name: "parts",
            ..
        }
    ));
    assert_eq!(
        m,
        "concat: invalid argument parts = []: at least one tensor is needed"
    );
    let (e, m) = err(Var::concat(&[&a, &b], 1));
    assert!(matches!(e, TapeError::ShapeMismatch { op: "concat", .. }));
    assert_eq!(m, "concat: shapes [2, 1] and [3, 2] are not compatible");
    let (_, m) = err(Var::concat(&[&a, &arange(&[2])], 0));
    assert_eq!(m, "concat: shapes [2, 1] and [2] are not compatible");
    let (_, m) = err(Var::concat(&[&a, &a], 2));
    assert_eq!(m, "concat: axis 2 is out of range for a tensor of rank 2");
    let (_, m) = err(Var::concat(&[&Var::scalar(1.0)], 0));
    assert_eq!(m, "concat: axis 0 is out of range for a tensor of rank 0");
    let (_, m) = err(Var::stack(&[], 0));
    assert_eq!(
        m,
        "stack: invalid argument parts = []: at least one tensor is needed"
    );
    let (e, m) = err(Var::stack(&[&a, &a, &b], 0));
    assert!(matches!(e, TapeError::ShapeMismatch { op: "stack", .. }));
    assert_eq!(m, "stack: shapes [2, 1] and [3, 2] are not compatible");
    let (_, m) = err(Var::stack(&[&a, &a], -4));
    assert_eq!(m, "stack: axis -4 is out of range for a tensor of rank 3");
}

#[test]
fn narrow_and_pad_errors() {
    let x = arange(&[2, 3]);
    let (e, m) = err(x.narrow(1, 4, 0));
    assert!(matches!(
        e,
        TapeError::IndexOutOfRange {
            op: "narrow",
            index: 4,
            size: 3
        }
    ));
    assert_eq!(m, "narrow: index 4 is out of range for an axis of size 3");
    let (e, m) = err(x.narrow(-1, 2, 2));
    assert!(matches!(
        e,
        TapeError::InvalidArgument {
            op: "narrow",
            name: "len",
            ..
        }
    ));
    assert_eq!(
        m,
        "narrow: invalid argument len = 2: start 2 + len 2 exceeds the extent 3 of axis 1 of shape [2, 3]"
    );
    let (_, m) = err(x.narrow(2, 0, 1));
    assert_eq!(m, "narrow: axis 2 is out of range for a tensor of rank 2");
    let (_, m) = err(x.pad_axis(-3, 1, 1));
    assert_eq!(
        m,
        "pad_axis: axis -3 is out of range for a tensor of rank 2"
    );
}

#[test]
fn index_errors() {
    let x = arange(&[2, 3]);
    let (e, m) = err(x.index_select(1, &[0, 3]));
    assert!(matches!(
        e,
        TapeError::IndexOutOfRange {
            op: "index_select",
            index: 3,
            size: 3
        }
    ));
    assert_eq!(
        m,
        "index_select: index 3 is out of range for an axis of size 3"
    );
    let (_, m) = err(x.index_select(2, &[0]));
    assert_eq!(
        m,
        "index_select: axis 2 is out of range for a tensor of rank 2"
    );
    let (e, m) = err(x.index_add(0, &[0, 1], &arange(&[2, 2])));
    assert!(matches!(
        e,
        TapeError::ShapeMismatch {
            op: "index_add",
            ..
        }
    ));
    assert_eq!(m, "index_add: shapes [2, 3] and [2, 2] are not compatible");
    let (e, m) = err(x.index_add(0, &[0, 1, 1], &arange(&[2, 3])));
    assert!(matches!(
        e,
        TapeError::InvalidArgument {
            op: "index_add",
            name: "indices",
            ..
        }
    ));
    assert_eq!(
        m,
        "index_add: invalid argument indices = 3 indices: source of shape [2, 3] has 2 slices along axis 0"
    );
    let (_, m) = err(x.index_add(0, &[0, 2], &arange(&[2, 3])));
    assert_eq!(
        m,
        "index_add: index 2 is out of range for an axis of size 2"
    );

    let (e, m) = err(x.gather(1, &[0, 1, 2], &[2, 2]));
    assert!(matches!(
        e,
        TapeError::DataLength {
            op: "gather",
            expected: 4,
            got: 3,
            ..
        }
    ));
    assert_eq!(m, "gather: shape [2, 2] needs 4 elements, got 3");
    let (e, m) = err(x.gather(1, &[0, 1], &[2]));
    assert!(matches!(e, TapeError::ShapeMismatch { op: "gather", .. }));
    assert_eq!(m, "gather: shapes [2, 3] and [2] are not compatible");
    let (_, m) = err(x.gather(1, &[0, 1, 2], &[3, 1]));
    assert_eq!(m, "gather: shapes [2, 3] and [3, 1] are not compatible");
    let (e, m) = err(x.gather(0, &[0, 2], &[1, 2]));
    assert!(matches!(
        e,
        TapeError::IndexOutOfRange {
            op: "gather",
            index: 2,
            size: 2
        }
    ));
    assert_eq!(m, "gather: index 2 is out of range for an axis of size 2");
    let (_, m) = err(x.gather(-3, &[0], &[1, 1]));
    assert_eq!(m, "gather: axis -3 is out of range for a tensor of rank 2");
    let src = arange(&[1, 3]);
    let (e, m) = err(x.scatter_add(0, &[0, 1], &[1, 2], &src));
    assert!(matches!(
        e,
        TapeError::ShapeMismatch {
            op: "scatter_add",
            ..
        }
    ));
    assert_eq!(
        m,
        "scatter_add: shapes [1, 2] and [1, 3] are not compatible"
    );
    let (_, m) = err(x.scatter_add(0, &[0, 5, 1], &[1, 3], &src));
    assert_eq!(
        m,
        "scatter_add: index 5 is out of range for an axis of size 2"
    );
}
