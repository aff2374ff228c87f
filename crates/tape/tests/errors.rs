//! Every error of the tape core, produced by a real bad input, with its message.

use tapegrad_tape::{GradOptions, TapeError, Tensor, Var, grad};

fn t(shape: &[usize]) -> Tensor<f64> {
    Tensor::zeros(shape)
}

#[test]
fn shape_mismatch_names_op_and_both_shapes() {
    let err = Var::constant(t(&[2, 3]))
        .mul(&Var::constant(t(&[4])))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mul: shapes [2, 3] and [4] are not compatible"
    );
}

#[test]
fn data_length_names_shape_and_counts() {
    let err = Tensor::from_vec(vec![1.0f32; 5], &[2, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_vec: shape [2, 3] needs 6 elements, got 5"
    );
}

#[test]
fn invalid_shape_on_reshape() {
    let err = Var::constant(t(&[2, 3])).reshape(&[4, 2]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reshape: invalid shape [4, 2]: cannot hold the 6 elements of shape [2, 3]"
    );
}

#[test]
fn axis_out_of_range_and_repeated_axes() {
    let x = Var::constant(t(&[2, 3]));
    let err = x.sum_axes(&[2], false).unwrap_err();
    assert_eq!(
        err,
        TapeError::AxisOutOfRange {
            op: "sum",
            axis: 2,
            ndim: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "sum: axis 2 is out of range for a tensor of rank 2"
    );
    let err = x.sum_axes(&[1, -1], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sum: invalid argument axes = [1, -1]: an axis is repeated"
    );
}

#[test]
fn index_out_of_range_and_wrong_index_rank() {
    let x = t(&[2, 3]);
    assert_eq!(
        x.get(&[1, 3]).unwrap_err().to_string(),
        "get: index 3 is out of range for an axis of size 3"
    );
    assert_eq!(
        x.get(&[1]).unwrap_err().to_string(),
        "get: invalid argument index = [1]: a tensor of shape [2, 3] needs 2 indices"
    );
    assert!(matches!(
        x.item(),
        Err(TapeError::InvalidShape { op: "item", .. })
    ));
}

#[test]
fn broadcast_to_a_smaller_shape_is_refused() {
    let err = t(&[2, 3]).broadcast_to(&[3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "broadcast_to: shapes [2, 3] and [3] are not compatible"
    );
    let err = t(&[2, 3]).sum_to(&[2]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sum_to: shapes [2, 3] and [2] are not compatible"
    );
}

#[test]
fn grad_of_a_constant_input_and_mismatched_seed() {
    let c = Var::constant(t(&[2]));
    let p = Var::parameter(t(&[2]));
    let y = p.mul(&c).unwrap().sum();
    let err = grad(&[y.clone()], &[c.clone()], None, GradOptions::default()).unwrap_err();
    assert!(
        matches!(err, TapeError::NoGradient { op: "grad", .. }),
        "{err}"
    );
    let seed = Var::constant(t(&[3]));
    let err = grad(&[y], &[p], Some(&[seed]), GradOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "grad: shapes [] and [3] are not compatible"
    );
}

#[test]
fn backward_from_checks_the_seed_shape() {
    let p = Var::parameter(t(&[2]));
    let err = p.exp().backward_from(&t(&[3]), false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "backward_from: shapes [2] and [3] are not compatible"
    );
}

#[test]
fn set_value_keeps_the_shape() {
    let p = Var::parameter(t(&[2]));
    let err = p.set_value(t(&[3])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "set_value: shapes [2] and [3] are not compatible"
    );
    assert_eq!(p.version(), 0, "a refused value leaves the version alone");
}
