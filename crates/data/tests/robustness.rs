//! Arbitrary and mutated inputs: the readers return `Ok` or `Err`, never panic.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tapegrad_data::{IdxArray, IdxData, LibsvmReader};

#[test]
fn idx_reader_survives_mutated_and_truncated_files() {
    let valid = IdxArray::new(&[3, 2, 2], IdxData::I16((0..12).collect()))
        .unwrap()
        .to_bytes();
    let mut rng = StdRng::seed_from_u64(11);
    for _ in 0..5000 {
        let mut bytes = valid.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..bytes.len());
            bytes[i] = rng.random();
        }
        bytes.truncate(rng.random_range(0..=bytes.len()));
        let _ = IdxArray::read(&bytes[..]);
    }
    for len in 0..64 {
        let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let _ = IdxArray::read(&noise[..]);
    }
}

#[test]
fn libsvm_reader_survives_random_text() {
    let alphabet = b"0123456789+-.:eE# \t\nqidnaf,\r";
    let mut rng = StdRng::seed_from_u64(12);
    let mut accepted = 0;
    for _ in 0..5000 {
        let len = rng.random_range(0..40);
        let text: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        accepted += usize::from(LibsvmReader::new().read::<f32, _>(&text[..]).is_ok());
    }
    // Blank and comment-only inputs parse; most random lines do not.
    assert!(accepted > 0 && accepted < 5000, "{accepted}");
}
