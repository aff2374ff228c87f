//! Dense and parameter-free layers, Dropout and Sequential: values, gradient
//! checks (first and second order), names and modes.

mod common;

use common::{check_both, randn};
use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::{Dropout, Flatten, Linear, Module, NnError, Relu, Sequential, Sigmoid, Tanh};
use tapegrad_tape::{Tensor, Var};

#[test]
fn linear_computes_x_w_transpose_plus_b() {
    let w = Tensor::from_vec(vec![1.0, 2.0, 3.0, -1.0, 0.0, 1.0], &[2, 3]).unwrap();
    let b = Tensor::from_vec(vec![0.5, -0.5], &[2]).unwrap();
    let layer = Linear::from_parameters(Var::parameter(w), Some(Var::parameter(b))).unwrap();
    let x = Var::constant(Tensor::from_vec(vec![1.0, 1.0, 1.0, 2.0, 0.0, -1.0], &[2, 3]).unwrap());
    let y = layer.forward(&x).unwrap();
    assert_eq!(y.shape(), &[2, 2]);
    assert_eq!(y.value().data(), &[6.5, -0.5, -0.5, -3.5]);
}

#[test]
fn linear_keeps_leading_batch_axes() {
    let layer = Linear::<f64>::new(3, 4, &mut StdRng::seed_from_u64(0));
    let x = randn(&[2, 5, 3], 1);
    let y = layer.forward(&Var::constant(x.clone())).unwrap();
    assert_eq!(y.shape(), &[2, 5, 4]);
    let flat = layer
        .forward(&Var::constant(x.reshape(&[10, 3]).unwrap()))
        .unwrap();
    assert_eq!(y.value().data(), flat.value().data());
    let single = layer.forward(&Var::constant(randn(&[3], 2))).unwrap();
    assert_eq!(single.shape(), &[4]);
}

#[test]
fn linear_rejects_wrong_input_and_parameter_shapes() {
    let layer = Linear::<f64>::new(3, 4, &mut StdRng::seed_from_u64(0));
    let err = layer
        .forward(&Var::constant(Tensor::zeros(&[2, 5])))
        .unwrap_err();
    assert!(
        err.to_string().contains("[2, 5]") && err.to_string().contains("[4, 3]"),
        "{err}"
    );
    let w = Var::parameter(Tensor::<f64>::zeros(&[4, 3]));
    let b = Var::parameter(Tensor::<f64>::zeros(&[3]));
    assert!(Linear::from_parameters(w.clone(), Some(b)).is_err());
    assert!(Linear::from_parameters(Var::parameter(Tensor::<f64>::zeros(&[4])), None).is_err());
    assert!(Linear::from_parameters(w, None).is_ok());
}

#[test]
fn linear_gradients_check() {
    let inputs = [randn(&[4, 3], 1), randn(&[2, 3], 2), randn(&[2], 3)];
    check_both(
        "Linear",
        |v| Linear::from_parameters(v[1].clone(), Some(v[2].clone()))?.forward(&v[0]),
        &inputs,
    );
    check_both(
        "Linear without bias, batched",
        |v| Linear::from_parameters(v[1].clone(), None)?.forward(&v[0]),
        &[randn(&[2, 2, 3], 4), randn(&[2, 3], 5)],
    );
}

#[test]
fn activations_and_flatten_gradients_check() {
    // Away from 0 so ReLU's kink is not crossed by the finite differences.
    let x = Tensor::from_vec(vec![-1.5, 0.3, 2.0, -0.4, 0.9, -2.2], &[2, 3]).unwrap();
    check_both("Relu", |v| Relu.forward(&v[0]), std::slice::from_ref(&x));
    check_both(
        "Sigmoid",
        |v| Sigmoid.forward(&v[0]),
        std::slice::from_ref(&x),
    );
    check_both("Tanh", |v| Tanh.forward(&v[0]), std::slice::from_ref(&x));
    check_both(
        "Flatten",
        |v| Flatten.forward(&v[0]),
        &[randn(&[2, 3, 2], 1)],
    );
}

#[test]
fn activations_compute_their_functions() {
    let x = Var::constant(Tensor::from_vec(vec![-1.0f64, 0.0, 2.0], &[3]).unwrap());
    assert_eq!(Relu.forward(&x).unwrap().value().data(), &[0.0, 0.0, 2.0]);
    let s = Sigmoid.forward(&x).unwrap().value();
    assert!((s.data()[2] - 1.0 / (1.0 + (-2f64).exp())).abs() < 1e-15);
    assert_eq!(Tanh.forward(&x).unwrap().value().data()[0], (-1f64).tanh());
}

#[test]
fn flatten_keeps_the_batch_axis() {
    let x = Var::constant(Tensor::<f64>::arange(24).reshape(&[2, 3, 2, 2]).unwrap());
    let y = Flatten.forward(&x).unwrap();
    assert_eq!(y.shape(), &[2, 12]);
    assert_eq!(y.value().data(), x.value().data());
    assert!(
        Flatten
            .forward(&Var::constant(Tensor::<f64>::zeros(&[5])))
            .is_err()
    );
}

#[test]
fn dropout_train_scales_kept_elements_and_eval_is_identity() {
    let p = 0.3;
    let drop = Dropout::new(p, 7).unwrap();
    assert!(drop.is_training());
    let x = Var::constant(Tensor::<f64>::full(&[20_000], 2.0));
    let y = drop.forward(&x).unwrap().value();
    let scaled = 2.0 / (1.0 - p);
    assert!(
        y.data()
            .iter()
            .all(|&v| v == 0.0 || (v - scaled).abs() < 1e-12)
    );
    let dropped = y.data().iter().filter(|&&v| v == 0.0).count() as f64 / 20_000.0;
    // 5 standard errors of a Bernoulli(0.3) proportion over 20 000 draws.
    assert!(
        (dropped - p).abs() < 5.0 * (p * (1.0 - p) / 20_000.0f64).sqrt(),
        "{dropped}"
    );
    Module::<f64>::eval(&drop);
    assert!(!drop.is_training());
    assert!(drop.forward(&x).unwrap().same(&x));
}

#[test]
fn dropout_is_deterministic_per_seed_and_fresh_per_call() {
    let x = Var::constant(Tensor::<f32>::ones(&[64]));
    let a = Dropout::new(0.5, 3).unwrap();
    let b = Dropout::new(0.5, 3).unwrap();
    let c = Dropout::new(0.5, 4).unwrap();
    let a1 = a.forward(&x).unwrap().value();
    assert_eq!(a1, b.forward(&x).unwrap().value());
    assert_ne!(a1, c.forward(&x).unwrap().value());
    // The generator advances: a second call draws another mask.
    assert_ne!(a1, a.forward(&x).unwrap().value());
}

#[test]
fn dropout_extremes_and_validation() {
    let x = Var::constant(Tensor::<f64>::ones(&[8]));
    assert_eq!(
        Dropout::new(1.0, 0)
            .unwrap()
            .forward(&x)
            .unwrap()
            .value()
            .data(),
        &[0.0; 8]
    );
    assert_eq!(
        Dropout::new(0.0, 0)
            .unwrap()
            .forward(&x)
            .unwrap()
            .value()
            .data(),
        &[1.0; 8]
    );
    for bad in [-0.1, 1.5, f64::NAN] {
        assert!(matches!(
            Dropout::new(bad, 0),
            Err(NnError::InvalidArgument { name: "p", .. })
        ));
    }
}

#[test]
fn dropout_gradient_uses_the_same_mask() {
    // A fresh layer with the same seed gives every evaluation the same mask.
    check_both(
        "Dropout",
        |v| Dropout::new(0.4, 11)?.forward(&v[0]),
        &[randn(&[3, 4], 1)],
    );
    let x = Var::parameter(Tensor::<f64>::ones(&[100]));
    let y = Dropout::new(0.5, 2).unwrap().forward(&x).unwrap();
    y.sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), y.value().data());
}

/// A module with a child Sequential and a parameter of its own.
struct Net {
    scale: Var<f64>,
    body: Sequential<f64>,
}

impl Module<f64> for Net {
    fn forward(&self, x: &Var<f64>) -> tapegrad_nn::Result<Var<f64>> {
        Ok(self.body.forward(x)?.mul(&self.scale)?)
    }
    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<f64>)) {
        visit("scale", &self.scale);
    }
    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<f64>)) {
        visit("body", &self.body);
    }
}

fn net() -> Net {
    let mut rng = StdRng::seed_from_u64(0);
    Net {
        scale: Var::parameter(Tensor::scalar(2.0)),
        body: Sequential::new()
            .push(Linear::new(3, 4, &mut rng))
            .push(Dropout::new(0.5, 1).unwrap())
            .push(
                Sequential::new()
                    .push(Tanh)
                    .push(Linear::new(4, 2, &mut rng).without_bias()),
            ),
    }
}

#[test]
fn named_parameters_are_dotted_like_pytorch() {
    let names: Vec<String> = net()
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["scale", "body.0.weight", "body.0.bias", "body.2.1.weight"]
    );
    let model = net();
    let params = model.parameters();
    assert_eq!(params.len(), 4);
    assert!(params[1].same(model.body.layers()[0].parameters().first().unwrap()));
}

#[test]
fn train_and_eval_reach_nested_dropout() {
    let model = net();
    let x = Var::constant(randn(&[50, 3], 1));
    model.eval();
    let a = model.forward(&x).unwrap().value();
    let b = model.forward(&x).unwrap().value();
    assert_eq!(a, b, "eval mode must be deterministic");
    model.train();
    let c = model.forward(&x).unwrap().value();
    assert_ne!(a, c, "train mode must drop");
}

#[test]
fn sequential_chains_and_backpropagates() {
    let mut rng = StdRng::seed_from_u64(5);
    let model: Sequential<f64> = Sequential::new()
        .push(Linear::new(3, 5, &mut rng))
        .push(Relu)
        .push(Linear::new(5, 2, &mut rng));
    assert_eq!(model.len(), 3);
    let x = Var::constant(randn(&[4, 3], 2));
    let manual = model.layers()[2]
        .forward(
            &model.layers()[1]
                .forward(&model.layers()[0].forward(&x).unwrap())
                .unwrap(),
        )
        .unwrap();
    let y = model.forward(&x).unwrap();
    assert_eq!(y.value(), manual.value());
    y.sum().backward().unwrap();
    assert!(model.parameters().iter().all(|p| p.grad().is_some()));
    let empty = Sequential::<f64>::new();
    assert!(empty.is_empty() && empty.forward(&x).unwrap().same(&x));
}

#[test]
fn modules_are_shareable_between_threads() {
    fn assert_send_sync<M: Send + Sync>(_: &M) {}
    let model = net();
    assert_send_sync(&model);
    let boxed: Box<dyn Module<f64>> = Box::new(net());
    std::thread::scope(|s| {
        s.spawn(|| boxed.eval());
    });
}

/// Each activation module is its tape op, with PyTorch's defaults and no
/// parameters.
#[test]
fn activation_modules_are_their_ops_with_pytorchs_defaults() {
    use tapegrad_nn::{Elu, Gelu, Hardswish, LeakyRelu, Mish, Silu, Softplus};
    use tapegrad_tape::GeluApproximate;
    let x = Var::constant(Tensor::from_vec(vec![-2.5f64, -0.4, 0.0, 0.7, 3.5], &[5]).unwrap());
    let same = |m: &dyn Module<f64>, want: Var<f64>| {
        assert!(m.named_parameters().is_empty());
        assert_eq!(
            m.forward(&x).unwrap().value(),
            want.value(),
            "{}",
            want.op_name()
        );
    };
    same(&Gelu::default(), x.gelu(GeluApproximate::None));
    same(
        &Gelu {
            approximate: GeluApproximate::Tanh,
        },
        x.gelu(GeluApproximate::Tanh),
    );
    same(&Silu, x.silu());
    same(&Softplus::default(), x.softplus(1.0, 20.0));
    same(
        &Softplus {
            beta: 2.0,
            threshold: 1.0,
        },
        x.softplus(2.0, 1.0),
    );
    same(&Elu::default(), x.elu(1.0));
    same(&LeakyRelu::default(), x.leaky_relu(0.01));
    same(&Mish, x.mish());
    same(&Hardswish, x.hardswish());
}

/// Identity, Softmax and LogSoftmax are their ops; every layer prints its
/// name, parameter shapes and children, never the values.
#[test]
fn identity_softmax_and_debug_of_every_layer() {
    use tapegrad_nn::{Conv2d, Identity, LogSoftmax, MaxPool2d, Softmax};
    let x = randn(&[2, 3], 5);
    let v = Var::constant(x.clone());
    assert_eq!(Identity.forward(&v).unwrap().value(), x);
    assert_eq!(
        Softmax { dim: 1 }.forward(&v).unwrap().value(),
        v.softmax(1).unwrap().value()
    );
    assert_eq!(
        LogSoftmax { dim: -1 }.forward(&v).unwrap().value(),
        v.log_softmax(-1).unwrap().value()
    );
    check_both(
        "Softmax",
        |v| Softmax { dim: 0 }.forward(&v[0]),
        std::slice::from_ref(&x),
    );
    let mut rng = StdRng::seed_from_u64(0);
    let model = Sequential::<f64>::new()
        .push(Conv2d::new(1, 2, 3, &mut rng))
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push(Dropout::new(0.5, 1).unwrap())
        .push(Linear::new(8, 3, &mut rng).without_bias())
        .push(Identity);
    assert_eq!(
        format!("{model:?}"),
        "Sequential { 0: Conv2d { weight: [2, 1, 3, 3], bias: [2] }, 1: MaxPool2d, 2: Flatten, \
         3: Dropout { generator: Generator }, 4: Linear { weight: [3, 8] }, 5: Identity }"
    );
}
