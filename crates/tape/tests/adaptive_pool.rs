//! adaptive_avg_pool2d: values and gradients against a direct loop over
//! PyTorch's bins, first and second derivatives against finite differences,
//! and the errors.

mod common;
mod conv_direct;

use common::{check_both, randn};
use conv_direct::assert_close;
use tapegrad_tape::{TapeError, Tensor, Var};

/// Bin `i` of `out` over `len` as PyTorch: ⌊i·len/out⌋ .. ⌈(i + 1)·len/out⌉.
fn bin(i: usize, out: usize, len: usize) -> std::ops::Range<usize> {
    let end = ((i + 1) * len).div_ceil(out);
    i * len / out..end
}

/// Calls `f(x index, y index, 1/bin size)` for every element of every bin.
fn for_each_member(shape: [usize; 4], out: (usize, usize), mut f: impl FnMut(usize, usize, f64)) {
    let [n, c, h, w] = shape;
    for plane in 0..n * c {
        for i in 0..out.0 {
            for j in 0..out.1 {
                let (rows, cols) = (bin(i, out.0, h), bin(j, out.1, w));
                let weight = 1.0 / (rows.len() * cols.len()) as f64;
                let yi = (plane * out.0 + i) * out.1 + j;
                for r in rows {
                    for q in cols.clone() {
                        f((plane * h + r) * w + q, yi, weight);
                    }
                }
            }
        }
    }
}

/// Input shapes and output sizes: not dividing (7 → 3, 5 → 2), larger than
/// the input (3 → 5), equal, global, non-square.
fn cases() -> Vec<([usize; 4], (usize, usize))> {
    vec![
        ([2, 3, 7, 7], (3, 3)),
        ([1, 2, 5, 5], (2, 2)),
        ([2, 1, 3, 3], (5, 5)),
        ([1, 2, 4, 4], (4, 4)),
        ([2, 2, 6, 5], (1, 1)),
        ([1, 3, 7, 5], (3, 2)),
        ([1, 1, 2, 3], (5, 4)),
    ]
}

#[test]
fn values_and_gradients_match_a_direct_loop() {
    for (k, (shape, out)) in cases().into_iter().enumerate() {
        let x = randn(&shape, 40 + k as u64);
        let g = randn(&[shape[0], shape[1], out.0, out.1], 60 + k as u64);
        let mut want = vec![0.0; g.numel()];
        let mut want_dx = vec![0.0; x.numel()];
        for_each_member(shape, out, |xi, yi, weight| {
            want[yi] += weight * x.data()[xi];
            want_dx[xi] += weight * g.data()[yi];
        });
        let xv = Var::parameter(x);
        let y = xv.adaptive_avg_pool2d(out).unwrap();
        assert_eq!(y.shape(), g.shape());
        assert_close(
            y.value().data(),
            &want,
            1e-14,
            &format!("{shape:?} → {out:?}"),
        );
        y.backward_from(&g, false).unwrap();
        assert_close(xv.grad().unwrap().data(), &want_dx, 1e-14, "dx");
    }
}

#[test]
fn gradcheck_first_and_second_order() {
    for (k, (shape, out)) in cases().into_iter().enumerate() {
        check_both(
            |v| v[0].adaptive_avg_pool2d(out),
            &[randn(&shape, k as u64)],
        );
    }
}

/// The pooling is linear, so its second derivative is 0; a nonlinearity
/// before it makes the Hessian go through the backward op.
#[test]
fn through_a_nonlinearity_second_order() {
    check_both(
        |v| Ok(v[0].tanh().adaptive_avg_pool2d((3, 2))?.tanh()),
        &[randn(&[1, 2, 5, 4], 9)],
    );
}

#[test]
fn an_output_equal_to_the_input_is_the_identity() {
    let x = randn(&[2, 2, 3, 4], 1);
    let y = Var::constant(x.clone())
        .adaptive_avg_pool2d((3, 4))
        .unwrap();
    assert_eq!(y.value().data(), x.data());
}

#[test]
fn empty_outputs_and_errors() {
    // As PyTorch, a zero output size gives an empty result.
    let x = Var::parameter(Tensor::<f64>::ones(&[1, 1, 4, 4]));
    let y = x.adaptive_avg_pool2d((0, 2)).unwrap();
    assert_eq!(y.shape(), &[1, 1, 0, 2]);
    y.sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[0.0; 16]);

    let e = Var::constant(Tensor::<f64>::zeros(&[1, 4, 4]))
        .adaptive_avg_pool2d((2, 2))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "adaptive_avg_pool2d: invalid shape [1, 4, 4]: input must have rank 4, got rank 3"
    );
    let e = Var::constant(Tensor::<f64>::zeros(&[1, 1, 0, 4]))
        .adaptive_avg_pool2d((2, 2))
        .unwrap_err();
    assert!(matches!(e, TapeError::InvalidShape { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "adaptive_avg_pool2d: invalid shape [1, 1, 0, 4]: input must have at least one row and one column"
    );
}
