//! A layer's generator: dropout draws rand's `StdRng` stream for its seed (so
//! no mask changed when it moved to a generator with a readable state), a
//! reseed starts it over, and saved states go back by name or not at all.

use rand::{Rng, SeedableRng, rngs::StdRng};
use tapegrad_nn::{Dropout, Linear, Module, NnError, Relu, Sequential};
use tapegrad_tape::{Tensor, Var};

fn mask(drop: &Dropout, n: usize) -> Vec<f64> {
    let x = Var::constant(Tensor::<f64>::ones(&[n]));
    drop.forward(&x).unwrap().value().data().to_vec()
}

#[test]
fn dropout_draws_the_std_rng_stream_of_its_seed() {
    let drop = Dropout::new(0.25, 11).unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let expected: Vec<f64> = (0..257)
        .map(|_| {
            if rng.random::<f64>() >= 0.25 {
                1.0 / 0.75
            } else {
                0.0
            }
        })
        .collect();
    assert_eq!(mask(&drop, 257), expected);
}

#[test]
fn a_reseed_or_a_saved_state_replays_the_masks() {
    let drop = Dropout::new(0.5, 3).unwrap();
    let first = mask(&drop, 64);
    let saved = <Dropout as Module<f64>>::generator_states(&drop);
    let second = mask(&drop, 64);
    assert_ne!(first, second);
    drop.reseed(3);
    assert_eq!(mask(&drop, 64), first);
    <Dropout as Module<f64>>::set_generator_states(&drop, &saved).unwrap();
    assert_eq!(mask(&drop, 64), second);
}

#[test]
fn states_go_back_by_name_or_not_at_all() {
    let mut rng = StdRng::seed_from_u64(0);
    let inner = Sequential::<f64>::new().push(Dropout::new(0.5, 1).unwrap());
    let model = Sequential::new()
        .push(Linear::new(2, 2, &mut rng))
        .push(Relu)
        .push(inner)
        .push(Dropout::new(0.5, 2).unwrap());
    let saved = model.generator_states();
    let names: Vec<&str> = saved.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["2.0.generator", "3.generator"]);

    let mut wrong = saved.clone();
    wrong[1].0 = "4.generator".into();
    let before = model.generator_states();
    let err = model.set_generator_states(&wrong).unwrap_err();
    let NnError::GeneratorMismatch {
        missing,
        unexpected,
    } = err
    else {
        panic!("{err}");
    };
    assert_eq!(
        (missing, unexpected),
        (
            vec!["3.generator".to_string()],
            vec!["4.generator".to_string()]
        )
    );
    assert_eq!(
        model.generator_states(),
        before,
        "a refused state changed a generator"
    );
}
