//! conv_reference.json through the nn layers: each case builds the layer
//! PyTorch's op corresponds to (Conv1d, Conv2d with dilation and groups,
//! ConvTranspose2d, AdaptiveAvgPool2d), loads the weights by parameter name,
//! and matches PyTorch's output and the gradients of sum(out · v) with
//! respect to the input, the weight and the bias within 1e-10 relative.

mod common;

use std::collections::BTreeSet;

use common::{assert_rel_close, fixture_tensor, load_fixture, usizes};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::Value;
use tapegrad_nn::{AdaptiveAvgPool2d, Conv1d, Conv2d, ConvTranspose2d, Module};
use tapegrad_tape::{Tensor, Var};

const RTOL: f64 = 1e-10;

/// An option of the case: a pair (a list or one number for both axes), or
/// PyTorch's default.
fn pair(case: &Value, key: &str, default: usize) -> (usize, usize) {
    match &case["options"][key] {
        Value::Null => (default, default),
        Value::Array(_) => {
            let v = usizes(&case["options"][key]);
            (v[0], v[1])
        }
        v => {
            let n = v.as_u64().expect("an integer option") as usize;
            (n, n)
        }
    }
}

/// A one-axis option (conv1d), or PyTorch's default.
fn single(case: &Value, key: &str, default: usize) -> usize {
    case["options"][key]
        .as_u64()
        .map_or(default, |n| n as usize)
}

fn tensor(case: &Value, name: &str) -> Tensor<f64> {
    fixture_tensor(&case["tensors"][name])
}

fn has_bias(case: &Value) -> bool {
    !case["tensors"]["bias"].is_null()
}

/// The case's layer with PyTorch's options, its weights still random.
fn layer(case: &Value) -> Box<dyn Module<f64>> {
    let mut rng = StdRng::seed_from_u64(0);
    let groups = single(case, "groups", 1);
    let op = case["op"].as_str().expect("an op name");
    if op == "adaptive_avg_pool2d" {
        return Box::new(AdaptiveAvgPool2d::new(pair(case, "output_size", 0)));
    }
    let w = tensor(case, "weight").shape().to_vec();
    match op {
        "conv2d" => {
            let conv = Conv2d::grouped(w[1] * groups, w[0], (w[2], w[3]), groups, &mut rng)
                .unwrap()
                .stride(pair(case, "stride", 1))
                .padding(pair(case, "padding", 0))
                .dilation(pair(case, "dilation", 1));
            Box::new(if has_bias(case) {
                conv
            } else {
                conv.without_bias()
            })
        }
        "conv1d" => {
            let conv = Conv1d::grouped(w[1] * groups, w[0], w[2], groups, &mut rng)
                .unwrap()
                .stride(single(case, "stride", 1))
                .padding(single(case, "padding", 0))
                .dilation(single(case, "dilation", 1));
            Box::new(if has_bias(case) {
                conv
            } else {
                conv.without_bias()
            })
        }
        "conv_transpose2d" => {
            let up = ConvTranspose2d::grouped(w[0], w[1] * groups, (w[2], w[3]), groups, &mut rng)
                .unwrap()
                .stride(pair(case, "stride", 1))
                .padding(pair(case, "padding", 0))
                .output_padding(pair(case, "output_padding", 0))
                .dilation(pair(case, "dilation", 1));
            Box::new(if has_bias(case) {
                up
            } else {
                up.without_bias()
            })
        }
        other => panic!("conv_reference.json: unknown op {other}"),
    }
}

/// Loads the case's tensors into the layer's parameters by name; every
/// parameter must have one.
fn load(layer: &dyn Module<f64>, case: &Value) {
    for (name, p) in layer.named_parameters() {
        assert!(
            !case["tensors"][&name].is_null(),
            "{}: no tensor for parameter {name}",
            case["name"]
        );
        p.set_value(tensor(case, &name)).unwrap();
    }
}

fn check_case(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let model = layer(case);
    load(model.as_ref(), case);
    let x = Var::parameter(tensor(case, "input"));
    let out = model.forward(&x).unwrap();
    let want = fixture_tensor(&case["output"]);
    assert_eq!(out.shape(), want.shape(), "{name}: output shape");
    assert_rel_close(
        &format!("{name} output"),
        out.value().data(),
        want.data(),
        RTOL,
    );
    let v = Var::constant(tensor(case, "v"));
    out.mul(&v).unwrap().sum().backward().unwrap();
    let mut params: Vec<(String, Var<f64>)> = vec![("input".into(), x)];
    params.extend(model.named_parameters());
    let expected: BTreeSet<&str> = case["grads"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let got: BTreeSet<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(got, expected, "{name}: the gradients PyTorch gives");
    for (param, var) in &params {
        let want = fixture_tensor(&case["grads"][param.as_str()]);
        let grad = var
            .grad()
            .unwrap_or_else(|| panic!("{name}: no gradient for {param}"));
        assert_rel_close(
            &format!("{name} grad {param}"),
            grad.data(),
            want.data(),
            RTOL,
        );
    }
}

#[test]
fn the_convolution_family_matches_pytorch() {
    let fixture = load_fixture("conv_reference.json");
    let cases = fixture["cases"].as_array().expect("a list of cases");
    let ops: BTreeSet<&str> = cases.iter().map(|c| c["op"].as_str().unwrap()).collect();
    assert_eq!(
        ops,
        BTreeSet::from([
            "adaptive_avg_pool2d",
            "conv1d",
            "conv2d",
            "conv_transpose2d"
        ])
    );
    for case in cases {
        check_case(case);
    }
}
