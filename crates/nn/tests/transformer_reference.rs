//! Transformer encoder blocks against PyTorch's
//! (`fixtures/transformer_reference.json`, float64, 1e-10): post- and
//! pre-norm, ReLU and GELU, key padding, causal attention, without biases, a
//! two-block encoder with a final norm; and PyTorch-saved encoders in f32 and
//! f64 loading by name and reproducing PyTorch's outputs.

mod common;

use common::{
    assert_close_on_scale, assert_written_back, fixture_path, fixture_tensor, floats, load_fixture,
    usizes,
};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::Value;
use tapegrad_nn::{
    EncoderLayerConfig, EncoderMasks, FeedForwardActivation, LayerNorm, Module, TransformerEncoder,
    TransformerEncoderLayer, load_safetensors,
};
use tapegrad_tape::{Float, Tensor, Var};

fn config(case: &Value) -> EncoderLayerConfig {
    let n = |k: &str| case[k].as_u64().unwrap() as usize;
    let b = |k: &str| case[k].as_bool().unwrap();
    EncoderLayerConfig {
        dim_feedforward: n("dim_feedforward"),
        activation: match case["activation"].as_str().unwrap() {
            "gelu" => FeedForwardActivation::Gelu,
            _ => FeedForwardActivation::Relu,
        },
        batch_first: b("batch_first"),
        norm_first: b("norm_first"),
        bias: b("bias"),
        ..EncoderLayerConfig::new(n("d_model"), n("nhead"))
    }
}

/// The case's model: a bare block, or an encoder of blocks with a final norm.
fn build<T: Float>(case: &Value) -> Box<dyn EncodeModule<T>> {
    let c = config(case);
    let mut rng = StdRng::seed_from_u64(0);
    let layers = case["layers"].as_u64().unwrap() as usize;
    if layers == 0 {
        return Box::new(TransformerEncoderLayer::new(c, 0, &mut rng).unwrap());
    }
    let encoder = TransformerEncoder::new(layers, |i| {
        TransformerEncoderLayer::new(c, 4 * i as u64, &mut rng)
    });
    Box::new(encoder.unwrap().with_norm(LayerNorm::new(&[c.d_model])))
}

/// A block or an encoder: both take the masks.
trait EncodeModule<T: Float>: Module<T> {
    fn run(&self, x: &Var<T>, masks: EncoderMasks<'_, T>) -> tapegrad_nn::Result<Var<T>>;
}

impl<T: Float> EncodeModule<T> for TransformerEncoderLayer<T> {
    fn run(&self, x: &Var<T>, masks: EncoderMasks<'_, T>) -> tapegrad_nn::Result<Var<T>> {
        self.encode(x, masks)
    }
}

impl<T: Float> EncodeModule<T> for TransformerEncoder<T> {
    fn run(&self, x: &Var<T>, masks: EncoderMasks<'_, T>) -> tapegrad_nn::Result<Var<T>> {
        self.encode(x, masks)
    }
}

#[test]
fn every_case_matches_pytorch() {
    let fixture = load_fixture("transformer_reference.json");
    for (name, case) in fixture["cases"].as_object().unwrap() {
        println!("{name}");
        let model = build::<f64>(case);
        let params = model.named_parameters();
        assert_eq!(
            params.len(),
            case["state"].as_object().unwrap().len(),
            "{name}: parameter names"
        );
        for (n, p) in &params {
            p.set_value(fixture_tensor(&case["state"][n])).unwrap();
        }
        model.eval();
        let x = Var::parameter(fixture_tensor(&case["input"]));
        let padding = case.get("key_padding_mask").map(fixture_tensor);
        let masks = EncoderMasks {
            key_padding_mask: padding.as_ref(),
            is_causal: case["causal"].as_bool().unwrap(),
            ..Default::default()
        };
        let out = model.run(&x, masks).unwrap();
        assert_eq!(out.shape(), usizes(&case["output"]["shape"]));
        assert_close_on_scale(
            &format!("{name} output"),
            out.value().data(),
            &floats(&case["output"]["value"]),
            1e-10,
        );
        out.mul(&Var::constant(fixture_tensor(&case["proj"])))
            .unwrap()
            .sum()
            .backward()
            .unwrap();
        let grads = &case["grads"];
        assert_close_on_scale(
            &format!("{name} ∂input"),
            x.grad().unwrap().data(),
            &floats(&grads["input"]["value"]),
            1e-10,
        );
        for (n, p) in &params {
            assert_close_on_scale(
                &format!("{name} ∂{n}"),
                p.grad().unwrap().data(),
                &floats(&grads[n]["value"]),
                1e-10,
            );
        }
    }
}

fn saved_reproduces<T: Float>(dtype: &str, rtol: f64) {
    let fixture = load_fixture("transformer_reference.json");
    let io = &fixture["saved"][dtype];
    let case = serde_json::json!({
        "layers": 2, "d_model": 16, "nhead": 4, "dim_feedforward": 32, "activation": "gelu",
        "batch_first": true, "norm_first": true, "bias": true,
    });
    let model = build::<T>(&case);
    let file = fixture_path(io["file"].as_str().unwrap());
    load_safetensors(model.as_ref(), &file).unwrap();
    model.eval();
    let x64 = fixture_tensor(&io["input"]);
    let x = Tensor::from_vec(
        x64.data().iter().map(|&v| T::from_f64(v)).collect(),
        x64.shape(),
    )
    .unwrap();
    let out = model.forward(&Var::constant(x)).unwrap().value();
    let got: Vec<f64> = out.data().iter().map(|v| v.to_f64()).collect();
    assert_close_on_scale(
        &format!("saved {dtype}"),
        &got,
        &floats(&io["output"]["value"]),
        rtol,
    );
    // Saved here, the file holds PyTorch's names, shapes and values: the same bytes.
    assert_written_back(model.as_ref(), &file, &format!("transformer-{dtype}"));
}

#[test]
fn a_pytorch_saved_encoder_loads_and_reproduces_its_outputs_in_f64() {
    saved_reproduces::<f64>("f64", 1e-12);
}

#[test]
fn a_pytorch_saved_encoder_loads_and_reproduces_its_outputs_in_f32() {
    saved_reproduces::<f32>("f32", 1e-5);
}

#[test]
fn dropout_is_active_in_training_and_seeded() {
    let config = EncoderLayerConfig {
        dim_feedforward: 8,
        dropout: 0.3,
        ..EncoderLayerConfig::new(4, 2)
    };
    let make =
        || TransformerEncoderLayer::<f64>::new(config, 5, &mut StdRng::seed_from_u64(1)).unwrap();
    let (a, b) = (make(), make());
    let x = Var::constant(common::randn(&[3, 2, 4], 2));
    let ya = a.forward(&x).unwrap().value();
    assert_eq!(ya, b.forward(&x).unwrap().value());
    a.eval();
    assert_ne!(a.forward(&x).unwrap().value(), ya);
    let names: Vec<String> = a.generator_states().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "self_attn.dropout.generator",
            "dropout.generator",
            "dropout1.generator",
            "dropout2.generator"
        ]
    );
    assert!(TransformerEncoder::<f64>::new(0, |_| unreachable!()).is_err());
}
