//! Shape ops move NaN and ±∞ untouched, and their gradients add them up
//! (∞ + (−∞) = NaN where indices repeat) as PyTorch's do.

use tapegrad_tape::{Result, Var};

use crate::fixture::{Args, check_family};

fn dispatch(op: &str, x: &[Var<f64>], a: &Args<'_>) -> Option<Result<Var<f64>>> {
    let shape = || a.indices("shape").0;
    Some(match op {
        "broadcast_to" => x[0].broadcast_to(&shape()),
        "sum_to" => x[0].sum_to(&shape()),
        "reshape" => x[0].reshape(&shape()),
        "permute" => x[0].permute(&a.indices("perm").0),
        "transpose" => x[0].transpose(a.isize("axis0"), a.isize("axis1")),
        "concat" => Var::concat(&[&x[0], &x[1]], a.isize("axis")),
        "stack" => Var::stack(&[&x[0], &x[1]], a.isize("axis")),
        "index_add" => x[0].index_add(a.isize("axis"), &a.indices("index").0, &x[1]),
        "narrow" => x[0].narrow(a.isize("axis"), a.usize("start"), a.usize("len")),
        "pad_axis" => x[0].pad_axis(a.isize("axis"), a.usize("before"), a.usize("after")),
        "index_select" => x[0].index_select(a.isize("axis"), &a.indices("index").0),
        "gather" => {
            let (index, index_shape) = a.indices("index");
            x[0].gather(a.isize("axis"), &index, &index_shape)
        }
        "scatter_add" => {
            let (index, index_shape) = a.indices("index");
            x[0].scatter_add(a.isize("axis"), &index, &index_shape, &x[1])
        }
        _ => return None,
    })
}

#[test]
fn shape_ops_match_pytorch_on_nan_and_infinity() {
    check_family("shape", dispatch);
}
