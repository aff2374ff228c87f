//! conv2d and its two gradient ops: values against a direct loop, first and
//! second derivatives against finite differences, errors, and a PyTorch
//! reference network.

mod common;

use common::{check_both, fixture, fixture_tensor, floats, randn};
use tapegrad_tape::{Conv2dOptions, GradOptions, TapeError, Tensor, Var, grad};

/// A convolution's sizes for the direct loops.
#[derive(Clone, Copy, Debug)]
struct Conv {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    stride: (usize, usize),
    padding: (usize, usize),
}

impl Conv {
    fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.padding.0 - self.kh) / self.stride.0 + 1,
            (self.w + 2 * self.padding.1 - self.kw) / self.stride.1 + 1,
        )
    }
    fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    fn w_shape(&self) -> [usize; 4] {
        [self.o, self.c, self.kh, self.kw]
    }
    fn y_shape(&self) -> [usize; 4] {
        let (ho, wo) = self.out_hw();
        [self.n, self.o, ho, wo]
    }

    /// Calls `f(x index, w index, y index)` for every product term of the
    /// convolution sum, skipping the padding.
    fn for_each_term(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (ho, wo) = self.out_hw();
        for n in 0..self.n {
            for o in 0..self.o {
                for i in 0..ho {
                    for j in 0..wo {
                        for c in 0..self.c {
                            for p in 0..self.kh {
                                for q in 0..self.kw {
                                    let ih =
                                        (i * self.stride.0 + p) as isize - self.padding.0 as isize;
                                    let iw =
                                        (j * self.stride.1 + q) as isize - self.padding.1 as isize;
                                    if ih < 0
                                        || iw < 0
                                        || ih >= self.h as isize
                                        || iw >= self.w as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * self.c + c) * self.h + ih as usize) * self.w
                                        + iw as usize;
                                    let wi = ((o * self.c + c) * self.kh + p) * self.kw + q;
                                    let yi = ((n * self.o + o) * ho + i) * wo + j;
                                    f(xi, wi, yi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn naive_forward(&self, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
        let (ho, wo) = self.out_hw();
        let mut y = vec![0.0; self.n * self.o * ho * wo];
        if let Some(b) = b {
            for (k, v) in y.iter_mut().enumerate() {
                *v = b[k / (ho * wo) % self.o];
            }
        }
        self.for_each_term(|xi, wi, yi| y[yi] += x[xi] * w[wi]);
        y
    }

    /// (∂⟨g, y⟩/∂x, ∂⟨g, y⟩/∂w) by the same loop.
    fn naive_grads(&self, x: &[f64], w: &[f64], g: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        self.for_each_term(|xi, wi, yi| {
            dx[xi] += w[wi] * g[yi];
            dw[wi] += x[xi] * g[yi];
        });
        (dx, dw)
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what}[{k}]: {a} vs {b}"
        );
    }
}

/// Small convolutions covering strides, paddings, kernel shapes, non-square
/// images, batches and channel counts.
fn small_cases() -> Vec<Conv> {
    let base = Conv {
        n: 2,
        c: 2,
        h: 5,
        w: 4,
        o: 3,
        kh: 3,
        kw: 3,
        stride: (1, 1),
        padding: (0, 0),
    };
    vec![
        base,
        Conv {
            padding: (1, 1),
            ..base
        },
        Conv {
            stride: (2, 2),
            padding: (1, 1),
            ..base
        },
        Conv {
            stride: (2, 1),
            padding: (2, 0),
            kh: 2,
            kw: 3,
            ..base
        },
        Conv {
            kh: 1,
            kw: 1,
            ..base
        },
        Conv {
            kh: 1,
            kw: 1,
            stride: (2, 2),
            padding: (1, 0),
            ..base
        },
        Conv {
            n: 1,
            c: 1,
            o: 1,
            h: 6,
            w: 3,
            kh: 2,
            kw: 3,
            stride: (1, 2),
            padding: (0, 1),
        },
    ]
}

#[test]
fn forward_and_gradients_match_direct_loops() {
    let mut cases = small_cases();
    // Large enough to run on the thread pool.
    cases.push(Conv {
        n: 8,
        c: 8,
        h: 16,
        w: 15,
        o: 16,
        kh: 3,
        kw: 3,
        stride: (1, 1),
        padding: (1, 1),
    });
    cases.push(Conv {
        n: 6,
        c: 5,
        h: 20,
        w: 18,
        o: 12,
        kh: 5,
        kw: 4,
        stride: (2, 3),
        padding: (2, 1),
    });
    for (k, conv) in cases.into_iter().enumerate() {
        let seed = 100 + 10 * k as u64;
        let (x, w, b) = (
            randn(&conv.x_shape(), seed),
            randn(&conv.w_shape(), seed + 1),
            randn(&[conv.o], seed + 2),
        );
        let g = randn(&conv.y_shape(), seed + 3);
        let (xv, wv, bv) = (
            Var::parameter(x.clone()),
            Var::parameter(w.clone()),
            Var::parameter(b.clone()),
        );
        let y = xv
            .conv2d(&wv, Some(&bv), conv.stride, conv.padding)
            .unwrap();
        assert_eq!(y.shape(), conv.y_shape(), "{conv:?}");
        let want = conv.naive_forward(x.data(), w.data(), Some(b.data()));
        assert_close(y.value().data(), &want, 1e-12, &format!("forward {conv:?}"));
        let unbiased = xv.conv2d(&wv, None, conv.stride, conv.padding).unwrap();
        let want = conv.naive_forward(x.data(), w.data(), None);
        assert_close(
            unbiased.value().data(),
            &want,
            1e-12,
            &format!("no bias {conv:?}"),
        );

        y.backward_from(&g, false).unwrap();
        let (dx, dw) = conv.naive_grads(x.data(), w.data(), g.data());
        assert_close(
            xv.grad().unwrap().data(),
            &dx,
            1e-12,
            &format!("dx {conv:?}"),
        );
        assert_close(
            wv.grad().unwrap().data(),
            &dw,
            1e-12,
            &format!("dw {conv:?}"),
        );
        let (ho, wo) = conv.out_hw();
        let db: Vec<f64> = (0..conv.o)
            .map(|o| {
                (0..conv.n)
                    .flat_map(|n| g.data()[(n * conv.o + o) * ho * wo..][..ho * wo].iter())
                    .sum()
            })
            .collect();
        assert_close(
            bv.grad().unwrap().data(),
            &db,
            1e-12,
            &format!("db {conv:?}"),
        );
    }
}

#[test]
fn f32_matches_f64() {
    let conv = Conv {
        n: 4,
        c: 3,
        h: 9,
        w: 11,
        o: 5,
        kh: 3,
        kw: 2,
        stride: (2, 1),
        padding: (1, 1),
    };
    let (x, w) = (randn(&conv.x_shape(), 7), randn(&conv.w_shape(), 8));
    let want = conv.naive_forward(x.data(), w.data(), None);
    let y = Var::constant(x.to_f32())
        .conv2d(&Var::constant(w.to_f32()), None, conv.stride, conv.padding)
        .unwrap();
    let got: Vec<f64> = y.value().to_f64().into_vec();
    assert_close(&got, &want, 1e-5, "f32");
}

#[test]
fn conv2d_gradcheck_first_and_second_order() {
    for (k, conv) in small_cases().into_iter().enumerate() {
        let seed = 10 * k as u64;
        let x = randn(&conv.x_shape(), seed);
        let w = randn(&conv.w_shape(), seed + 1);
        let b = randn(&[conv.o], seed + 2);
        let (s, p) = (conv.stride, conv.padding);
        check_both(
            |v| v[0].conv2d(&v[1], Some(&v[2]), s, p),
            &[x.clone(), w.clone(), b],
        );
        check_both(|v| v[0].conv2d(&v[1], None, s, p), &[x, w]);
    }
}

/// The two gradient ops are checked on their own, which covers every edge of
/// the triangle (each one's gradients are the other two ops).
#[test]
fn gradient_ops_gradcheck_first_and_second_order() {
    for (k, conv) in small_cases().into_iter().enumerate().step_by(2) {
        let seed = 50 + 10 * k as u64;
        let x = randn(&conv.x_shape(), seed);
        let w = randn(&conv.w_shape(), seed + 1);
        let g = randn(&conv.y_shape(), seed + 2);
        let opts = Conv2dOptions {
            stride: conv.stride,
            padding: conv.padding,
            ..Default::default()
        };
        let (hw, kernel) = ((conv.h, conv.w), (conv.kh, conv.kw));
        check_both(|v| v[0].conv2d_input_grad(&v[1], hw, opts), &[g.clone(), w]);
        check_both(|v| v[0].conv2d_weight_grad(&v[1], kernel, opts), &[x, g]);
    }
}

/// A nonlinearity after the convolution makes the Hessian depend on x, so the
/// second-order check sees products of the gradient ops with the input.
#[test]
fn conv_then_tanh_second_order() {
    let conv = Conv {
        n: 2,
        c: 2,
        h: 4,
        w: 5,
        o: 2,
        kh: 2,
        kw: 3,
        stride: (1, 2),
        padding: (1, 1),
    };
    let (x, w, b) = (
        randn(&conv.x_shape(), 1),
        randn(&conv.w_shape(), 2),
        randn(&[2], 3),
    );
    check_both(
        |v| {
            Ok(v[0]
                .conv2d(&v[1], Some(&v[2]), conv.stride, conv.padding)?
                .tanh())
        },
        &[x, w, b],
    );
}

#[test]
fn hessian_vector_product_matches_direct_loop() {
    // f(w) = ½ Σ conv(x, w)², so ∇f = weight_grad(x, y) and H v = weight_grad(x, conv(x, v)).
    let conv = Conv {
        n: 2,
        c: 3,
        h: 6,
        w: 5,
        o: 4,
        kh: 3,
        kw: 2,
        stride: (2, 1),
        padding: (1, 0),
    };
    let (x, w, v) = (
        randn(&conv.x_shape(), 4),
        randn(&conv.w_shape(), 5),
        randn(&conv.w_shape(), 6),
    );
    let (xv, wv) = (Var::constant(x.clone()), Var::parameter(w));
    let y = xv.conv2d(&wv, None, conv.stride, conv.padding).unwrap();
    let f = y.mul(&y).unwrap().sum().mul_scalar(0.5);
    let opts = GradOptions {
        create_graph: true,
        ..Default::default()
    };
    let g = grad(&[f], std::slice::from_ref(&wv), None, opts).unwrap()[0]
        .clone()
        .unwrap();
    let gv = g.mul(&Var::constant(v.clone())).unwrap().sum();
    let hv = grad(&[gv], &[wv], None, GradOptions::default()).unwrap()[0]
        .clone()
        .unwrap();
    let xv_conv = conv.naive_forward(x.data(), v.data(), None);
    let (_, want) = conv.naive_grads(x.data(), v.data(), &xv_conv);
    assert_close(hv.value().data(), &want, 1e-12, "Hv");
}

fn conv_err(
    x: &[usize],
    w: &[usize],
    b: Option<&[usize]>,
    s: (usize, usize),
    p: (usize, usize),
) -> TapeError {
    let xv = Var::constant(Tensor::<f64>::zeros(x));
    let wv = Var::constant(Tensor::zeros(w));
    let bv = b.map(|b| Var::constant(Tensor::zeros(b)));
    xv.conv2d(&wv, bv.as_ref(), s, p).unwrap_err()
}

#[test]
fn errors_name_the_problem() {
    let e = conv_err(&[2, 5, 5], &[1, 1, 3, 3], None, (1, 1), (0, 0));
    assert_eq!(
        e.to_string(),
        "conv2d: invalid shape [2, 5, 5]: input must have rank 4, got rank 3"
    );
    let e = conv_err(&[1, 1, 5, 5], &[1, 3, 3], None, (1, 1), (0, 0));
    assert_eq!(
        e.to_string(),
        "conv2d: invalid shape [1, 3, 3]: weight must have rank 4, got rank 3"
    );
    let e = conv_err(&[1, 2, 5, 5], &[4, 3, 3, 3], None, (1, 1), (0, 0));
    assert_eq!(
        e.to_string(),
        "conv2d: invalid argument weight = [4, 3, 3, 3]: has 3 input channels, the input [1, 2, 5, 5] has 2"
    );
    let e = conv_err(&[1, 1, 4, 6], &[1, 1, 7, 3], None, (1, 1), (1, 1));
    assert_eq!(
        e.to_string(),
        "conv2d: invalid argument kernel = 7: larger than the padded input extent 4 + 2·1"
    );
    let e = conv_err(&[1, 1, 4, 4], &[1, 1, 3, 3], None, (1, 0), (0, 0));
    assert_eq!(
        e.to_string(),
        "conv2d: invalid argument stride = 0: must be at least 1"
    );
    let e = conv_err(&[1, 1, 4, 4], &[2, 1, 3, 3], Some(&[3]), (1, 1), (0, 0));
    assert!(
        matches!(e, TapeError::ShapeMismatch { op: "conv2d", .. }),
        "{e}"
    );
    // A kernel that fits only thanks to the padding is fine.
    let x = Var::constant(Tensor::<f64>::ones(&[1, 1, 2, 2]));
    let y = x
        .conv2d(
            &Var::constant(Tensor::ones(&[1, 1, 4, 4])),
            None,
            (1, 1),
            (1, 1),
        )
        .unwrap();
    assert_eq!(y.value().data(), &[4.0]);
}

#[test]
fn gradient_op_shape_errors() {
    let g = Var::constant(Tensor::<f64>::zeros(&[1, 2, 3, 3]));
    let w = Var::constant(Tensor::<f64>::zeros(&[2, 1, 3, 3]));
    // 3×3 outputs come from a 5×5 input, not a 6×6 one.
    let opts = Conv2dOptions::default();
    let e = g.conv2d_input_grad(&w, (6, 6), opts).unwrap_err();
    assert!(
        matches!(
            e,
            TapeError::ShapeMismatch {
                op: "conv2d_input_grad",
                ..
            }
        ),
        "{e}"
    );
    assert!(g.conv2d_input_grad(&w, (5, 5), opts).is_ok());
    let x = Var::constant(Tensor::<f64>::zeros(&[1, 1, 6, 6]));
    let e = x.conv2d_weight_grad(&g, (3, 3), opts).unwrap_err();
    assert!(
        matches!(
            e,
            TapeError::ShapeMismatch {
                op: "conv2d_weight_grad",
                ..
            }
        ),
        "{e}"
    );
}

/// PyTorch's conv → relu → max-pool → linear → cross-entropy, with the linear
/// layer as a 1×1 convolution and cross-entropy written out.
#[test]
fn cnn_matches_pytorch_reference() {
    let all = fixture("grad_reference.json");
    let case = &all["cases"]["cnn_conv_relu_maxpool_linear_ce"];
    let names = ["x", "conv_w", "conv_b", "lin_w", "lin_b"];
    let vars: Vec<Var<f64>> = names
        .iter()
        .map(|n| Var::parameter(fixture_tensor(&case["tensors"][n])))
        .collect();
    let labels: Vec<usize> = case["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let (batch, classes) = (labels.len(), 5);

    let h = vars[0]
        .conv2d(&vars[1], Some(&vars[2]), (1, 1), (1, 1))
        .unwrap()
        .relu();
    let h = h.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap();
    let features = h.numel() / batch;
    let h = h.reshape(&[batch, features, 1, 1]).unwrap();
    let lin_w = vars[3].reshape(&[classes, features, 1, 1]).unwrap();
    let z = h
        .conv2d(&lin_w, Some(&vars[4]), (1, 1), (0, 0))
        .unwrap()
        .reshape(&[batch, classes])
        .unwrap();
    let log_norm = z.exp().sum_axes(&[1], true).unwrap().log();
    let mut one_hot = Tensor::<f64>::zeros(&[batch, classes]);
    for (i, &y) in labels.iter().enumerate() {
        one_hot.data_mut()[i * classes + y] = 1.0;
    }
    let picked = z
        .mul(&Var::constant(one_hot))
        .unwrap()
        .sum_axes(&[1], true)
        .unwrap();
    let loss = log_norm.sub(&picked).unwrap().mean();

    let want_loss = case["loss"].as_f64().unwrap();
    assert!(
        (loss.item().unwrap() - want_loss).abs() <= 1e-12 * want_loss.abs(),
        "loss"
    );
    loss.backward().unwrap();
    for (name, var) in names.iter().zip(&vars) {
        let want = floats(&case["grads"][name]);
        assert_close(var.grad().unwrap().data(), &want, 1e-12, name);
    }
}
