//! The networks of grad_reference.json built from nn layers with the fixture's
//! weights (loss, every gradient, and the MLP's Hessian-vector product within
//! 1e-10 relative), and the PyTorch-saved CNN reproducing PyTorch's logits.

mod common;

use common::{assert_rel_close, fixture_path, fixture_tensor, floats, load_fixture, usizes};
use rand::SeedableRng;
use tapegrad_nn::{
    Conv2d, Flatten, Linear, MaxPool2d, Module, Reduction, Relu, Sequential, Sigmoid, Tanh,
    cross_entropy, load_safetensors, mse_loss,
};
use tapegrad_tape::{Float, GradOptions, Tensor, Var, grad};

const RTOL: f64 = 1e-10;

/// The case's tensors as parameters, by name.
fn parameters(case: &serde_json::Value, names: &[&str]) -> Vec<Var<f64>> {
    names
        .iter()
        .map(|n| Var::parameter(fixture_tensor(&case["tensors"][*n])))
        .collect()
}

/// Checks each var's gradient against the case's `grads`.
fn assert_grads(case: &serde_json::Value, names: &[&str], vars: &[Var<f64>]) {
    for (name, v) in names.iter().zip(vars) {
        let g = v
            .grad()
            .unwrap_or_else(|| panic!("no gradient reached {name}"));
        assert_rel_close(
            &format!("grad {name}"),
            g.data(),
            &floats(&case["grads"][*name]),
            RTOL,
        );
    }
}

#[test]
fn mlp_tanh_sigmoid_mse_loss_gradients_and_hvp() {
    let fixture = load_fixture("grad_reference.json");
    let case = &fixture["cases"]["mlp_tanh_sigmoid_mse"];
    let names = ["x", "w1", "b1", "w2", "b2"];
    let vars = parameters(case, &names);
    let [x, w1, b1, w2, b2] = [0, 1, 2, 3, 4].map(|i| vars[i].clone());
    let target = Var::constant(fixture_tensor(&case["tensors"]["target"]));
    let model: Sequential<f64> = Sequential::new()
        .push(Linear::from_parameters(w1.clone(), Some(b1.clone())).unwrap())
        .push(Tanh)
        .push(Linear::from_parameters(w2.clone(), Some(b2.clone())).unwrap())
        .push(Sigmoid);
    let loss = mse_loss(&model.forward(&x).unwrap(), &target, Reduction::Mean).unwrap();
    assert_rel_close(
        "loss",
        &[loss.item().unwrap()],
        &[case["loss"].as_f64().unwrap()],
        RTOL,
    );

    loss.backward_retain().unwrap();
    assert_grads(case, &names, &vars);

    // Hessian-vector product: H v = ∂/∂θ ⟨∂loss/∂θ, v⟩, with the first gradient recorded.
    let hvp = &case["hvp"];
    let wrt: Vec<String> = hvp["wrt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let theta: Vec<Var<f64>> = wrt
        .iter()
        .map(|n| vars[names.iter().position(|m| m == n).unwrap()].clone())
        .collect();
    let create = GradOptions {
        create_graph: true,
        ..Default::default()
    };
    let first = grad(std::slice::from_ref(&loss), &theta, None, create).unwrap();
    let mut dot = Var::scalar(0.0);
    for (g, (v, p)) in first
        .iter()
        .zip(hvp["v"].as_array().unwrap().iter().zip(&theta))
    {
        let v = Var::constant(Tensor::from_vec(floats(v), p.shape()).unwrap());
        dot = dot
            .add(&g.as_ref().unwrap().mul(&v).unwrap().sum())
            .unwrap();
    }
    let hv = grad(&[dot], &theta, None, GradOptions::default()).unwrap();
    for ((name, h), expected) in wrt.iter().zip(&hv).zip(hvp["hv"].as_array().unwrap()) {
        assert_rel_close(
            &format!("hv {name}"),
            h.as_ref().unwrap().value().data(),
            &floats(expected),
            RTOL,
        );
    }
}

#[test]
fn cross_entropy_on_large_logits() {
    let fixture = load_fixture("grad_reference.json");
    let case = &fixture["cases"]["cross_entropy_large_logits"];
    let logits = parameters(case, &["logits"]);
    let loss = cross_entropy(&logits[0], &usizes(&case["labels"])).unwrap();
    assert_rel_close(
        "loss",
        &[loss.item().unwrap()],
        &[case["loss"].as_f64().unwrap()],
        RTOL,
    );
    loss.backward().unwrap();
    assert_grads(case, &["logits"], &logits);
}

#[test]
fn cnn_conv_relu_maxpool_linear_cross_entropy() {
    let fixture = load_fixture("grad_reference.json");
    let case = &fixture["cases"]["cnn_conv_relu_maxpool_linear_ce"];
    let names = ["x", "conv_w", "conv_b", "lin_w", "lin_b"];
    let vars = parameters(case, &names);
    let conv = &case["conv"];
    let as_usize = |v: &serde_json::Value| v.as_u64().unwrap() as usize;
    let model: Sequential<f64> = Sequential::new()
        .push(
            Conv2d::from_parameters(vars[1].clone(), Some(vars[2].clone()))
                .unwrap()
                .stride(as_usize(&conv["stride"]))
                .padding(as_usize(&conv["padding"])),
        )
        .push(Relu)
        .push(MaxPool2d::new(as_usize(&conv["pool"])))
        .push(Flatten)
        .push(Linear::from_parameters(vars[3].clone(), Some(vars[4].clone())).unwrap());
    let logits = model.forward(&vars[0]).unwrap();
    let loss = cross_entropy(&logits, &usizes(&case["labels"])).unwrap();
    assert_rel_close(
        "loss",
        &[loss.item().unwrap()],
        &[case["loss"].as_f64().unwrap()],
        RTOL,
    );
    loss.backward().unwrap();
    assert_grads(case, &names, &vars);
}

/// Loads the PyTorch-saved CNN and compares its logits on the saved batch.
fn torch_cnn_logits<T: Float>(stem: &str, rtol: f64) {
    let weights = fixture_path(&format!("{stem}.safetensors"));
    let io = load_fixture(&format!("{stem}.json"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let model: Sequential<T> = Sequential::new()
        .push(Conv2d::new(1, 8, 3, &mut rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push(Linear::new(1352, 10, &mut rng));
    load_safetensors(&model, &weights).unwrap();
    let input = Tensor::from_vec(floats(&io["input"]), &usizes(&io["input_shape"])).unwrap();
    let logits = model.forward(&Var::constant(input.cast::<T>())).unwrap();
    assert_eq!(logits.shape(), usizes(&io["logits_shape"]).as_slice());
    let got: Vec<f64> = logits.value().data().iter().map(|x| x.to_f64()).collect();
    assert_rel_close(stem, &got, &floats(&io["logits"]), rtol);
}

#[test]
fn pytorch_cnn_weights_reproduce_pytorch_logits_f32() {
    torch_cnn_logits::<f32>("torch_cnn_f32", 1e-5);
}

#[test]
fn pytorch_cnn_weights_reproduce_pytorch_logits_f64() {
    torch_cnn_logits::<f64>("torch_cnn_f64", 1e-12);
}

#[test]
#[should_panic(expected = "python3 fixtures/generate.py no_such_fixture.json")]
fn a_missing_json_fixture_fails_naming_the_command_that_writes_it() {
    load_fixture("no_such_fixture.json");
}

#[test]
#[should_panic(expected = "python3 fixtures/generate.py no_such_weights.safetensors")]
fn a_missing_weights_fixture_fails_naming_the_command_that_writes_it() {
    fixture_path("no_such_weights.safetensors");
}
