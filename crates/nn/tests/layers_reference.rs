//! The normalization and embedding layers against PyTorch's own modules
//! (`fixtures/layers_reference.json`, float64): outputs, the gradients of a
//! random projection with respect to the input and every parameter, batch
//! norm's buffers after training-mode passes and its evaluation output, all to
//! 1e-10.

mod common;

use common::{assert_rel_close, fixture_tensor, floats, load_fixture, usizes};
use serde_json::Value;
use tapegrad_nn::{
    BatchNorm1d, BatchNorm2d, BufferValue, Embedding, GroupNorm, LayerNorm, Module, RmsNorm,
};
use tapegrad_tape::{Tensor, Var};

const RTOL: f64 = 1e-10;

/// The layer a case names, built with the case's arguments through the
/// crate's builders.
fn build(layer: &str, args: &Value) -> Box<dyn Module<f64>> {
    let shape = || usizes(&args["normalized_shape"]);
    let flag = |key: &str| args.get(key).and_then(Value::as_bool).unwrap_or(true);
    let number = |key: &str| args.get(key).and_then(Value::as_f64);
    let count = |key: &str| args[key].as_u64().expect("a count") as usize;
    match layer {
        "LayerNorm" => {
            let mut m = LayerNorm::new(&shape()).eps(number("eps").unwrap_or(1e-5));
            if !flag("bias") {
                m = m.without_bias();
            }
            if !flag("elementwise_affine") {
                m = m.without_affine();
            }
            Box::new(m)
        }
        "RMSNorm" => {
            let m = RmsNorm::new(&shape());
            Box::new(match number("eps") {
                Some(eps) => m.eps(eps),
                None => m,
            })
        }
        "GroupNorm" => {
            let mut m = GroupNorm::new(count("num_groups"), count("num_channels"))
                .unwrap()
                .eps(number("eps").unwrap_or(1e-5));
            if !flag("affine") {
                m = m.without_affine();
            }
            Box::new(m)
        }
        "BatchNorm1d" | "BatchNorm2d" => batch_norm(layer, args),
        "Embedding" => {
            let rng = &mut rand::rngs::StdRng::seed_from_u64(0);
            let m = Embedding::new(count("num_embeddings"), count("embedding_dim"), rng);
            Box::new(match args.get("padding_idx").and_then(Value::as_u64) {
                Some(p) => m.padding_idx(p as usize).unwrap(),
                None => m,
            })
        }
        other => panic!("no layer {other}"),
    }
}

use rand::SeedableRng;

/// BatchNorm1d or BatchNorm2d with the case's momentum and flags.
fn batch_norm(layer: &str, args: &Value) -> Box<dyn Module<f64>> {
    let n = args["num_features"].as_u64().unwrap() as usize;
    let momentum = match args.get("momentum") {
        Some(Value::Null) => None,
        Some(m) => m.as_f64(),
        None => Some(0.1),
    };
    let affine = args.get("affine").and_then(Value::as_bool).unwrap_or(true);
    let tracks = (args.get("track_running_stats").and_then(Value::as_bool)).unwrap_or(true);
    macro_rules! configure {
        ($m:expr) => {{
            let mut m = $m.momentum(momentum);
            if !affine {
                m = m.without_affine();
            }
            if !tracks {
                m = m.without_running_stats();
            }
            Box::new(m) as Box<dyn Module<f64>>
        }};
    }
    if layer == "BatchNorm1d" {
        configure!(BatchNorm1d::new(n))
    } else {
        configure!(BatchNorm2d::new(n))
    }
}

/// Sets the parameters and float buffers from the case's `state`.
fn load_state(model: &dyn Module<f64>, state: &Value) {
    let mut set = 0;
    for (name, p) in model.named_parameters() {
        p.set_value(fixture_tensor(&state[&name])).unwrap();
        set += 1;
    }
    for (name, b) in model.named_buffers() {
        if let Some(t) = state.get(&name) {
            b.set(BufferValue::Float(fixture_tensor(t))).unwrap();
            set += 1;
        }
    }
    assert_eq!(
        set,
        state.as_object().unwrap().len(),
        "every saved tensor has a place"
    );
}

fn check_buffers(name: &str, model: &dyn Module<f64>, want: &Value) {
    let buffers = model.named_buffers();
    assert_eq!(
        buffers.len(),
        want.as_object().unwrap().len(),
        "{name}: buffers"
    );
    for (b_name, b) in buffers {
        let expected = &want[&b_name];
        match b.value() {
            BufferValue::Float(t) => {
                assert_eq!(t.shape(), usizes(&expected["shape"]), "{name}.{b_name}");
                assert_rel_close(
                    &format!("{name}.{b_name}"),
                    t.data(),
                    &floats(&expected["value"]),
                    RTOL,
                );
            }
            BufferValue::Count(c) => {
                assert_eq!(c as f64, floats(&expected["value"])[0], "{name}.{b_name}")
            }
        }
    }
}

fn run_case(name: &str, case: &Value) {
    let model = build(case["layer"].as_str().unwrap(), &case["args"]);
    load_state(model.as_ref(), &case["state"]);
    for batch in case["warmup"].as_array().unwrap() {
        model.train();
        tapegrad_tape::no_grad(|| model.forward(&Var::constant(fixture_tensor(batch)))).unwrap();
    }
    let x_value = fixture_tensor(&case["input"]);
    let differentiable = case["grads"].get("input").is_some();
    let x = if differentiable {
        Var::parameter(x_value.clone())
    } else {
        Var::constant(x_value.clone())
    };
    model.set_training(case["mode"] == "train");
    let out = model.forward(&x).unwrap();
    assert_eq!(
        out.shape(),
        usizes(&case["output"]["shape"]),
        "{name}: output shape"
    );
    assert_rel_close(
        &format!("{name}: output"),
        out.value().data(),
        &floats(&case["output"]["value"]),
        RTOL,
    );
    let v = Var::constant(fixture_tensor(&case["v"]));
    out.mul(&v).unwrap().sum().backward().unwrap();
    let grads = case["grads"].as_object().unwrap();
    let params = model.named_parameters();
    assert_eq!(
        params.len() + usize::from(differentiable),
        grads.len(),
        "{name}: gradients"
    );
    for (p_name, p) in params {
        let got = p.grad().unwrap();
        assert_rel_close(
            &format!("{name}: ∂{p_name}"),
            got.data(),
            &floats(&grads[&p_name]["value"]),
            RTOL,
        );
    }
    if differentiable {
        let got = x.grad().unwrap();
        assert_rel_close(
            &format!("{name}: ∂input"),
            got.data(),
            &floats(&grads["input"]["value"]),
            RTOL,
        );
    }
    check_buffers(name, model.as_ref(), &case["buffers"]);
    if let Some(want) = case.get("eval_output") {
        model.eval();
        let y = model.forward(&Var::constant(x_value)).unwrap();
        assert_rel_close(
            &format!("{name}: eval output"),
            y.value().data(),
            &floats(&want["value"]),
            RTOL,
        );
    }
}

#[test]
fn every_layer_matches_pytorch() {
    let fixture = load_fixture("layers_reference.json");
    let cases = fixture["cases"].as_object().unwrap();
    assert!(cases.len() >= 18);
    for (name, case) in cases {
        println!("{name}");
        run_case(name, case);
    }
}

/// One layer in both element types.
type LayerPair = (Box<dyn Module<f64>>, Box<dyn Module<f32>>);

/// The f32 layers follow the f64 ones to f32 rounding.
#[test]
fn f32_layers_follow_the_f64_ones() {
    let x64 = common::randn(&[4, 3, 5], 3);
    let x32 = Tensor::from_vec(x64.data().iter().map(|&v| v as f32).collect(), &[4, 3, 5]).unwrap();
    let pairs: Vec<LayerPair> = vec![
        (
            Box::new(LayerNorm::new(&[5])),
            Box::new(LayerNorm::new(&[5])),
        ),
        (
            Box::new(RmsNorm::new(&[3, 5])),
            Box::new(RmsNorm::new(&[3, 5])),
        ),
        (
            Box::new(GroupNorm::new(3, 3).unwrap()),
            Box::new(GroupNorm::new(3, 3).unwrap()),
        ),
        (Box::new(BatchNorm1d::new(3)), Box::new(BatchNorm1d::new(3))),
    ];
    for (m64, m32) in pairs {
        let y64 = m64.forward(&Var::constant(x64.clone())).unwrap().value();
        let y32 = m32.forward(&Var::constant(x32.clone())).unwrap().value();
        for (a, b) in y32.data().iter().zip(y64.data()) {
            assert!((*a as f64 - b).abs() < 1e-5, "{:?}: {a} vs {b}", m64);
        }
    }
}
