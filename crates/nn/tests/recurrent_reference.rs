//! LSTM and GRU against PyTorch's (`fixtures/recurrent_reference.json`,
//! float64, 1e-10): outputs, final states and the gradients of the input, the
//! initial states and every parameter; PyTorch-saved 2-layer LSTMs load by
//! name and reproduce its outputs (f64 1e-12, f32 1e-5); gradcheck through
//! time; dropout between layers; errors.

mod common;

use common::{
    assert_close_on_scale, assert_written_back, check_both, fixture_path, fixture_tensor, floats,
    load_fixture, randn,
};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::Value;
use tapegrad_nn::{Gru, Lstm, Module, load_safetensors};
use tapegrad_tape::{Float, Tensor, Var};

fn sizes(case: &Value) -> (usize, usize, usize) {
    let n = |k: &str| case[k].as_u64().unwrap() as usize;
    (n("input_size"), n("hidden_size"), n("num_layers"))
}

/// The case's net and its outputs, h_n and (for an LSTM) c_n.
type CaseRun = (Box<dyn Module<f64>>, Var<f64>, Var<f64>, Option<Var<f64>>);

/// The outputs, h_n and (for an LSTM) c_n of the case's net on `x`.
fn run_case(case: &Value, x: &Var<f64>, h0: Option<&Var<f64>>, c0: Option<&Var<f64>>) -> CaseRun {
    let (i, h, l) = sizes(case);
    let rng = &mut StdRng::seed_from_u64(0);
    let batch_first = case["batch_first"].as_bool().unwrap();
    let bias = case["bias"].as_bool().unwrap();
    if case["class"] == "LSTM" {
        let mut net = Lstm::new(i, h, l, rng).unwrap().batch_first(batch_first);
        if !bias {
            net = net.without_bias();
        }
        load(&net, case);
        let (out, (hn, cn)) = net.run(x, h0.zip(c0)).unwrap();
        (Box::new(net), out, hn, Some(cn))
    } else {
        let mut net = Gru::new(i, h, l, rng).unwrap().batch_first(batch_first);
        if !bias {
            net = net.without_bias();
        }
        load(&net, case);
        let (out, hn) = net.run(x, h0).unwrap();
        (Box::new(net), out, hn, None)
    }
}

fn load(net: &dyn Module<f64>, case: &Value) {
    let params = net.named_parameters();
    assert_eq!(
        params.len(),
        case["state"].as_object().unwrap().len(),
        "parameter names"
    );
    for (n, p) in params {
        p.set_value(fixture_tensor(&case["state"][&n])).unwrap();
    }
}

#[test]
fn every_case_matches_pytorch() {
    let fixture = load_fixture("recurrent_reference.json");
    for (name, case) in fixture["cases"].as_object().unwrap() {
        println!("{name}");
        let x = Var::parameter(fixture_tensor(&case["input"]));
        let h0 = case.get("h_0").map(|t| Var::parameter(fixture_tensor(t)));
        let c0 = case.get("c_0").map(|t| Var::parameter(fixture_tensor(t)));
        let (net, out, hn, cn) = run_case(case, &x, h0.as_ref(), c0.as_ref());
        assert_close_on_scale(
            &format!("{name} output"),
            out.value().data(),
            &floats(&case["output"]["value"]),
            1e-10,
        );
        assert_close_on_scale(
            &format!("{name} h_n"),
            hn.value().data(),
            &floats(&case["h_n"]["value"]),
            1e-10,
        );
        let weigh = |v: &Var<f64>, key: &str| {
            v.mul(&Var::constant(fixture_tensor(&case[key])))
                .unwrap()
                .sum()
        };
        let mut loss = weigh(&out, "p").add(&weigh(&hn, "q")).unwrap();
        if let Some(cn) = &cn {
            assert_close_on_scale(
                &format!("{name} c_n"),
                cn.value().data(),
                &floats(&case["c_n"]["value"]),
                1e-10,
            );
            loss = loss.add(&weigh(cn, "r")).unwrap();
        }
        loss.backward().unwrap();
        let grads = &case["grads"];
        let mut leaves = vec![("input".to_owned(), x)];
        leaves.extend(h0.map(|h| ("h_0".to_owned(), h)));
        leaves.extend(c0.map(|c| ("c_0".to_owned(), c)));
        leaves.extend(net.named_parameters());
        assert_eq!(leaves.len(), grads.as_object().unwrap().len());
        for (n, v) in leaves {
            assert_close_on_scale(
                &format!("{name} ∂{n}"),
                v.grad().unwrap().data(),
                &floats(&grads[&n]["value"]),
                1e-10,
            );
        }
    }
}

fn saved_reproduces<T: Float>(dtype: &str, rtol: f64) {
    let fixture = load_fixture("recurrent_reference.json");
    let io = &fixture["saved"][dtype];
    let net = Lstm::<T>::new(28, 32, 2, &mut StdRng::seed_from_u64(1))
        .unwrap()
        .batch_first(true);
    let file = fixture_path(io["file"].as_str().unwrap());
    load_safetensors(&net, &file).unwrap();
    let x64 = fixture_tensor(&io["input"]);
    let x = Tensor::from_vec(
        x64.data().iter().map(|&v| T::from_f64(v)).collect(),
        x64.shape(),
    )
    .unwrap();
    let (out, (h, c)) = net.run(&Var::constant(x), None).unwrap();
    for (what, v) in [("output", out), ("h_n", h), ("c_n", c)] {
        let got: Vec<f64> = v.value().data().iter().map(|x| x.to_f64()).collect();
        assert_close_on_scale(
            &format!("saved {dtype} {what}"),
            &got,
            &floats(&io[what]["value"]),
            rtol,
        );
    }
    assert_written_back(&net, &file, &format!("lstm-{dtype}"));
}

#[test]
fn a_pytorch_saved_lstm_loads_and_reproduces_its_outputs_in_f64() {
    saved_reproduces::<f64>("f64", 1e-12);
}

#[test]
fn a_pytorch_saved_lstm_loads_and_reproduces_its_outputs_in_f32() {
    saved_reproduces::<f32>("f32", 1e-5);
}

#[test]
fn both_pass_gradcheck_and_gradgradcheck_through_time() {
    let lstm = Lstm::<f64>::new(2, 3, 2, &mut StdRng::seed_from_u64(2)).unwrap();
    let gru = Gru::<f64>::new(2, 3, 2, &mut StdRng::seed_from_u64(3))
        .unwrap()
        .batch_first(true);
    let x = randn(&[3, 2, 2], 4);
    let (h0, c0) = (randn(&[2, 2, 3], 5), randn(&[2, 2, 3], 6));
    check_both(
        "LSTM",
        |v| {
            let (out, (h, c)) = lstm.run(&v[0], Some((&v[1], &v[2])))?;
            Ok(out.sum().add(&h.mul(&c)?.sum())?)
        },
        &[x.clone(), h0.clone(), c0],
    );
    check_both(
        "GRU",
        |v| {
            let (out, h) = gru.run(&v[0], Some(&v[1]))?;
            Ok(out.tanh().sum().add(&h.sum())?)
        },
        &[randn(&[2, 3, 2], 9), h0],
    );
}

#[test]
fn dropout_acts_between_layers_in_training_only() {
    let make = || {
        Lstm::<f64>::new(2, 4, 2, &mut StdRng::seed_from_u64(7))
            .unwrap()
            .dropout(0.5, 3)
            .unwrap()
    };
    let (a, b) = (make(), make());
    let x = Var::constant(randn(&[5, 2, 2], 8));
    let ya = a.forward(&x).unwrap().value();
    assert_eq!(ya, b.forward(&x).unwrap().value(), "seeded");
    a.eval();
    assert_ne!(a.forward(&x).unwrap().value(), ya);
    // One layer: nothing between layers to drop.
    let single = Lstm::<f64>::new(2, 4, 1, &mut StdRng::seed_from_u64(7)).unwrap();
    let one = Lstm::<f64>::new(2, 4, 1, &mut StdRng::seed_from_u64(7))
        .unwrap()
        .dropout(0.5, 3)
        .unwrap();
    assert_eq!(
        single.forward(&x).unwrap().value(),
        one.forward(&x).unwrap().value()
    );
}

#[test]
fn bad_inputs_and_states_are_refused() {
    let lstm = Lstm::<f64>::new(3, 4, 2, &mut StdRng::seed_from_u64(0)).unwrap();
    assert!(lstm.forward(&Var::constant(randn(&[5, 2, 2], 1))).is_err());
    assert!(lstm.forward(&Var::constant(randn(&[5, 3], 1))).is_err());
    let x = Var::constant(randn(&[5, 2, 3], 2));
    let (h, c) = (
        Var::constant(randn(&[1, 2, 4], 3)),
        Var::constant(randn(&[2, 2, 4], 4)),
    );
    let err = lstm.run(&x, Some((&h, &c))).unwrap_err();
    assert!(err.to_string().contains("h_0"), "{err}");
    assert!(Gru::<f64>::new(3, 0, 1, &mut StdRng::seed_from_u64(0)).is_err());
    assert!(Lstm::<f64>::new(3, 4, 0, &mut StdRng::seed_from_u64(0)).is_err());
}
