//! Embedding lookup: values, the gradient rows (repeated indices summed, the
//! padding row left out), gradcheck and gradgradcheck, and errors.

mod common;

use common::{check_both, randn};
use tapegrad_tape::{TapeError, Tensor, Var};

#[test]
fn rows_are_picked_in_the_shape_of_the_indices() {
    let table = randn(&[5, 3], 1);
    let out = Var::constant(table.clone())
        .embedding(&[4, 0, 4, 2, 1, 3], &[2, 3], None)
        .unwrap();
    assert_eq!(out.shape(), &[2, 3, 3]);
    for (p, &k) in [4, 0, 4, 2, 1, 3].iter().enumerate() {
        assert_eq!(
            &out.value().data()[p * 3..][..3],
            &table.data()[k * 3..][..3]
        );
    }
    let scalar_index = Var::constant(table.clone())
        .embedding(&[2], &[], None)
        .unwrap();
    assert_eq!(scalar_index.shape(), &[3]);
}

#[test]
fn repeated_indices_sum_and_the_padding_row_gets_no_gradient() {
    let table = Var::parameter(randn(&[4, 2], 2));
    let g = randn(&[5, 2], 3);
    let out = table.embedding(&[1, 3, 1, 0, 3], &[5], Some(3)).unwrap();
    // The padding row is read as it is.
    assert_eq!(&out.value().data()[2..4], &table.value().data()[6..8]);
    out.mul(&Var::constant(g.clone()))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    let grad = table.grad().unwrap();
    let gd = g.data();
    assert_eq!(&grad.data()[0..2], &gd[6..8]);
    assert_eq!(&grad.data()[2..4], &[gd[0] + gd[4], gd[1] + gd[5]]);
    assert_eq!(&grad.data()[4..6], &[0.0, 0.0]);
    assert_eq!(&grad.data()[6..8], &[0.0, 0.0], "padding_idx 3");
}

#[test]
fn embedding_passes_both_checks() {
    let table = randn(&[4, 3], 4);
    check_both(
        |v| v[0].embedding(&[3, 1, 1, 0], &[2, 2], None),
        std::slice::from_ref(&table),
    );
    // With padding the value depends on the padding row but, by definition,
    // passes it no gradient: the checks run on a function that masks the
    // positions picking it, whose true gradient there is 0, through a
    // nonlinearity for the second order.
    let mask = Var::constant(Tensor::from_vec(vec![1.0, 1.0, 0.0], &[3, 1]).unwrap());
    check_both(
        |v| v[0].embedding(&[2, 3, 0], &[3], Some(0))?.tanh().mul(&mask),
        std::slice::from_ref(&table),
    );
}

#[test]
fn bad_indices_and_tables_are_refused() {
    let table = Var::parameter(randn(&[4, 3], 5));
    let err = table.embedding(&[4], &[1], None).unwrap_err();
    assert!(
        matches!(
            err,
            TapeError::IndexOutOfRange {
                index: 4,
                size: 4,
                ..
            }
        ),
        "{err}"
    );
    let err = table.embedding(&[0], &[1], Some(7)).unwrap_err();
    assert!(
        matches!(err, TapeError::IndexOutOfRange { index: 7, .. }),
        "{err}"
    );
    let err = table.embedding(&[0, 1, 2], &[2], None).unwrap_err();
    assert!(
        matches!(
            err,
            TapeError::DataLength {
                op: "embedding",
                ..
            }
        ),
        "{err}"
    );
    let flat = Var::parameter(Tensor::<f64>::zeros(&[4]));
    assert!(matches!(
        flat.embedding(&[0], &[1], None),
        Err(TapeError::InvalidShape { .. })
    ));
}
