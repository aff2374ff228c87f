//! max_pool2d and avg_pool2d: values and gradients against direct loops, tie
//! and padding rules, first and second derivatives, errors.

mod common;

use common::{check_both, randn};
use tapegrad_tape::{TapeError, Tensor, Var};

type Pair = (usize, usize);

/// A pooling's sizes for the direct loops.
#[derive(Clone, Copy, Debug)]
struct Pool {
    shape: [usize; 4],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
}

impl Pool {
    fn out_hw(&self) -> Pair {
        let [_, _, h, w] = self.shape;
        (
            (h + 2 * self.padding.0 - self.kernel.0) / self.stride.0 + 1,
            (w + 2 * self.padding.1 - self.kernel.1) / self.stride.1 + 1,
        )
    }

    /// Calls `f(output index, indices of the real elements of its window, in
    /// row-major scan order)` for every output element.
    fn for_each_window(&self, mut f: impl FnMut(usize, &[usize])) {
        let [n, c, h, w] = self.shape;
        let (ho, wo) = self.out_hw();
        let mut members = Vec::new();
        for plane in 0..n * c {
            for i in 0..ho {
                for j in 0..wo {
                    members.clear();
                    for p in 0..self.kernel.0 {
                        for q in 0..self.kernel.1 {
                            let ih = (i * self.stride.0 + p) as isize - self.padding.0 as isize;
                            let iw = (j * self.stride.1 + q) as isize - self.padding.1 as isize;
                            if ih >= 0 && iw >= 0 && (ih as usize) < h && (iw as usize) < w {
                                members.push((plane * h + ih as usize) * w + iw as usize);
                            }
                        }
                    }
                    f((plane * ho + i) * wo + j, &members);
                }
            }
        }
    }

    /// (max values, the first index of each max).
    fn naive_max(&self, x: &[f64]) -> (Vec<f64>, Vec<usize>) {
        let (mut vals, mut idx) = (Vec::new(), Vec::new());
        self.for_each_window(|_, members| {
            let mut best = members[0];
            for &m in members {
                if x[m] > x[best] {
                    best = m;
                }
            }
            vals.push(x[best]);
            idx.push(best);
        });
        (vals, idx)
    }

    fn naive_avg(&self, x: &[f64]) -> Vec<f64> {
        let area = (self.kernel.0 * self.kernel.1) as f64;
        let mut out = Vec::new();
        self.for_each_window(|_, members| {
            out.push(members.iter().map(|&m| x[m]).sum::<f64>() / area)
        });
        out
    }

    fn naive_avg_grad(&self, g: &[f64]) -> Vec<f64> {
        let area = (self.kernel.0 * self.kernel.1) as f64;
        let mut dx = vec![0.0; self.shape.iter().product()];
        self.for_each_window(|o, members| members.iter().for_each(|&m| dx[m] += g[o] / area));
        dx
    }
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-13 * (1.0 + b.abs()),
            "{what}[{k}]: {a} vs {b}"
        );
    }
}

fn cases() -> Vec<Pool> {
    vec![
        Pool {
            shape: [2, 2, 4, 4],
            kernel: (2, 2),
            stride: (2, 2),
            padding: (0, 0),
        },
        Pool {
            shape: [1, 2, 5, 6],
            kernel: (3, 3),
            stride: (2, 2),
            padding: (1, 1),
        },
        Pool {
            shape: [2, 1, 5, 4],
            kernel: (3, 2),
            stride: (1, 2),
            padding: (1, 0),
        },
        Pool {
            shape: [1, 3, 6, 5],
            kernel: (2, 3),
            stride: (3, 1),
            padding: (1, 1),
        },
        Pool {
            shape: [2, 2, 3, 3],
            kernel: (2, 2),
            stride: (1, 1),
            padding: (1, 1),
        },
    ]
}

#[test]
fn values_and_gradients_match_direct_loops() {
    let mut all = cases();
    // Large enough to run on the thread pool.
    all.push(Pool {
        shape: [8, 16, 24, 20],
        kernel: (3, 2),
        stride: (2, 2),
        padding: (1, 1),
    });
    for (k, pool) in all.into_iter().enumerate() {
        let x = randn(&pool.shape, 200 + k as u64);
        let (ho, wo) = pool.out_hw();
        let out_shape = [pool.shape[0], pool.shape[1], ho, wo];
        let g = randn(&out_shape, 300 + k as u64);
        let xv = Var::parameter(x.clone());
        let (p_k, p_s, p_p) = (pool.kernel, pool.stride, pool.padding);

        let y = xv.max_pool2d(p_k, p_s, p_p).unwrap();
        assert_eq!(y.shape(), out_shape, "{pool:?}");
        let (want, idx) = pool.naive_max(x.data());
        assert_close(y.value().data(), &want, &format!("max {pool:?}"));
        y.backward_from(&g, false).unwrap();
        let mut dx = vec![0.0; x.numel()];
        idx.iter().zip(g.data()).for_each(|(&i, &gi)| dx[i] += gi);
        assert_close(
            xv.grad().unwrap().data(),
            &dx,
            &format!("max grad {pool:?}"),
        );

        xv.zero_grad();
        let y = xv.avg_pool2d(p_k, p_s, p_p).unwrap();
        assert_close(
            y.value().data(),
            &pool.naive_avg(x.data()),
            &format!("avg {pool:?}"),
        );
        y.backward_from(&g, false).unwrap();
        let want = pool.naive_avg_grad(g.data());
        assert_close(
            xv.grad().unwrap().data(),
            &want,
            &format!("avg grad {pool:?}"),
        );
    }
}

#[test]
fn gradcheck_first_and_second_order() {
    for (k, pool) in cases().into_iter().enumerate() {
        // Random normals: no two elements of a window within the step of each other.
        let x = randn(&pool.shape, 10 + k as u64);
        let (p_k, p_s, p_p) = (pool.kernel, pool.stride, pool.padding);
        let one = std::slice::from_ref(&x);
        check_both(|v| v[0].max_pool2d(p_k, p_s, p_p), one);
        check_both(|v| v[0].avg_pool2d(p_k, p_s, p_p), one);
        // A nonlinearity after the pooling makes the second derivative nonzero,
        // so it flows back through the gather/scatter and pooling/adjoint pairs.
        check_both(|v| Ok(v[0].max_pool2d(p_k, p_s, p_p)?.tanh()), one);
        check_both(|v| Ok(v[0].avg_pool2d(p_k, p_s, p_p)?.tanh()), one);
    }
}

#[test]
fn max_ties_go_to_the_first_in_scan_order() {
    // Every element equal: each 2×2 window (stride 1, overlapping) sends its
    // gradient to its top-left element.
    let x = Var::parameter(Tensor::<f64>::full(&[1, 1, 3, 3], 2.0));
    let y = x.max_pool2d((2, 2), (1, 1), (0, 0)).unwrap();
    assert_eq!(y.value().data(), &[2.0; 4]);
    y.sum().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().data(),
        &[1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    );
    // A tie between the second row and the first: the first row wins.
    let x = Var::parameter(Tensor::from_vec(vec![0.0f64, 3.0, 3.0, 1.0], &[1, 1, 2, 2]).unwrap());
    x.max_pool2d((2, 2), (2, 2), (0, 0))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(x.grad().unwrap().data(), &[0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn max_nan_wins_and_the_last_nan_takes_the_gradient() {
    let nan = f64::NAN;
    let data = vec![1.0, nan, 7.0, nan, 2.0, 3.0, 4.0, 5.0];
    let x = Var::parameter(Tensor::from_vec(data, &[1, 2, 2, 2]).unwrap());
    let y = x.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap();
    let values = y.value();
    assert!(values.data()[0].is_nan());
    assert_eq!(values.data()[1], 5.0);
    y.sum().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().data(),
        &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
}

#[test]
fn max_padding_is_minus_infinity() {
    let x =
        Var::constant(Tensor::from_vec(vec![-3.0f64, -1.0, -2.0, -4.0], &[1, 1, 2, 2]).unwrap());
    let y = x.max_pool2d((2, 2), (2, 2), (1, 1)).unwrap();
    assert_eq!(y.value().data(), &[-3.0, -1.0, -2.0, -4.0]);
}

#[test]
fn avg_counts_padding_in_the_divisor() {
    // count_include_pad=True: a 3×3 window at the corner holds 4 real elements
    // and 5 zeros, and still divides by 9.
    let x = Var::constant(Tensor::<f64>::ones(&[1, 1, 3, 3]));
    let y = x.avg_pool2d((3, 3), (1, 1), (1, 1)).unwrap();
    let want = [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0].map(|v| v / 9.0);
    assert_close(y.value().data(), &want, "avg with padding");
}

#[test]
fn f32_pooling() {
    let x = randn(&[2, 3, 7, 6], 9);
    let y = Var::constant(x.to_f32())
        .max_pool2d((3, 2), (2, 2), (1, 0))
        .unwrap();
    let pool = Pool {
        shape: [2, 3, 7, 6],
        kernel: (3, 2),
        stride: (2, 2),
        padding: (1, 0),
    };
    let (want, _) = pool.naive_max(x.data());
    let got: Vec<f64> = y.value().to_f64().into_vec();
    assert_eq!(
        got,
        want.iter().map(|&v| v as f32 as f64).collect::<Vec<_>>()
    );
}

#[test]
fn errors_name_the_problem() {
    let x = Var::constant(Tensor::<f64>::zeros(&[1, 1, 4, 4]));
    let e = x.max_pool2d((2, 2), (2, 2), (2, 0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "max_pool2d: invalid argument padding = (2, 0): must be at most half the kernel (2, 2)"
    );
    let e = x.avg_pool2d((3, 3), (0, 1), (0, 0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "avg_pool2d: invalid argument stride = 0: must be at least 1"
    );
    let e = x.max_pool2d((5, 1), (1, 1), (0, 0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "max_pool2d: invalid argument kernel = 5: larger than the padded input extent 4 + 2·0"
    );
    let e = x.avg_pool2d((0, 1), (1, 1), (0, 0)).unwrap_err();
    assert!(
        matches!(
            e,
            TapeError::InvalidArgument {
                op: "avg_pool2d",
                name: "kernel",
                ..
            }
        ),
        "{e}"
    );
    // Positions are kept as u32 within a plane; an empty batch of huge planes
    // is a cheap way to ask for more.
    let huge = Var::constant(Tensor::<f32>::zeros(&[0, 1, 65536, 65537]));
    // Average pooling keeps no positions: such planes are fine there.
    assert_eq!(
        huge.avg_pool2d((2, 2), (2, 2), (0, 0)).unwrap().shape(),
        &[0, 1, 32768, 32768]
    );
    let e = huge.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "max_pool2d: invalid argument input = [0, 1, 65536, 65537]: \
         each H·W plane must hold at most 4294967295 elements"
    );
    let flat = Var::constant(Tensor::<f64>::zeros(&[4, 4]));
    let e = flat.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "max_pool2d: invalid shape [4, 4]: input must have rank 4, got rank 2"
    );
}
