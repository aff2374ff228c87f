//! MultiheadAttention against PyTorch's (`fixtures/attention_reference.json`,
//! float64, 1e-10): outputs, weights and the gradients of every input and
//! parameter, with key padding, additive and allow masks, both layouts and
//! without biases; dropout and errors.

mod common;

use common::{
    assert_close_on_scale, assert_rel_close, check_both, fixture_tensor, floats, load_fixture,
    randn,
};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::Value;
use tapegrad_nn::{MhaOptions, Module, MultiheadAttention};
use tapegrad_tape::{AttentionMask, Tensor, Var};

const RTOL: f64 = 1e-10;

fn build(case: &Value) -> MultiheadAttention<f64> {
    let e = case["embed_dim"].as_u64().unwrap() as usize;
    let h = case["num_heads"].as_u64().unwrap() as usize;
    let mut m = MultiheadAttention::new(e, h, &mut StdRng::seed_from_u64(0))
        .unwrap()
        .batch_first(case["batch_first"].as_bool().unwrap());
    if !case["bias"].as_bool().unwrap() {
        m = m.without_bias();
    }
    for (name, p) in m.named_parameters() {
        p.set_value(fixture_tensor(&case["state"][&name])).unwrap();
    }
    assert_eq!(
        m.named_parameters().len(),
        case["state"].as_object().unwrap().len()
    );
    m
}

fn close(what: &str, got: &Var<f64>, want: &Value) {
    assert_rel_close(what, got.value().data(), &floats(&want["value"]), RTOL);
}

#[test]
fn every_case_matches_pytorch() {
    let cases = load_fixture("attention_reference.json")["mha"].clone();
    for (name, case) in cases.as_object().unwrap() {
        println!("{name}");
        let mha = build(case);
        mha.eval();
        let inputs = &case["inputs"];
        let q = Var::parameter(fixture_tensor(&inputs["query"]));
        let (k, v) = match inputs.get("key") {
            Some(k) => (
                Var::parameter(fixture_tensor(k)),
                Var::parameter(fixture_tensor(&inputs["value"])),
            ),
            None => (q.clone(), q.clone()),
        };
        let padding = case.get("key_padding_mask").map(fixture_tensor);
        let additive = case
            .get("attn_mask_additive")
            .map(|m| Var::constant(fixture_tensor(m)));
        let allow = case.get("attn_mask_allow").map(fixture_tensor);
        let attn_mask = match (&additive, &allow) {
            (Some(m), _) => Some(AttentionMask::Additive(m)),
            (_, Some(a)) => Some(AttentionMask::Allow(a)),
            _ => None,
        };
        let opts = MhaOptions {
            key_padding_mask: padding.as_ref(),
            attn_mask,
            need_weights: case["need_weights"].as_bool().unwrap(),
            average_attn_weights: case["average_attn_weights"].as_bool().unwrap(),
            ..Default::default()
        };
        let (out, weights) = mha.attend(&q, &k, &v, opts).unwrap();
        close(&format!("{name} output"), &out, &case["output"]);
        let mut loss = out
            .mul(&Var::constant(fixture_tensor(&case["out_proj"])))
            .unwrap()
            .sum();
        if let Some(w) = &weights {
            close(&format!("{name} weights"), w, &case["weights"]);
            let wp = Var::constant(fixture_tensor(&case["weights_proj"]));
            loss = loss.add(&w.mul(&wp).unwrap().sum()).unwrap();
        }
        loss.backward().unwrap();
        let grads = &case["grads"];
        for (n, x) in [("query", &q), ("key", &k), ("value", &v)] {
            if grads.get(n).is_some() {
                assert_rel_close(
                    &format!("{name} ∂{n}"),
                    x.grad().unwrap().data(),
                    &floats(&grads[n]["value"]),
                    RTOL,
                );
            }
        }
        for (n, p) in mha.named_parameters() {
            assert_close_on_scale(
                &format!("{name} ∂{n}"),
                p.grad().unwrap().data(),
                &floats(&grads[&n]["value"]),
                RTOL,
            );
        }
    }
}

#[test]
fn causal_self_attention_equals_the_allow_mask_and_passes_both_checks() {
    let mha = MultiheadAttention::<f64>::new(4, 2, &mut StdRng::seed_from_u64(1))
        .unwrap()
        .batch_first(true);
    let x = Var::constant(randn(&[2, 3, 4], 2));
    let causal = MhaOptions {
        is_causal: true,
        ..Default::default()
    };
    let allow =
        Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0], &[3, 3]).unwrap();
    let masked = MhaOptions {
        attn_mask: Some(AttentionMask::Allow(&allow)),
        ..Default::default()
    };
    let a = mha.attend(&x, &x, &x, causal).unwrap().0.value();
    let b = mha.attend(&x, &x, &x, masked).unwrap().0.value();
    for (p, q) in a.data().iter().zip(b.data()) {
        assert!((p - q).abs() < 1e-14);
    }
    // Through the layer with respect to its input (queries, keys and values
    // at once), both orders.
    check_both(
        "MultiheadAttention",
        |v| Ok(mha.attend(&v[0], &v[0], &v[0], causal)?.0),
        &[x.value()],
    );
}

#[test]
fn dropout_applies_in_training_only_and_is_reproducible() {
    let make = || {
        MultiheadAttention::<f64>::new(4, 2, &mut StdRng::seed_from_u64(3))
            .unwrap()
            .dropout(0.5, 9)
            .unwrap()
    };
    let (a, b) = (make(), make());
    let x = Var::constant(randn(&[3, 2, 4], 4));
    let ya = a.forward(&x).unwrap().value();
    assert_eq!(ya, b.forward(&x).unwrap().value());
    a.eval();
    let ye = a.forward(&x).unwrap().value();
    assert_ne!(ya, ye);
    assert_eq!(
        Module::<f64>::generator_states(&a)[0].0,
        "dropout.generator"
    );
}

#[test]
fn bad_shapes_and_masks_are_refused() {
    assert!(MultiheadAttention::<f64>::new(6, 4, &mut StdRng::seed_from_u64(0)).is_err());
    let mha = MultiheadAttention::<f64>::new(4, 2, &mut StdRng::seed_from_u64(0)).unwrap();
    let x = Var::constant(randn(&[3, 2, 4], 5));
    assert!(mha.forward(&Var::constant(randn(&[3, 2, 5], 6))).is_err());
    assert!(mha.forward(&Var::constant(randn(&[3, 4], 6))).is_err());
    let pad = Tensor::zeros(&[3, 2]); // [N, S] is [2, 3]
    let opts = MhaOptions {
        key_padding_mask: Some(&pad),
        ..Default::default()
    };
    let err = mha.attend(&x, &x, &x, opts).unwrap_err();
    assert!(err.to_string().contains("key_padding_mask"), "{err}");
    let allow = Tensor::ones(&[3, 3]);
    let both = MhaOptions {
        is_causal: true,
        attn_mask: Some(AttentionMask::Allow(&allow)),
        ..Default::default()
    };
    assert!(mha.attend(&x, &x, &x, both).is_err());
}
