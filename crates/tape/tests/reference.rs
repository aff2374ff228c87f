//! The MLP case of the PyTorch fixture `grad_reference.json`, built from tape ops
//! alone: loss, every gradient and a Hessian-vector product within 1e-10.
//! (The CNN and large-logit cases are checked in conv.rs and softmax.rs.)

mod common;

use common::{assert_close, fixture, fixture_tensor, floats};
use tapegrad_tape::{GradOptions, Result, Tensor, Var, grad};

/// sigmoid(tanh(x w1ᵀ + b1) w2ᵀ + b2), loss = mean((z − target)²).
fn mlp_loss(p: &[Var<f64>], target: &Var<f64>) -> Result<Var<f64>> {
    let (x, w1, b1, w2, b2) = (&p[0], &p[1], &p[2], &p[3], &p[4]);
    let h = x.matmul_t(w1, false, true)?.add(b1)?.tanh();
    let z = h.matmul_t(w2, false, true)?.add(b2)?.sigmoid();
    Ok(z.sub(target)?.powf(2.0).mean())
}

#[test]
fn mlp_loss_gradients_and_hessian_vector_product_match_pytorch() {
    let json = fixture("grad_reference.json");
    let case = &json["cases"]["mlp_tanh_sigmoid_mse"];
    let names = ["x", "w1", "b1", "w2", "b2"];
    let params: Vec<Var<f64>> = names
        .iter()
        .map(|n| Var::parameter(fixture_tensor(&case["tensors"][n])))
        .collect();
    let target = Var::constant(fixture_tensor(&case["tensors"]["target"]));

    let loss = mlp_loss(&params, &target).unwrap();
    let want_loss = case["loss"].as_f64().unwrap();
    assert_close("loss", &[loss.item().unwrap()], &[want_loss], 1e-10);

    let opts = GradOptions {
        create_graph: true,
        ..Default::default()
    };
    let grads = grad(&[loss], &params, None, opts).unwrap();
    for (name, g) in names.iter().zip(&grads) {
        let got = g.as_ref().unwrap().value().into_vec();
        assert_close(name, &got, &floats(&case["grads"][name]), 1e-10);
    }

    // H v with respect to the weights: the gradient of ⟨∇_w f, v⟩.
    let hvp = &case["hvp"];
    let wrt: Vec<&str> = hvp["wrt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let index = |n: &str| names.iter().position(|m| *m == n).unwrap();
    let mut dot = Var::scalar(0.0);
    for (k, n) in wrt.iter().enumerate() {
        let g = grads[index(n)].as_ref().unwrap();
        let v = Var::constant(Tensor::from_vec(floats(&hvp["v"][k]), g.shape()).unwrap());
        dot = dot.add(&g.mul(&v).unwrap().sum()).unwrap();
    }
    let weights: Vec<Var<f64>> = wrt.iter().map(|n| params[index(n)].clone()).collect();
    let hv = grad(&[dot], &weights, None, GradOptions::default()).unwrap();
    for (k, n) in wrt.iter().enumerate() {
        let got = hv[k].as_ref().unwrap().value().into_vec();
        assert_close(&format!("Hv[{n}]"), &got, &floats(&hvp["hv"][k]), 1e-10);
    }
}

#[test]
#[should_panic(expected = "python3 fixtures/generate.py no_such_fixture.json")]
fn a_missing_fixture_fails_naming_the_command_that_writes_it() {
    fixture("no_such_fixture.json");
}
