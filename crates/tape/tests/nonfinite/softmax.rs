//! softmax and log_softmax on lanes with −∞ entries, all −∞, +∞, NaN and
//! large logits, along the last, the first and a middle axis.

use tapegrad_tape::{Result, Var};

use crate::fixture::{Args, check_family};

fn dispatch(op: &str, x: &[Var<f64>], a: &Args<'_>) -> Option<Result<Var<f64>>> {
    Some(match op {
        "softmax" => x[0].softmax(a.isize("axis")),
        "log_softmax" => x[0].log_softmax(a.isize("axis")),
        _ => return None,
    })
}

#[test]
fn softmax_family_matches_pytorch_on_nan_and_infinity() {
    check_family("softmax", dispatch);
}
