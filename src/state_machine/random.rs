//! Random choices that replicas agree on.
//!
//! A write that chooses at random (SPOP, SRANDMEMBER inside a transaction, ...) must choose the
//! same on every replica, so its generator is seeded from the entry's index and the request's
//! place in the entry. A read never enters the log, so its choice need not be the same on every
//! replica; it only has to differ from call to call, which a per-thread counter mixed with the
//! view's time gives without reading a clock in the state machine.

use std::cell::Cell;

use xxhash_rust::xxh3::xxh3_64;

/// A small, fast generator (SplitMix64): statistically good enough for picking members, and
/// fully determined by its seed.
#[derive(Clone, Debug)]
pub struct Random {
    state: u64,
}

impl Random {
    /// A generator starting from `seed`; equal seeds draw equal numbers.
    pub fn from_seed(seed: u64) -> Random {
        Random { state: seed }
    }

    /// A generator for a read at `now_ms`; see the module docs for why this may differ per node.
    pub fn for_read(now_ms: u64) -> Random {
        thread_local! {
            static DRAWS: Cell<u64> = const { Cell::new(0) };
        }
        let draw = DRAWS.with(|draws| {
            let draw = draws.get().wrapping_add(1);
            draws.set(draw);
            draw
        });
        Random::from_seed(mix(now_ms, draw))
    }

    /// The next number (SplitMix64).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.state;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }

    /// A number in `0..bound`, uniformly (Lemire's multiply-and-reject). `bound` must be > 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "a random choice needs at least one option");
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }
}

/// Hashes two numbers into a seed.
pub(super) fn mix(first: u64, second: u64) -> u64 {
    let mut material = [0u8; 16];
    material[..8].copy_from_slice(&first.to_le_bytes());
    material[8..].copy_from_slice(&second.to_le_bytes());
    xxh3_64(&material)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_numbers() {
        let mut first = Random::from_seed(42);
        let mut second = Random::from_seed(42);
        let draws: Vec<u64> = (0..10).map(|_| first.below(1000)).collect();
        assert_eq!(draws, (0..10).map(|_| second.below(1000)).collect::<Vec<_>>());
    }

    #[test]
    fn draws_below_a_bound_cover_it_evenly() {
        let mut random = Random::from_seed(7);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[random.below(4) as usize] += 1;
        }
        assert!(counts.iter().all(|count| (9_000..11_000).contains(count)), "{counts:?}");
    }
}
