//! Conv1d, Conv2d with dilation and groups, ConvTranspose2d and
//! AdaptiveAvgPool2d as layers: shapes, options, parameter names, Debug,
//! gradient checks through every parameter and the typed errors.

mod common;

use common::{check_both, randn};
use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::{
    AdaptiveAvgPool2d, Conv1d, Conv2d, ConvTranspose2d, Module, NnError, Sequential,
};
use tapegrad_tape::{Tensor, Var};

fn zeros(shape: &[usize]) -> Var<f64> {
    Var::constant(Tensor::zeros(shape))
}

fn names(m: &dyn Module<f64>) -> Vec<String> {
    m.named_parameters().into_iter().map(|(n, _)| n).collect()
}

#[test]
fn conv2d_dilation_and_groups_set_the_shapes() {
    let mut rng = StdRng::seed_from_u64(0);
    let conv = Conv2d::<f64>::grouped(6, 4, (3, 2), 2, &mut rng)
        .unwrap()
        .dilation((2, 3))
        .padding(1)
        .stride((1, 2));
    assert_eq!(conv.weight().shape(), &[4, 3, 3, 2]);
    let opts = conv.options();
    assert_eq!(
        (opts.dilation, opts.groups, opts.stride),
        ((2, 3), 2, (1, 2))
    );
    // (9 + 2 − 2·2 − 1)/1 + 1 = 7 rows, (10 + 2 − 3·1 − 1)/2 + 1 = 5 columns.
    let y = conv.forward(&zeros(&[2, 6, 9, 10])).unwrap();
    assert_eq!(y.shape(), &[2, 4, 7, 5]);
    assert!(
        conv.forward(&zeros(&[2, 4, 9, 10])).is_err(),
        "2 groups of 3 channels"
    );
    assert_eq!(names(&conv), ["weight", "bias"]);
}

#[test]
fn grouped_constructors_refuse_groups_that_do_not_divide() {
    let mut rng = StdRng::seed_from_u64(0);
    let e = Conv2d::<f32>::grouped(6, 4, 3, 4, &mut rng).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Conv2d: invalid argument groups = 4: must be at least 1 and divide the 6 input channels"
    );
    let e = Conv2d::<f32>::grouped(6, 4, 3, 0, &mut rng).unwrap_err();
    assert!(
        matches!(e, NnError::InvalidArgument { name: "groups", .. }),
        "{e}"
    );
    let e = Conv1d::<f32>::grouped(4, 6, 3, 4, &mut rng).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Conv1d: invalid argument groups = 4: must be at least 1 and divide the 6 output channels"
    );
    assert!(ConvTranspose2d::<f32>::grouped(3, 6, 3, 2, &mut rng).is_err());
    let w = Var::parameter(Tensor::<f64>::zeros(&[6, 1, 3, 3]));
    let e = Conv2d::from_grouped_parameters(w, None, 4).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Conv2d: invalid argument groups = 4: must be at least 1 and divide the 6 out_channels of the weight [6, 1, 3, 3]"
    );
}

#[test]
fn from_parameters_check_rank_and_bias() {
    let e = Conv1d::from_parameters(Var::parameter(Tensor::<f64>::zeros(&[2, 2, 1, 3])), None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Conv1d: invalid argument weight = shape [2, 2, 1, 3]: must be [out_channels, in_channels/groups, k]"
    );
    let w = Var::parameter(Tensor::<f64>::zeros(&[2, 3, 2, 2]));
    let e = ConvTranspose2d::from_parameters(w.clone(), Some(Var::parameter(Tensor::zeros(&[2]))))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ConvTranspose2d (weight, bias): shapes [2, 3, 2, 2] and [2] are not compatible"
    );
    let up =
        ConvTranspose2d::from_parameters(w, Some(Var::parameter(Tensor::zeros(&[3])))).unwrap();
    assert_eq!(names(&up), ["weight", "bias"]);
    assert_eq!(names(&up.without_bias()), ["weight"]);
}

#[test]
fn conv_transpose2d_undoes_the_shape_of_conv2d() {
    let mut rng = StdRng::seed_from_u64(1);
    let down = Conv2d::<f64>::new(3, 8, 3, &mut rng).stride(2).padding(1);
    let up = ConvTranspose2d::<f64>::new(8, 3, 3, &mut rng)
        .stride(2)
        .padding(1)
        .output_padding(1);
    let x = zeros(&[2, 3, 10, 12]);
    let h = down.forward(&x).unwrap();
    assert_eq!(h.shape(), &[2, 8, 5, 6]);
    assert_eq!(up.forward(&h).unwrap().shape(), x.shape());
    // Without the output padding, 9 × 11 (also mapped to 5 × 6 by `down`).
    let odd = ConvTranspose2d::<f64>::new(8, 3, 3, &mut rng)
        .stride(2)
        .padding(1);
    assert_eq!(odd.forward(&h).unwrap().shape(), &[2, 3, 9, 11]);
    let e = odd.output_padding(2).forward(&h).unwrap_err();
    assert!(
        e.to_string()
            .contains("output_padding = 2: must be smaller than the stride 2 or the dilation 1"),
        "{e}"
    );
}

#[test]
fn debug_shows_names_and_parameter_shapes() {
    let mut rng = StdRng::seed_from_u64(0);
    let model: Sequential<f32> = Sequential::new()
        .push(Conv1d::new(2, 4, 3, &mut rng))
        .push(
            ConvTranspose2d::grouped(4, 2, 2, 2, &mut rng)
                .unwrap()
                .without_bias(),
        )
        .push(AdaptiveAvgPool2d::new((1, 3)));
    assert_eq!(
        format!("{model:?}"),
        "Sequential { 0: Conv1d { weight: [4, 2, 3], bias: [4] }, \
         1: ConvTranspose2d { weight: [4, 1, 2, 2] }, 2: AdaptiveAvgPool2d }"
    );
    assert_eq!(
        format!("{:?}", AdaptiveAvgPool2d::new(2)),
        "AdaptiveAvgPool2d { output_size: (2, 2) }"
    );
}

#[test]
fn layers_gradcheck_through_every_parameter() {
    check_both(
        "Conv2d dilation 2, 2 groups, stride 2",
        |v| {
            Conv2d::from_grouped_parameters(v[1].clone(), Some(v[2].clone()), 2)?
                .dilation(2)
                .stride(2)
                .padding(1)
                .forward(&v[0])
        },
        &[
            randn(&[2, 4, 6, 5], 1),
            randn(&[2, 2, 2, 3], 2),
            randn(&[2], 3),
        ],
    );
    check_both(
        "Conv1d depthwise, dilation 2",
        |v| {
            Conv1d::from_grouped_parameters(v[1].clone(), Some(v[2].clone()), 3)?
                .dilation(2)
                .padding(2)
                .forward(&v[0])
        },
        &[randn(&[2, 3, 7], 4), randn(&[6, 1, 3], 5), randn(&[6], 6)],
    );
    check_both(
        "ConvTranspose2d stride 2, output padding, 2 groups",
        |v| {
            ConvTranspose2d::from_grouped_parameters(v[1].clone(), Some(v[2].clone()), 2)?
                .stride(2)
                .padding((1, 0))
                .output_padding((1, 0))
                .forward(&v[0])
        },
        &[
            randn(&[1, 4, 3, 3], 7),
            randn(&[4, 1, 3, 2], 8),
            randn(&[2], 9),
        ],
    );
    check_both(
        "AdaptiveAvgPool2d 7×5 → 3×2",
        |v| AdaptiveAvgPool2d::new((3, 2)).forward(&v[0]),
        &[randn(&[2, 2, 7, 5], 10)],
    );
}
