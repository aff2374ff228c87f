//! Buffers and freezing: batch norm's running statistics under PyTorch's
//! names, saved and loaded with safetensors (a PyTorch-written file too),
//! never among the parameters; frozen parameters get no gradient.

mod common;

use common::{assert_rel_close, fixture_path, fixture_tensor, floats, load_fixture, randn};
use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::{
    BatchNorm1d, BatchNorm2d, BufferValue, Dropout2d, Embedding, Linear, LoadProblem, Module,
    NnError, Relu, Sequential, load_safetensors, save_safetensors,
};
use tapegrad_tape::{Tensor, Var};

fn mlp_with_batch_norm(seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Linear::new(4, 6, &mut rng))
        .push(BatchNorm1d::new(6))
        .push(Relu)
        .push(Linear::new(6, 3, &mut rng))
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "tapegrad-buffers-{name}-{}.safetensors",
        std::process::id()
    ))
}

#[test]
fn buffers_are_named_as_pytorch_and_are_not_parameters() {
    let model = mlp_with_batch_norm(0);
    let buffers: Vec<String> = model.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers,
        ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    );
    let params: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        params,
        [
            "0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"
        ]
    );
    assert!(
        BatchNorm2d::<f64>::new(3)
            .without_running_stats()
            .named_buffers()
            .is_empty()
    );
}

#[test]
fn training_moves_the_buffers_and_evaluation_does_not() {
    let model = mlp_with_batch_norm(1);
    let x = Var::constant(randn(&[8, 4], 2));
    model.forward(&x).unwrap();
    model.forward(&x).unwrap();
    let after_train = model.named_buffers();
    assert_eq!(after_train[2].1.value(), BufferValue::Count(2));
    let BufferValue::Float(mean) = after_train[0].1.value() else {
        panic!()
    };
    assert!(mean.data().iter().all(|&m| m != 0.0));
    model.eval();
    let y1 = model.forward(&x).unwrap().value();
    let y2 = model.forward(&x).unwrap().value();
    assert_eq!(y1, y2);
    assert_eq!(model.named_buffers()[2].1.value(), BufferValue::Count(2));
}

#[test]
fn a_refused_batch_is_not_counted() {
    let bn = BatchNorm1d::<f64>::new(3);
    let err = bn.forward(&Var::constant(randn(&[1, 3], 3))).unwrap_err();
    assert!(
        err.to_string().contains("more than 1 value per channel"),
        "{err}"
    );
    assert_eq!(bn.named_buffers()[2].1.value(), BufferValue::Count(0));
    let err = bn.forward(&Var::constant(randn(&[4, 5], 3))).unwrap_err();
    assert!(err.to_string().contains("3 channels"), "{err}");
    assert!(
        bn.forward(&Var::constant(randn(&[4, 3, 2, 2], 3))).is_err(),
        "rank 4 is BatchNorm2d's"
    );
}

#[test]
fn buffers_round_trip_through_safetensors() {
    let a = mlp_with_batch_norm(4);
    for k in 0..3 {
        a.forward(&Var::constant(randn(&[8, 4], 10 + k))).unwrap();
    }
    let path = temp("roundtrip");
    save_safetensors(&a, &path).unwrap();
    let b = mlp_with_batch_norm(5);
    load_safetensors(&b, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    for ((na, ba), (nb, bb)) in a.named_buffers().into_iter().zip(b.named_buffers()) {
        assert_eq!(na, nb);
        assert_eq!(ba.value(), bb.value(), "{na}");
    }
    Module::<f64>::eval(&a);
    b.eval();
    let x = Var::constant(randn(&[3, 4], 20));
    assert_eq!(
        a.forward(&x).unwrap().value(),
        b.forward(&x).unwrap().value()
    );
}

#[test]
fn a_file_without_the_buffers_is_refused_naming_them() {
    let path = temp("missing");
    let mut rng = StdRng::seed_from_u64(6);
    let no_bn = Sequential::<f64>::new()
        .push(Linear::new(4, 6, &mut rng))
        .push(tapegrad_nn::LayerNorm::new(&[6]))
        .push(Relu)
        .push(Linear::new(6, 3, &mut rng));
    save_safetensors(&no_bn, &path).unwrap();
    let model = mlp_with_batch_norm(7);
    let before = model.named_buffers()[1].1.value();
    let err = load_safetensors(&model, &path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    let NnError::StateMismatch { problems, .. } = err else {
        panic!("{err}")
    };
    let missing: Vec<&str> = (problems.iter())
        .filter_map(|p| match p {
            LoadProblem::Missing { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        missing,
        ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    );
    assert_eq!(
        model.named_buffers()[1].1.value(),
        before,
        "nothing changed"
    );
}

/// PyTorch's file: float64 tensors and an int64 `num_batches_tracked`.
#[test]
fn a_pytorch_model_with_batch_norm_loads_and_gives_its_outputs() {
    let io = load_fixture("layers_reference.json")["saved_model"].clone();
    let model = mlp_with_batch_norm(8);
    load_safetensors(&model, fixture_path(io["file"].as_str().unwrap())).unwrap();
    assert_eq!(model.named_buffers()[2].1.value(), BufferValue::Count(3));
    model.eval();
    let y = model
        .forward(&Var::constant(fixture_tensor(&io["input"])))
        .unwrap();
    assert_rel_close(
        "eval output",
        y.value().data(),
        &floats(&io["eval_output"]["value"]),
        1e-12,
    );
    // Written back, the same bytes PyTorch wrote.
    let path = temp("pytorch");
    save_safetensors(&model, &path).unwrap();
    let ours = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let theirs = std::fs::read(fixture_path(io["file"].as_str().unwrap())).unwrap();
    assert_eq!(ours, theirs);
}

#[test]
fn frozen_parameters_get_no_gradient_in_a_model() {
    let model = mlp_with_batch_norm(9);
    model.layers()[0].set_requires_grad(false).unwrap();
    let x = Var::constant(randn(&[8, 4], 30));
    model.forward(&x).unwrap().sum().backward().unwrap();
    for (name, p) in model.named_parameters() {
        assert_eq!(p.grad().is_some(), !name.starts_with("0."), "{name}");
    }
    model.set_requires_grad(false).unwrap();
    assert!(!model.forward(&x).unwrap().requires_grad());
    model.set_requires_grad(true).unwrap();
    assert!(model.parameters().iter().all(|p| p.requires_grad()));
    // A layer over a constant cannot be switched, and says so.
    let over_constant =
        Linear::from_parameters(Var::constant(Tensor::<f64>::ones(&[2, 2])), None).unwrap();
    assert!(over_constant.set_requires_grad(false).is_err());
}

#[test]
fn dropout2d_drops_whole_channels_reproducibly() {
    let x = Var::constant(Tensor::<f64>::ones(&[8, 16, 2, 3]));
    let a = Dropout2d::new(0.25, 11).unwrap();
    let b = Dropout2d::new(0.25, 11).unwrap();
    let ya = a.forward(&x).unwrap().value();
    assert_eq!(ya, b.forward(&x).unwrap().value());
    let kept = ya.data().chunks(6).filter(|c| c[0] != 0.0).count();
    assert!((64..=128).contains(&kept), "{kept} of 128 channels kept");
    for plane in ya.data().chunks(6) {
        assert!(
            plane.iter().all(|&v| v == plane[0]) && (plane[0] == 0.0 || plane[0] == 1.0 / 0.75)
        );
    }
    assert_eq!(Module::<f64>::generator_states(&a)[0].0, "generator");
    Module::<f64>::eval(&a);
    assert_eq!(a.forward(&x).unwrap().value(), x.value());
    assert!(
        a.forward(&Var::constant(Tensor::<f64>::ones(&[4, 4])))
            .is_err()
    );
    assert!(Dropout2d::new(1.5, 0).is_err());
}

#[test]
fn embedding_refuses_indices_that_are_not_rows() {
    let emb = Embedding::<f64>::new(5, 2, &mut StdRng::seed_from_u64(0));
    for bad in [5.0, -1.0, 1.5, f64::NAN] {
        let x = Var::constant(Tensor::from_vec(vec![0.0, bad], &[2]).unwrap());
        let err = emb.forward(&x).unwrap_err();
        assert!(err.to_string().contains("whole numbers in [0, 5)"), "{err}");
    }
    assert!(
        Embedding::<f64>::new(5, 2, &mut StdRng::seed_from_u64(0))
            .padding_idx(5)
            .is_err()
    );
    assert!(Embedding::from_parameters(Var::parameter(Tensor::<f64>::ones(&[5]))).is_err());
}

/// A model of one's own holding a list and a map: dotted names through both,
/// modes reaching inside, and a summary with the traced shapes.
struct Heads {
    blocks: tapegrad_nn::ModuleList<f64>,
    heads: tapegrad_nn::ModuleDict<f64>,
}

impl Module<f64> for Heads {
    fn forward(&self, x: &Var<f64>) -> tapegrad_nn::Result<Var<f64>> {
        let mut h = x.clone();
        for block in self.blocks.iter() {
            h = block.forward(&h)?;
        }
        self.heads.get("digits").unwrap().forward(&h)
    }
    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<f64>)) {
        visit("blocks", &self.blocks);
        visit("heads", &self.heads);
    }
}

fn heads() -> Heads {
    let mut rng = StdRng::seed_from_u64(12);
    let mut blocks = tapegrad_nn::ModuleList::new();
    blocks.push(
        Sequential::new()
            .push(Linear::new(4, 4, &mut rng))
            .push(BatchNorm1d::new(4)),
    );
    blocks.push(tapegrad_nn::Dropout::new(0.5, 1).unwrap());
    let mut heads = tapegrad_nn::ModuleDict::new();
    heads
        .insert("digits", Linear::new(4, 10, &mut rng))
        .unwrap();
    heads.insert("parity", Linear::new(4, 2, &mut rng)).unwrap();
    Heads { blocks, heads }
}

#[test]
fn lists_and_maps_name_their_modules_and_pass_modes_down() {
    let model = heads();
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "blocks.0.0.weight",
            "blocks.0.0.bias",
            "blocks.0.1.weight",
            "blocks.0.1.bias",
            "heads.digits.weight",
            "heads.digits.bias",
            "heads.parity.weight",
            "heads.parity.bias",
        ]
    );
    assert_eq!(model.named_buffers()[0].0, "blocks.0.1.running_mean");
    assert_eq!(model.generator_states()[0].0, "blocks.1.generator");
    model.eval();
    let x = Var::constant(randn(&[3, 4], 13));
    let y = model.forward(&x).unwrap();
    assert_eq!(y.shape(), &[3, 10]);
    assert_eq!(
        model.named_buffers()[2].1.value(),
        BufferValue::Count(0),
        "eval reached the batch norm"
    );
    let err = model.blocks.forward(&x).unwrap_err();
    assert!(err.to_string().contains("no forward of its own"), "{err}");
    let mut dict = tapegrad_nn::ModuleDict::<f64>::new();
    for bad in ["", "a.b"] {
        assert!(dict.insert(bad, Relu).is_err(), "{bad:?}");
    }
    // Saved and loaded by those names.
    let path = temp("containers");
    save_safetensors(&model, &path).unwrap();
    let other = heads();
    load_safetensors(&other, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    other.eval();
    assert_eq!(other.forward(&x).unwrap().value(), y.value());
}

#[test]
fn the_summary_lists_modules_shapes_and_counts() {
    let model = heads();
    model
        .heads
        .get("parity")
        .unwrap()
        .set_requires_grad(false)
        .unwrap();
    model.eval();
    let s = tapegrad_nn::summary(&model, &Var::constant(randn(&[5, 4], 14))).unwrap();
    let names: Vec<&str> = s.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "",
            "blocks",
            "blocks.0",
            "blocks.0.0",
            "blocks.0.1",
            "blocks.1",
            "heads",
            "heads.digits",
            "heads.parity"
        ]
    );
    assert_eq!(s.rows[0].layer, "Heads");
    assert_eq!(s.rows[0].output_shape, Some(vec![5, 10]));
    assert_eq!(s.rows[3].layer, "Linear");
    assert_eq!(s.rows[3].parameters, 20);
    assert_eq!(s.total_parameters, 20 + 8 + 50 + 10);
    assert_eq!(s.trainable_parameters, 20 + 8 + 40 + 10);
    assert_eq!(s.buffer_elements, 4 + 4 + 1);
    // A Sequential reports its layers' outputs.
    let mut rng = StdRng::seed_from_u64(15);
    let seq = Sequential::<f64>::new()
        .push(Linear::new(4, 6, &mut rng))
        .push(Relu)
        .push(Linear::new(6, 2, &mut rng));
    let s = tapegrad_nn::summary(&seq, &Var::constant(randn(&[7, 4], 16))).unwrap();
    let shapes: Vec<Option<Vec<usize>>> = s.rows.iter().map(|r| r.output_shape.clone()).collect();
    assert_eq!(
        shapes,
        [
            Some(vec![7, 2]),
            Some(vec![7, 6]),
            Some(vec![7, 6]),
            Some(vec![7, 2])
        ]
    );
    let text = s.to_string();
    assert!(
        text.contains("  Linear (0)") && text.contains("Total parameters: 44"),
        "{text}"
    );
}
