//! matmul and matmul_t: values against a naive loop, first and second
//! derivatives against finite differences (2-D, batched, broadcast batches,
//! vectors, every transpose combination), and the error messages.

mod common;

use common::{check_both, randn};
use tapegrad_tape::{TapeError, Tensor, Var};

/// `op(A)·op(B)` by the definition, for operands of rank ≥ 2 whose batch axes
/// broadcast; the transposes are read by swapping indices.
fn naive(a: &Tensor<f64>, b: &Tensor<f64>, ta: bool, tb: bool) -> Tensor<f64> {
    let (sa, sb) = (a.shape(), b.shape());
    let (ra, ca) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (rb, cb) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    let (m, k) = if ta { (ca, ra) } else { (ra, ca) };
    let n = if tb { rb } else { cb };
    let batch_rank = sa.len().max(sb.len()) - 2;
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut p = vec![1; batch_rank + 2 - s.len()];
        p.extend_from_slice(&s[..s.len() - 2]);
        p
    };
    let (pa, pb) = (pad(sa), pad(sb));
    let batch: Vec<usize> = pa.iter().zip(&pb).map(|(&x, &y)| x.max(y)).collect();
    let count: usize = batch.iter().product();
    let mut out = Vec::with_capacity(count * m * n);
    for flat in 0..count {
        let (mut rest, mut off_a, mut off_b) = (flat, 0, 0);
        let (mut stride_a, mut stride_b) = (ra * ca, rb * cb);
        for d in (0..batch_rank).rev() {
            let i = rest % batch[d];
            rest /= batch[d];
            off_a += if pa[d] == 1 { 0 } else { i * stride_a };
            off_b += if pb[d] == 1 { 0 } else { i * stride_b };
            stride_a *= pa[d];
            stride_b *= pb[d];
        }
        let at = |i: usize, p: usize| if ta { p * ca + i } else { i * ca + p };
        let bt = |p: usize, j: usize| if tb { j * cb + p } else { p * cb + j };
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|p| a.data()[off_a + at(i, p)] * b.data()[off_b + bt(p, j)])
                    .sum();
                out.push(s);
            }
        }
    }
    let mut shape = batch;
    shape.extend([m, n]);
    Tensor::from_vec(out, &shape).unwrap()
}

fn assert_close(got: &Tensor<f64>, expected: &Tensor<f64>) {
    assert_eq!(got.shape(), expected.shape());
    for (i, (x, y)) in got.data().iter().zip(expected.data()).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
}

/// The stored shape of an operand whose op() is `rows × cols`.
fn stored(batch: &[usize], rows: usize, cols: usize, transposed: bool) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.extend(if transposed {
        [cols, rows]
    } else {
        [rows, cols]
    });
    s
}

/// Batch axes of A and B, then m, k, n.
type Case = (&'static [usize], &'static [usize], usize, usize, usize);

const FLAGS: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

#[test]
fn values_match_the_naive_product() {
    // (batch of A, batch of B, m, k, n): plain, batched, broadcast both ways,
    // a 2-D operand against batched ones, and past PARALLEL_FLOPS: a batch of
    // small products (spread over the pool) and large ones (threaded GEMMs).
    let cases: [Case; 8] = [
        (&[], &[], 3, 5, 2),
        (&[], &[], 70, 90, 80),
        (&[4], &[4], 3, 5, 2),
        (&[2, 1], &[3], 4, 3, 5),
        (&[], &[3], 4, 3, 5),
        (&[3], &[], 4, 3, 5),
        (&[1], &[72], 32, 48, 40),
        (&[2], &[1], 160, 170, 160),
    ];
    for (seed, &(ba, bb, m, k, n)) in cases.iter().enumerate() {
        for (ta, tb) in FLAGS {
            let a = randn(&stored(ba, m, k, ta), seed as u64);
            let b = randn(&stored(bb, k, n, tb), 100 + seed as u64);
            let got = a.matmul_t(&b, ta, tb).unwrap();
            assert_close(&got, &naive(&a, &b, ta, tb));
            let var = Var::constant(a.clone()).matmul_t(&Var::constant(b.clone()), ta, tb);
            assert_close(&var.unwrap().value(), &got);
        }
    }
}

#[test]
fn vectors_follow_torch_matmul() {
    let v = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    let m = Tensor::from_vec(vec![1.0, 0.0, 2.0, 0.0, 1.0, 1.0], &[2, 3]).unwrap();
    let mt = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 2.0, 1.0], &[3, 2]).unwrap();
    assert_eq!(v.matmul(&v).unwrap().shape(), &[] as &[usize]);
    assert_eq!(v.matmul(&v).unwrap().item().unwrap(), 14.0);
    assert_eq!(m.matmul(&v).unwrap().data(), &[7.0, 5.0]);
    assert_eq!(v.matmul(&mt).unwrap().data(), &[7.0, 5.0]);
    let batch = randn(&[2, 4, 3], 7);
    let bv = batch.matmul(&v).unwrap();
    assert_eq!(bv.shape(), &[2, 4]);
    assert_close(
        &bv,
        &naive(&batch, &v.reshape(&[3, 1]).unwrap(), false, false)
            .reshape(&[2, 4])
            .unwrap(),
    );
    let batch_t = randn(&[2, 3, 4], 8);
    let vb = v.matmul(&batch_t).unwrap();
    assert_eq!(vb.shape(), &[2, 4]);
    assert_close(
        &vb,
        &naive(&v.reshape(&[1, 3]).unwrap(), &batch_t, false, false)
            .reshape(&[2, 4])
            .unwrap(),
    );
}

#[test]
fn gradients_of_matrix_products() {
    let pairs: [(&[usize], &[usize]); 5] = [
        (&[3, 4], &[4, 5]),
        (&[2, 3, 4], &[2, 4, 2]),
        (&[2, 1, 3, 4], &[3, 4, 2]),
        (&[1, 3, 4], &[3, 4, 2]),
        (&[3, 2, 4], &[1, 4, 3]),
    ];
    for (seed, (sa, sb)) in pairs.into_iter().enumerate() {
        let (a, b) = (randn(sa, seed as u64), randn(sb, 50 + seed as u64));
        check_both(|v| v[0].matmul(&v[1]), &[a, b]);
    }
}

#[test]
fn gradients_of_a_matrix_against_a_batch() {
    let (mat, batch) = (randn(&[3, 4], 1), randn(&[2, 4, 5], 2));
    check_both(|v| v[0].matmul(&v[1]), &[mat, batch]);
    let (batch, mat) = (randn(&[2, 3, 4], 3), randn(&[4, 5], 4));
    check_both(|v| v[0].matmul(&v[1]), &[batch, mat]);
}

#[test]
fn gradients_of_vector_products() {
    let pairs: [(&[usize], &[usize]); 5] = [
        (&[4], &[4]),
        (&[3, 4], &[4]),
        (&[4], &[4, 3]),
        (&[2, 3, 4], &[4]),
        (&[4], &[2, 4, 3]),
    ];
    for (seed, (sa, sb)) in pairs.into_iter().enumerate() {
        let (a, b) = (randn(sa, seed as u64), randn(sb, 70 + seed as u64));
        check_both(|v| v[0].matmul(&v[1]), &[a, b]);
    }
}

#[test]
fn gradients_of_every_transpose_combination() {
    // 2-D, batched, and broadcast batches on either side (the folded ∂B included).
    let batches: [(&[usize], &[usize]); 4] = [(&[], &[]), (&[2], &[2]), (&[2], &[]), (&[], &[2])];
    for (ba, bb) in batches {
        for (seed, (ta, tb)) in FLAGS.into_iter().enumerate() {
            let a = randn(&stored(ba, 3, 4, ta), seed as u64);
            let b = randn(&stored(bb, 4, 2, tb), 10 + seed as u64);
            check_both(|v| v[0].matmul_t(&v[1], ta, tb), &[a, b]);
        }
    }
}

#[test]
fn broadcast_operands_get_gradients_summed_to_their_shape() {
    let pairs: [(&[usize], &[usize]); 4] = [
        (&[1, 3, 4], &[5, 4, 2]),
        (&[3, 4], &[5, 4, 2]),
        (&[5, 3, 4], &[4, 2]),
        (&[5, 1, 3, 4], &[1, 2, 4, 2]),
    ];
    for (seed, (sa, sb)) in pairs.into_iter().enumerate() {
        let a = Var::parameter(randn(sa, seed as u64));
        let b = Var::parameter(randn(sb, 10 + seed as u64));
        let c = a.matmul(&b).unwrap();
        // L = Σ W ⊙ C: ∂A = W Bᵀ and ∂B = Aᵀ W, summed over the broadcast batch.
        let w = randn(c.shape(), 20 + seed as u64);
        c.mul(&Var::constant(w.clone()))
            .unwrap()
            .sum()
            .backward()
            .unwrap();
        let expected_a = naive(&w, &b.value(), false, true).sum_to(sa).unwrap();
        let expected_b = naive(&a.value(), &w, true, false).sum_to(sb).unwrap();
        assert_close(&a.grad().unwrap(), &expected_a);
        assert_close(&b.grad().unwrap(), &expected_b);
    }
}

#[test]
fn constant_operand_gets_no_gradient() {
    let w = Var::parameter(randn(&[3, 2], 1));
    let x = Var::constant(randn(&[4, 3], 2));
    x.matmul(&w).unwrap().sum().backward().unwrap();
    assert!(x.grad().is_none());
    assert_eq!(w.grad().unwrap().shape(), &[3, 2]);
}

#[test]
fn empty_and_single_precision_products() {
    let a = Tensor::<f64>::zeros(&[3, 0]);
    let b = Tensor::<f64>::zeros(&[0, 2]);
    assert_eq!(a.matmul(&b).unwrap().data(), &[0.0; 6]);
    assert_eq!(
        Tensor::<f64>::zeros(&[0, 2, 3])
            .matmul(&Tensor::zeros(&[3, 4]))
            .unwrap()
            .shape(),
        &[0, 2, 4]
    );
    let a32 = randn(&[5, 6], 3);
    let b32 = randn(&[6, 7], 4);
    let got = a32.to_f32().matmul(&b32.to_f32()).unwrap();
    let expected = naive(&a32, &b32, false, false);
    for (x, y) in got.data().iter().zip(expected.data()) {
        assert!((*x as f64 - y).abs() < 1e-5);
    }
}

fn message(r: tapegrad_tape::Result<Var<f64>>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn errors_name_the_op_and_both_shapes() {
    let var = |s: &[usize]| Var::constant(Tensor::<f64>::zeros(s));
    assert_eq!(
        message(var(&[2, 3]).matmul(&var(&[4, 5]))),
        "matmul: shapes [2, 3] and [4, 5] are not compatible"
    );
    assert_eq!(
        message(var(&[]).matmul(&var(&[3]))),
        "matmul: shapes [] and [3] are not compatible"
    );
    assert_eq!(
        message(var(&[3]).matmul(&var(&[4]))),
        "matmul: shapes [3] and [4] are not compatible"
    );
    assert_eq!(
        message(var(&[2, 3, 4]).matmul(&var(&[3, 4, 5]))),
        "matmul: shapes [2, 3, 4] and [3, 4, 5] are not compatible"
    );
    assert_eq!(
        message(var(&[3, 4]).matmul_t(&var(&[3, 5]), false, false)),
        "matmul_t: shapes [3, 4] and [3, 5] are not compatible"
    );
    assert!(var(&[3, 4]).matmul_t(&var(&[3, 5]), true, false).is_ok());
    let err = var(&[4]).matmul_t(&var(&[4, 2]), false, false).unwrap_err();
    assert!(matches!(
        err,
        TapeError::ShapeMismatch { op: "matmul_t", .. }
    ));
}

/// `linear` = `x Wᵀ + b` in one op: the values of the two ops (to the last bit
/// when the GEMM takes the depth in one block: it adds the bias to the finished
/// sum), both derivatives against finite differences, with and without a bias,
/// and its errors.
#[test]
fn linear_is_matmul_t_plus_bias_in_one_op() {
    let (x, w, b) = (randn(&[5, 7], 1), randn(&[3, 7], 2), randn(&[3], 3));
    let (xv, wv, bv) = (
        Var::constant(x.clone()),
        Var::constant(w.clone()),
        Var::constant(b.clone()),
    );
    let fused = xv.linear(&wv, Some(&bv)).unwrap().value();
    let two_ops = xv
        .matmul_t(&wv, false, true)
        .unwrap()
        .add(&bv)
        .unwrap()
        .value();
    assert_eq!(fused.shape(), &[5, 3]);
    assert_eq!(fused.data(), two_ops.data());
    let unbiased = xv.linear(&wv, None).unwrap().value();
    assert_eq!(
        unbiased.data(),
        xv.matmul_t(&wv, false, true).unwrap().value().data()
    );

    check_both(
        |v| v[0].linear(&v[1], Some(&v[2])),
        &[x.clone(), w.clone(), b.clone()],
    );
    check_both(|v| v[0].linear(&v[1], None), &[x.clone(), w.clone()]);
    // One row, one output: the bias gradient is the plain sum of one value.
    check_both(
        |v| v[0].linear(&v[1], Some(&v[2])),
        &[randn(&[1, 4], 4), randn(&[1, 4], 5), randn(&[1], 6)],
    );

    let message = |r: tapegrad_tape::Result<Var<f64>>| r.unwrap_err().to_string();
    let w_wide = Var::constant(randn(&[3, 8], 7));
    assert_eq!(
        message(xv.linear(&w_wide, Some(&bv))),
        "linear: shapes [5, 7] and [3, 8] are not compatible"
    );
    let b_long = Var::constant(randn(&[4], 8));
    assert_eq!(
        message(xv.linear(&wv, Some(&b_long))),
        "linear: shapes [3, 7] and [4] are not compatible"
    );
    let x3 = Var::constant(randn(&[2, 5, 7], 9));
    assert!(matches!(
        x3.linear(&wv, None).unwrap_err(),
        TapeError::ShapeMismatch { op: "linear", .. }
    ));
}
