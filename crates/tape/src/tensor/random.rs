//! Seeded random tensors. Every constructor takes the generator explicitly, so a
//! run is reproduced by reusing its seed.

use rand::Rng;

use super::Tensor;
use crate::float::Float;
use crate::shape::Shape;

impl<T: Float> Tensor<T> {
    /// Elements drawn from U(low, high).
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let t = tapegrad_tape::Tensor::<f64>::rand_uniform(&[100], -1.0, 1.0, &mut rng);
    /// assert!(t.data().iter().all(|&x| (-1.0..1.0).contains(&x)));
    /// ```
    pub fn rand_uniform<R: Rng + ?Sized>(shape: &[usize], low: T, high: T, rng: &mut R) -> Self {
        let (lo, hi) = (low.to_f64(), high.to_f64());
        let data = (0..crate::shape::numel(shape))
            .map(|_| T::from_f64(lo + (hi - lo) * rng.random::<f64>()))
            .collect();
        Self::from_parts(data, Shape::from_slice(shape))
    }

    /// Elements drawn from N(mean, std²) by the Box–Muller transform.
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let t = tapegrad_tape::Tensor::<f64>::rand_normal(&[10_000], 0.0, 1.0, &mut rng);
    /// assert!((t.sum_all() / 10_000.0).abs() < 0.05);
    /// ```
    pub fn rand_normal<R: Rng + ?Sized>(shape: &[usize], mean: T, std: T, rng: &mut R) -> Self {
        let n = crate::shape::numel(shape);
        let mut data = Vec::with_capacity(n);
        while data.len() < n {
            // 1 - u lies in (0, 1], so the logarithm is finite.
            let u1 = 1.0 - rng.random::<f64>();
            let u2 = rng.random::<f64>();
            let radius = (-2.0 * u1.ln()).sqrt();
            let angle = std::f64::consts::TAU * u2;
            for z in [radius * angle.cos(), radius * angle.sin()] {
                if data.len() < n {
                    data.push(T::from_f64(mean.to_f64() + std.to_f64() * z));
                }
            }
        }
        Self::from_parts(data, Shape::from_slice(shape))
    }
}
