//! Scaled dot-product attention: PyTorch's values and gradients
//! (`fixtures/attention_reference.json`, 1e-10), gradcheck and gradgradcheck
//! with each kind of mask, dropout masks, the empty-row rule and errors.

mod common;

use common::{assert_close, check_both, fixture, fixture_tensor, floats, randn};
use tapegrad_tape::{AttentionMask, AttentionOptions, TapeError, Tensor, Var};

const RTOL: f64 = 1e-10;

#[test]
fn every_case_matches_pytorch() {
    let cases = fixture("attention_reference.json")["sdpa"].clone();
    for (name, case) in cases.as_object().unwrap() {
        println!("{name}");
        let [q, k, v] = ["q", "k", "v"].map(|n| Var::parameter(fixture_tensor(&case[n])));
        let mask = case.get("mask").map(fixture_tensor);
        let additive = mask.as_ref().map(|m| Var::constant(m.clone()));
        let kind = case["kind"].as_str().unwrap();
        let opts = AttentionOptions {
            mask: match kind {
                "additive" => Some(AttentionMask::Additive(additive.as_ref().unwrap())),
                "allow" | "allow_empty_row" => Some(AttentionMask::Allow(mask.as_ref().unwrap())),
                _ => None,
            },
            is_causal: kind == "causal",
            scale: case["scale"].as_f64(),
            ..Default::default()
        };
        let out = q.scaled_dot_product_attention(&k, &v, opts).unwrap();
        assert_close(
            &format!("{name} output"),
            out.value().data(),
            &floats(&case["output"]["value"]),
            RTOL,
        );
        let proj = Var::constant(fixture_tensor(&case["v_proj"]));
        out.mul(&proj).unwrap().sum().backward().unwrap();
        for (n, x) in [("q", &q), ("k", &k), ("v", &v)] {
            let want = floats(&case["grads"][n]["value"]);
            assert_close(
                &format!("{name} ∂{n}"),
                x.grad().unwrap().data(),
                &want,
                RTOL,
            );
        }
    }
}

#[test]
fn attention_passes_both_checks_with_each_mask() {
    let (q, k, v) = (
        randn(&[2, 3, 4], 1),
        randn(&[2, 5, 4], 2),
        randn(&[2, 5, 3], 3),
    );
    let inputs = [q.clone(), k.clone(), v.clone()];
    check_both(
        |x| x[0].scaled_dot_product_attention(&x[1], &x[2], AttentionOptions::default()),
        &inputs,
    );
    let bias = randn(&[3, 5], 4);
    // A learned additive bias gets its gradient too.
    check_both(
        |x| {
            let opts = AttentionOptions {
                mask: Some(AttentionMask::Additive(&x[3])),
                ..Default::default()
            };
            x[0].scaled_dot_product_attention(&x[1], &x[2], opts)
        },
        &[q.clone(), k.clone(), v.clone(), bias],
    );
    let mut allow = Tensor::ones(&[3, 5]);
    allow.data_mut()[1] = 0.0;
    allow.data_mut()[7] = 0.0;
    let allowed = AttentionOptions {
        mask: Some(AttentionMask::Allow(&allow)),
        scale: Some(0.7),
        ..Default::default()
    };
    check_both(
        |x| x[0].scaled_dot_product_attention(&x[1], &x[2], allowed),
        &inputs,
    );
    let (qs, ks) = (randn(&[4, 4], 5), randn(&[4, 4], 6));
    let causal = AttentionOptions {
        is_causal: true,
        ..Default::default()
    };
    check_both(
        |x| x[0].scaled_dot_product_attention(&x[1], &x[2], causal),
        &[qs, ks, randn(&[4, 2], 7)],
    );
    let drop = Tensor::from_vec(
        (0..30)
            .map(|i| if i % 3 == 0 { 0.0 } else { 1.5 })
            .collect(),
        &[2, 3, 5],
    )
    .unwrap();
    let dropped = AttentionOptions {
        dropout_mask: Some(&drop),
        ..Default::default()
    };
    check_both(
        |x| x[0].scaled_dot_product_attention(&x[1], &x[2], dropped),
        &inputs,
    );
}

#[test]
fn a_query_allowed_no_key_gets_zeros_and_no_nan_gradient() {
    let (q, k, v) = (
        Var::parameter(randn(&[3, 4], 8)),
        Var::parameter(randn(&[5, 4], 9)),
        Var::parameter(randn(&[5, 2], 10)),
    );
    let mut allow = Tensor::ones(&[3, 5]);
    allow.data_mut()[5..10].fill(0.0);
    let opts = AttentionOptions {
        mask: Some(AttentionMask::Allow(&allow)),
        ..Default::default()
    };
    let (out, w) = q
        .scaled_dot_product_attention_with_weights(&k, &v, opts)
        .unwrap();
    assert_eq!(&out.value().data()[2..4], &[0.0, 0.0]);
    assert!(w.value().data()[5..10].iter().all(|&x| x == 0.0));
    out.sum().backward().unwrap();
    for x in [&q, &k, &v] {
        assert!(x.grad().unwrap().data().iter().all(|g| g.is_finite()));
    }
    assert!(q.grad().unwrap().data()[4..8].iter().all(|&g| g == 0.0));
    // The weights of the other rows sum to 1.
    let s: f64 = w.value().data()[..5].iter().sum();
    assert!((s - 1.0).abs() < 1e-15);
}

#[test]
fn bad_operands_are_refused() {
    let q = Var::parameter(randn(&[2, 3, 4], 11));
    let k = Var::parameter(randn(&[2, 5, 4], 12));
    let v = Var::parameter(randn(&[2, 5, 3], 13));
    let d = AttentionOptions::default();
    let bad_e = Var::parameter(randn(&[2, 5, 3], 14));
    assert!(matches!(
        q.scaled_dot_product_attention(&bad_e, &v, d),
        Err(TapeError::ShapeMismatch { .. })
    ));
    let bad_s = Var::parameter(randn(&[2, 4, 3], 15));
    assert!(q.scaled_dot_product_attention(&k, &bad_s, d).is_err());
    let flat = Var::parameter(randn(&[4], 16));
    assert!(matches!(
        flat.scaled_dot_product_attention(&k, &v, d),
        Err(TapeError::InvalidShape { .. })
    ));
    let m = Var::constant(Tensor::zeros(&[3, 5]));
    let both = AttentionOptions {
        mask: Some(AttentionMask::Additive(&m)),
        is_causal: true,
        ..d
    };
    assert!(
        q.scaled_dot_product_attention(&k, &v, both)
            .unwrap_err()
            .to_string()
            .contains("is_causal")
    );
    let wrong = Var::constant(Tensor::zeros(&[4, 5]));
    let opts = AttentionOptions {
        mask: Some(AttentionMask::Additive(&wrong)),
        ..d
    };
    assert!(q.scaled_dot_product_attention(&k, &v, opts).is_err());
    let drop = Tensor::ones(&[2, 3, 4]);
    let opts = AttentionOptions {
        dropout_mask: Some(&drop),
        ..d
    };
    assert!(q.scaled_dot_product_attention(&k, &v, opts).is_err());
    let opts = AttentionOptions {
        scale: Some(f64::INFINITY),
        ..d
    };
    assert!(q.scaled_dot_product_attention(&k, &v, opts).is_err());
}
