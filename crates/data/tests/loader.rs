//! Minibatching, splitting and standardization.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tapegrad_data::{DataError, Dataset, Loader, Standardizer, batches};
use tapegrad_tape::Tensor;

/// N samples of shape [2, 3] whose every element is the sample's index, so a
/// batch says which samples it holds.
fn indexed(n: usize) -> Dataset<f64> {
    let data = (0..n).flat_map(|i| [i as f64; 6]).collect();
    let labels = (0..n).map(|i| i % 3).collect();
    Dataset::new(Tensor::from_vec(data, &[n, 2, 3]).unwrap(), labels, 3).unwrap()
}

/// The sample indices of each batch, checking the batch is consistent.
fn sample_ids(ds: &Dataset<f64>, batch: &(Tensor<f64>, Vec<usize>)) -> Vec<usize> {
    let (x, y) = batch;
    assert_eq!(x.shape()[1..], [2, 3]);
    assert_eq!(x.shape()[0], y.len());
    x.data()
        .chunks(6)
        .zip(y)
        .map(|(sample, &label)| {
            assert!(sample.iter().all(|&v| v == sample[0]));
            let id = sample[0] as usize;
            assert_eq!(ds.labels()[id], label);
            id
        })
        .collect()
}

#[test]
fn every_sample_appears_exactly_once_per_epoch() {
    let ds = indexed(103);
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..3 {
        let epoch: Vec<_> = batches(&ds, 10, true, false, &mut rng).unwrap().collect();
        let sizes: Vec<usize> = epoch.iter().map(|b| b.1.len()).collect();
        assert_eq!(sizes, [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
        let mut ids: Vec<usize> = epoch.iter().flat_map(|b| sample_ids(&ds, b)).collect();
        assert_ne!(ids, (0..103).collect::<Vec<_>>(), "shuffled");
        ids.sort_unstable();
        assert_eq!(ids, (0..103).collect::<Vec<_>>());
    }
}

#[test]
fn drop_last_drops_only_a_short_final_batch() {
    let ds = indexed(103);
    let mut rng = StdRng::seed_from_u64(0);
    let kept = batches(&ds, 10, true, true, &mut rng).unwrap();
    assert_eq!(kept.len(), 10);
    let order = kept.order().to_vec();
    let ids: Vec<usize> = kept.flat_map(|b| sample_ids(&ds, &b)).collect();
    assert_eq!(ids, order[..100]);
    let hundred = indexed(100);
    assert_eq!(
        batches(&hundred, 10, false, true, &mut rng).unwrap().len(),
        10
    );
    let seven = indexed(7);
    assert_eq!(
        batches(&seven, 10, false, true, &mut rng).unwrap().count(),
        0
    );
    assert_eq!(
        batches(&seven, 10, false, false, &mut rng).unwrap().count(),
        1
    );
}

#[test]
fn unshuffled_batches_are_in_order_and_leave_the_rng_alone() {
    let ds = indexed(25);
    let mut rng = StdRng::seed_from_u64(9);
    let ids: Vec<usize> = batches(&ds, 8, false, false, &mut rng)
        .unwrap()
        .flat_map(|b| sample_ids(&ds, &b))
        .collect();
    assert_eq!(ids, (0..25).collect::<Vec<_>>());
    let untouched: u64 = rng.random();
    assert_eq!(untouched, StdRng::seed_from_u64(9).random::<u64>());
}

#[test]
fn shuffling_is_determined_by_the_rng_state() {
    let ds = indexed(50);
    let epochs = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        let loader = Loader::new(&ds, 7).unwrap().shuffle(true);
        (0..3)
            .map(|_| {
                loader
                    .epoch(&mut rng)
                    .flat_map(|b| sample_ids(&ds, &b))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let a = epochs(42);
    assert_eq!(a, epochs(42));
    assert_ne!(a, epochs(43));
    assert_ne!(a[0], a[1], "each epoch draws a new permutation");
}

#[test]
fn loader_reports_its_batch_count_and_rejects_batch_size_zero() {
    let ds = indexed(10);
    let loader = Loader::new(&ds, 4).unwrap();
    assert_eq!(loader.num_batches(), 3);
    assert_eq!(loader.drop_last(true).num_batches(), 2);
    let mut rng = StdRng::seed_from_u64(0);
    assert_eq!(loader.epoch(&mut rng).len(), 3);
    assert!(matches!(
        Loader::new(&ds, 0),
        Err(DataError::InvalidArgument {
            name: "batch_size",
            ..
        })
    ));
    assert!(batches(&ds, 0, false, false, &mut rng).is_err());
}

#[test]
fn channel_dim_and_flatten_give_cnn_and_mlp_shapes() {
    let ds = indexed(4).reshaped(&[4, 3, 2]).unwrap();
    let cnn = ds.with_channel_dim().unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let (x, _) = batches(&cnn, 3, false, false, &mut rng)
        .unwrap()
        .next()
        .unwrap();
    assert_eq!(x.shape(), &[3, 1, 3, 2]);
    let mlp = ds.flatten();
    let (x, _) = batches(&mlp, 3, false, false, &mut rng)
        .unwrap()
        .next()
        .unwrap();
    assert_eq!(x.shape(), &[3, 6]);
    assert!(mlp.with_channel_dim().is_err());
    assert!(ds.reshaped(&[2, 12]).is_err());
}

#[test]
fn train_test_split_is_a_seeded_partition() {
    let ds = indexed(10);
    let (train, test) = ds.train_test_split(3, 0.25).unwrap();
    assert_eq!((train.len(), test.len()), (7, 3)); // ceil(2.5) = 3 test samples
    let ids = |d: &Dataset<f64>| {
        d.features()
            .data()
            .chunks(6)
            .map(|s| s[0] as usize)
            .collect::<Vec<_>>()
    };
    let mut all = [ids(&train), ids(&test)].concat();
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    let (train2, test2) = ds.train_test_split(3, 0.25).unwrap();
    assert_eq!((ids(&train), ids(&test)), (ids(&train2), ids(&test2)));
    let (_, other) = ds.train_test_split(4, 0.25).unwrap();
    assert_ne!(ids(&test), ids(&other));
    for bad in [0.0, 1.0, -0.5, f64::NAN, 0.95] {
        assert!(ds.train_test_split(0, bad).is_err(), "{bad}");
    }
}

#[test]
fn standardizer_uses_train_statistics_on_test() {
    let x = Tensor::from_vec(vec![0.0, 10.0, 2.0, 10.0, 4.0, 10.0], &[3, 2]).unwrap();
    let train = Dataset::new(x, vec![0, 0, 1], 2).unwrap();
    let test = Dataset::new(
        Tensor::from_vec(vec![6.0, 11.0], &[1, 2]).unwrap(),
        vec![1],
        2,
    )
    .unwrap();
    let s = Standardizer::fit_per_feature(&train).unwrap();
    let sigma = (8.0f64 / 3.0).sqrt(); // population std of 0, 2, 4
    assert_eq!(s.mean().data(), &[2.0, 10.0]);
    assert!((s.std().data()[0] - sigma).abs() < 1e-15);
    assert_eq!(s.std().data()[1], 1.0);
    let t = s.apply(&test).unwrap();
    assert!((t.features().data()[0] - 4.0 / sigma).abs() < 1e-15);
    assert_eq!(t.features().data()[1], 1.0);
    let z = s.apply(&train).unwrap();
    let col0: f64 = z.features().data().iter().step_by(2).sum();
    assert!(col0.abs() < 1e-15);

    let g = Standardizer::fit_global(&train).unwrap();
    assert_eq!(g.mean().data(), &[6.0]);
    let g_test = g.apply(&test).unwrap();
    let g_sigma = g.std().data()[0];
    assert!((g_test.features().data()[1] - 5.0 / g_sigma).abs() < 1e-15);

    let wrong = Dataset::new(Tensor::<f64>::zeros(&[1, 3]), vec![0], 2).unwrap();
    assert!(s.apply(&wrong).is_err());
    assert!(g.apply(&wrong).is_ok());
    let empty = Dataset::new(Tensor::<f64>::zeros(&[0, 2]), vec![], 2).unwrap();
    assert!(Standardizer::fit_per_feature(&empty).is_err());
}

#[test]
fn dataset_new_checks_its_parts() {
    assert!(Dataset::new(Tensor::<f32>::zeros(&[3, 2]), vec![0, 1], 2).is_err());
    assert!(Dataset::new(Tensor::<f32>::zeros(&[2, 2]), vec![0, 2], 2).is_err());
    assert!(Dataset::new(Tensor::<f32>::scalar(1.0), vec![], 1).is_err());
    let ds = Dataset::new(Tensor::<f32>::ones(&[2, 2]), vec![1, 1], 3).unwrap();
    assert_eq!(ds.class_counts(), vec![0, 2, 0]);
    assert_eq!(ds.cast::<f64>().features().data(), &[1.0; 4]);
    assert_eq!(ds.scale(0.5).features().data(), &[0.5; 4]);
}
