//! Matrix products, the fused linear map and the convolution: NaN · 0 and
//! ∞ · 0 are NaN in the GEMM (no zero is skipped), padding taps included.

use tapegrad_tape::{Result, Tensor, Var};

use crate::fixture::{Args, check_family};

fn dispatch(op: &str, x: &[Var<f64>], a: &Args<'_>) -> Option<Result<Var<f64>>> {
    let pair = |name: &str| if a.has(name) { a.pair(name) } else { (1, 1) };
    Some(match op {
        "matmul" => x[0].matmul(&x[1]),
        "matmul_t" => x[0].matmul_t(&x[1], a.bool("ta"), a.bool("tb")),
        "linear" => x[0].linear(&x[1], x.get(2)),
        "conv2d" => {
            let padding = if a.has("padding") {
                a.pair("padding")
            } else {
                (0, 0)
            };
            x[0].conv2d(&x[1], x.get(2), pair("stride"), padding)
        }
        _ => return None,
    })
}

#[test]
fn products_match_pytorch_on_nan_and_infinity() {
    check_family("products", dispatch);
}

/// One NaN in A at (i, j), multiplied by a B of zeros: row i of A·B is NaN
/// and nothing else (NaN · 0 = NaN, no zero skipped), on the single-threaded
/// GEMM, the threaded one (above `PARALLEL_FLOPS`) and both layouts of B.
#[test]
fn gemm_propagates_nan_times_zero_at_every_size() {
    for (m, k, n) in [(3, 5, 4), (64, 64, 64), (256, 256, 70)] {
        let (i, j) = (m / 2, k - 1);
        let mut a = vec![0.0f64; m * k];
        a[i * k + j] = f64::NAN;
        let a = Var::constant(Tensor::from_vec(a, &[m, k]).unwrap());
        for transposed in [false, true] {
            let b_shape = if transposed { [n, k] } else { [k, n] };
            let b = Var::constant(Tensor::zeros(&b_shape));
            let c = a.matmul_t(&b, false, transposed).unwrap().value();
            for (at, v) in c.data().iter().enumerate() {
                assert_eq!(
                    v.is_nan(),
                    at / n == i,
                    "{m}x{k}x{n} transposed={transposed} at {at}"
                );
            }
        }
    }
}
