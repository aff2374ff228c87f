//! Max and average pooling with NaN and ±∞ windows: a NaN wins a max window
//! (the last NaN in scan order takes the gradient), on the general loop and
//! the 2×2 fast path.

use tapegrad_tape::{Result, Tensor, Var};

use crate::fixture::{Args, check_family};

fn dispatch(op: &str, x: &[Var<f64>], a: &Args<'_>) -> Option<Result<Var<f64>>> {
    let (k, s, p) = (a.pair("kernel"), a.pair("stride"), a.pair("padding"));
    Some(match op {
        "max_pool2d" => x[0].max_pool2d(k, s, p),
        "avg_pool2d" => x[0].avg_pool2d(k, s, p),
        _ => return None,
    })
}

#[test]
fn pooling_matches_pytorch_on_nan_and_infinity() {
    check_family("pool", dispatch);
}

/// f32 planes, one with a NaN and one without, through the 2×2 path: the NaN
/// plane's window is NaN and routes its gradient to the NaN.
#[test]
fn max_pool_f32_nan_window_takes_the_gradient() {
    let data = vec![1.0f32, f32::NAN, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    let x = Var::parameter(Tensor::from_vec(data, &[1, 2, 2, 2]).unwrap());
    let y = x.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap();
    assert!(y.value().data()[0].is_nan());
    assert_eq!(y.value().data()[1], 7.0);
    y.sum().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().data(),
        &[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    );
}
