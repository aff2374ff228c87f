//! Matrix products, the fused linear map and the convolution: NaN · 0 and
//! ∞ · 0 are NaN in the GEMM (no zero is skipped), padding taps included.

use tapegrad_tape::{Result, Var};

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
