//! The random generator a module draws from (dropout's masks), with a state
//! that is saved and restored exactly.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use rand::SeedableRng;
pub use rand_chacha::ChaCha12Rng;

/// A module's own random generator: ChaCha12, the generator behind rand's
/// `StdRng`, so `Generator::new(seed)` draws the stream of
/// `StdRng::seed_from_u64(seed)`. Its whole state is a [`GeneratorState`]
/// (the key, the stream and the position in it), read and set in O(1): a run
/// that stops and restores it draws on exactly as if it had not stopped.
///
/// It sits behind a lock so that a layer draws through `&self`.
///
/// ```
/// use rand::{Rng, SeedableRng, rngs::StdRng};
/// use tapegrad_nn::Generator;
/// let g = Generator::new(7);
/// let first: f64 = g.with(|rng| rng.random());
/// assert_eq!(first, StdRng::seed_from_u64(7).random::<f64>());
/// let saved = g.state();
/// let next: f64 = g.with(|rng| rng.random());
/// g.set_state(&saved);
/// assert_eq!(g.with(|rng| rng.random::<f64>()), next);
/// ```
#[derive(Debug)]
pub struct Generator(Mutex<ChaCha12Rng>);

impl Generator {
    /// The generator seeded with `seed` (as `StdRng::seed_from_u64`).
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(ChaCha12Rng::seed_from_u64(seed)))
    }

    /// Starts over from `seed`, as [`Generator::new`] would.
    pub fn reseed(&self, seed: u64) {
        *self.lock() = ChaCha12Rng::seed_from_u64(seed);
    }

    /// Its state now.
    pub fn state(&self) -> GeneratorState {
        GeneratorState::of(&self.lock())
    }

    /// Continues from a saved [`Generator::state`].
    pub fn set_state(&self, state: &GeneratorState) {
        *self.lock() = state.to_rng();
    }

    /// Runs `draw` on the generator (holding its lock).
    pub fn with<R>(&self, draw: impl FnOnce(&mut ChaCha12Rng) -> R) -> R {
        draw(&mut self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChaCha12Rng> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The whole state of a ChaCha12 generator: its 256-bit key (the seed), its
/// stream and the position of the next word in the stream.
///
/// It is written as one line, `<64 hex digits> <stream> <position>`, which
/// [`FromStr`] reads back:
///
/// ```
/// use rand::{Rng, SeedableRng};
/// use tapegrad_nn::{ChaCha12Rng, GeneratorState};
/// let mut rng = ChaCha12Rng::seed_from_u64(3);
/// let _: u32 = rng.random();
/// let text = GeneratorState::of(&rng).to_string();
/// assert!(text.ends_with(" 0 1"));
/// let mut back = text.parse::<GeneratorState>().unwrap().to_rng();
/// assert_eq!(back.random::<u64>(), rng.random::<u64>());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratorState {
    /// The key.
    pub seed: [u8; 32],
    /// The stream (the nonce).
    pub stream: u64,
    /// The position of the next 32-bit word, counted from the stream's start.
    pub word_pos: u128,
}

impl GeneratorState {
    /// The state of `rng`.
    pub fn of(rng: &ChaCha12Rng) -> Self {
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }

    /// A generator in this state.
    pub fn to_rng(&self) -> ChaCha12Rng {
        let mut rng = ChaCha12Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos);
        rng
    }
}

impl fmt::Display for GeneratorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.seed {
            write!(f, "{byte:02x}")?;
        }
        write!(f, " {} {}", self.stream, self.word_pos)
    }
}

/// Why a text is not a [`GeneratorState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a generator state (want <64 hex digits> <stream> <position>)")]
pub struct ParseGeneratorStateError;

impl FromStr for GeneratorState {
    type Err = ParseGeneratorStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(' ').collect();
        let [key, stream, pos] = parts[..] else {
            return Err(ParseGeneratorStateError);
        };
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseGeneratorStateError);
        }
        let mut seed = [0u8; 32];
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&key[2 * i..2 * i + 2], 16)
                .map_err(|_| ParseGeneratorStateError)?;
        }
        Ok(Self {
            seed,
            stream: decimal(stream)?,
            word_pos: decimal(pos)?,
        })
    }
}

/// A number of decimal digits only (no sign, no spaces).
fn decimal<N: FromStr>(text: &str) -> Result<N, ParseGeneratorStateError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseGeneratorStateError);
    }
    text.parse().map_err(|_| ParseGeneratorStateError)
}
