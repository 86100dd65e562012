//! Redis's geohash: how a longitude and latitude become a sorted-set score and back, the
//! distance between two points, and the texts GEOPOS, GEOHASH and GEODIST reply with.
//!
//! A geo set is a sorted set whose scores are 52-bit geohashes. A point is placed on a grid of
//! 2^26 × 2^26 cells over longitudes -180..180 and latitudes -85.05112878..85.05112878 (the
//! Web Mercator limits: Redis cannot index the poles); the cell's latitude index takes the
//! even bits of the hash and its longitude index the odd bits, so cells close on the map are
//! mostly close in score. A hash of fewer steps (`step` bits per axis) names a bigger cell,
//! the prefix of every hash inside it, which is what the neighbour-box search relies on (see
//! `geo_search`). Decoding gives the centre of the cell, so a coordinate read back differs
//! from the one written by up to half a cell (about 0.3 m).
//!
//! Every operation here follows Redis 7.0's `geohash.c` and `geohash_helper.c` step for step,
//! floating-point operations in the same order, so scores, coordinates and distances are the
//! same doubles as Redis's, bit for bit: `sin`, `cos`, `asin` and `sqrt` are the platform's
//! libm, as Redis's are.
//!
//! Invariants: every function is total; a score that no GEOADD wrote (any double, from ZADD)
//! still decodes, as C's conversion of that double to a 64-bit integer does on x86-64
//! ([`score_bits`]), so GEOPOS of such a member answers what Redis answers.

pub use crate::command::geo::{
    is_valid_position, LATITUDE_MAX, LATITUDE_MIN, LONGITUDE_MAX, LONGITUDE_MIN,
};

/// The bits per axis of a stored hash: 26, so 52 in all, which a double holds exactly.
pub const STEP_MAX: u8 = 26;
/// The Earth's radius Redis uses in every distance, in meters.
pub const EARTH_RADIUS_METERS: f64 = 6372797.560856;

/// Degrees to radians, as C's `M_PI / 180.0`.
const RADIANS_PER_DEGREE: f64 = std::f64::consts::PI / 180.0;

/// A geohash of `step` bits per axis: latitude bits even, longitude bits odd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeoHash {
    /// The interleaved bits, `2 * step` of them in use.
    pub bits: u64,
    /// Bits per axis, 1 to 26; 0 with `bits` 0 marks a cell the search skips.
    pub step: u8,
}

impl GeoHash {
    /// The marker of a neighbour the search does not need (Redis's `GZERO`).
    pub const NONE: GeoHash = GeoHash { bits: 0, step: 0 };

    /// Whether this is [`GeoHash::NONE`] (Redis's `HASHISZERO`).
    pub fn is_none(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash shifted to 52 bits: the lowest score of every point inside this cell.
    pub fn aligned_52_bits(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

/// An interval of one coordinate, in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The lower end.
    pub min: f64,
    /// The upper end.
    pub max: f64,
}

/// The cell a geohash names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    /// The cell's longitudes.
    pub longitude: Interval,
    /// The cell's latitudes.
    pub latitude: Interval,
}

/// The longitudes and latitudes Redis's geo sets cover.
pub const WGS84_LONGITUDE: Interval = Interval { min: LONGITUDE_MIN, max: LONGITUDE_MAX };
/// The latitudes Redis's geo sets cover.
pub const WGS84_LATITUDE: Interval = Interval { min: LATITUDE_MIN, max: LATITUDE_MAX };
/// The standard geohash latitudes, which GEOHASH's strings use.
const STANDARD_LATITUDE: Interval = Interval { min: -90.0, max: 90.0 };

/// Spreads the 32 bits of `even` over the even bits and those of `odd` over the odd bits.
fn interleave(even: u32, odd: u32) -> u64 {
    spread(even) | (spread(odd) << 1)
}

/// Bit `i` of `value` moved to bit `2i`.
fn spread(value: u32) -> u64 {
    let mut bits = u64::from(value);
    for (shift, mask) in [
        (16, 0x0000_FFFF_0000_FFFF_u64),
        (8, 0x00FF_00FF_00FF_00FF),
        (4, 0x0F0F_0F0F_0F0F_0F0F),
        (2, 0x3333_3333_3333_3333),
        (1, 0x5555_5555_5555_5555),
    ] {
        bits = (bits | (bits << shift)) & mask;
    }
    bits
}

/// The inverse of [`spread`]: the even bits of `bits` gathered into 32.
fn gather(bits: u64) -> u32 {
    let mut bits = bits & 0x5555_5555_5555_5555;
    for (shift, mask) in [
        (1, 0x3333_3333_3333_3333_u64),
        (2, 0x0F0F_0F0F_0F0F_0F0F),
        (4, 0x00FF_00FF_00FF_00FF),
        (8, 0x0000_FFFF_0000_FFFF),
        (16, 0x0000_0000_FFFF_FFFF),
    ] {
        bits = (bits | (bits >> shift)) & mask;
    }
    bits as u32
}

/// The hash of `step` bits per axis of the cell holding the point, over the given ranges;
/// `None` where Redis's `geohashEncode` fails (a step out of 1..=32, a point outside the
/// WGS84 limits or the ranges).
pub fn encode(
    longitude_range: Interval,
    latitude_range: Interval,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<GeoHash> {
    if step == 0 || step > 32 || !is_valid_position(longitude, latitude) {
        return None;
    }
    if latitude < latitude_range.min
        || latitude > latitude_range.max
        || longitude < longitude_range.min
        || longitude > longitude_range.max
    {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let latitude_offset =
        (latitude - latitude_range.min) / (latitude_range.max - latitude_range.min) * cells;
    let longitude_offset =
        (longitude - longitude_range.min) / (longitude_range.max - longitude_range.min) * cells;
    // C converts the offsets to uint32_t by truncation; they lie in 0..=2^step.
    Some(GeoHash { bits: interleave(latitude_offset as u32, longitude_offset as u32), step })
}

/// The 52-bit hash GEOADD stores as the score of a valid position.
pub fn encode_score(longitude: f64, latitude: f64) -> Option<u64> {
    encode(WGS84_LONGITUDE, WGS84_LATITUDE, longitude, latitude, STEP_MAX)
        .map(GeoHash::aligned_52_bits)
}

/// The cell `hash` names over the given ranges; `None` for [`GeoHash::NONE`].
pub fn decode(longitude_range: Interval, latitude_range: Interval, hash: GeoHash) -> Option<Area> {
    if hash.is_none() {
        return None;
    }
    let cells = (1u64 << hash.step) as f64;
    let latitude_index = gather(hash.bits);
    let longitude_index = gather(hash.bits >> 1);
    let latitude_scale = latitude_range.max - latitude_range.min;
    let longitude_scale = longitude_range.max - longitude_range.min;
    // C adds 1 to the uint32_t index, wrapping, before it turns it into a double.
    let edge = |index: u32, range: Interval, scale: f64| range.min + (index as f64 / cells) * scale;
    Some(Area {
        latitude: Interval {
            min: edge(latitude_index, latitude_range, latitude_scale),
            max: edge(latitude_index.wrapping_add(1), latitude_range, latitude_scale),
        },
        longitude: Interval {
            min: edge(longitude_index, longitude_range, longitude_scale),
            max: edge(longitude_index.wrapping_add(1), longitude_range, longitude_scale),
        },
    })
}

/// The 64-bit integer C's `(uint64_t)score` gives on x86-64, where Redis runs: truncation
/// toward zero below 2^63 (through a signed conversion, so a negative score wraps and a NaN
/// or one at or below -2^63 gives 2^63), and above it the signed conversion of `score - 2^63`
/// with the top bit flipped (so 2^64 and beyond, infinity included, give 0).
pub fn score_bits(score: f64) -> u64 {
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    fn signed_truncation(value: f64) -> u64 {
        if !(-TWO_TO_63..TWO_TO_63).contains(&value) {
            1 << 63
        } else {
            value as i64 as u64
        }
    }
    if score >= TWO_TO_63 {
        signed_truncation(score - TWO_TO_63) ^ (1 << 63)
    } else {
        signed_truncation(score)
    }
}

/// The position a score stands for: the centre of its 26-step cell, clamped to the limits.
pub fn decode_score(score: f64) -> (f64, f64) {
    let hash = GeoHash { bits: score_bits(score), step: STEP_MAX };
    let area = decode(WGS84_LONGITUDE, WGS84_LATITUDE, hash).expect("a 26-step hash is a cell");
    let longitude = ((area.longitude.min + area.longitude.max) / 2.0).clamp(-180.0, 180.0);
    let latitude =
        ((area.latitude.min + area.latitude.max) / 2.0).clamp(LATITUDE_MIN, LATITUDE_MAX);
    (longitude, latitude)
}

/// The bits of an interleaved hash that hold the longitude (the odd ones, from the top) and
/// the latitude (the even ones).
const LONGITUDE_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;
const LATITUDE_BITS: u64 = 0x5555_5555_5555_5555;

/// The hash one cell east (`direction` 1) or west (-1), wrapping around the grid.
fn move_longitude(hash: &mut GeoHash, direction: i8) {
    move_along(hash, direction, LONGITUDE_BITS, LATITUDE_BITS);
}

/// The hash one cell north (`direction` 1) or south (-1), wrapping around the grid.
fn move_latitude(hash: &mut GeoHash, direction: i8) {
    move_along(hash, direction, LATITUDE_BITS, LONGITUDE_BITS);
}

/// Adds `direction` to the coordinate held in the `axis` bits, leaving the `other` bits as
/// they are: the `other` bits are filled with ones so that the carry (or borrow) runs over
/// them, then masked off again.
fn move_along(hash: &mut GeoHash, direction: i8, axis: u64, other: u64) {
    let shift = 64 - u32::from(hash.step) * 2;
    let mut moved = hash.bits & axis;
    let kept = hash.bits & other;
    let filler = other >> shift;
    if direction > 0 {
        moved = moved.wrapping_add(filler + 1);
    } else {
        moved = (moved | filler).wrapping_sub(filler + 1);
    }
    moved &= axis >> shift;
    hash.bits = moved | kept;
}

/// The eight cells around `hash`, in the order the search visits them: north, south, east,
/// west, north-east, north-west, south-east, south-west.
pub fn neighbours(hash: GeoHash) -> [GeoHash; 8] {
    let moved = |longitude: i8, latitude: i8| {
        let mut neighbour = hash;
        if longitude != 0 {
            move_longitude(&mut neighbour, longitude);
        }
        if latitude != 0 {
            move_latitude(&mut neighbour, latitude);
        }
        neighbour
    };
    [
        moved(0, 1),
        moved(0, -1),
        moved(1, 0),
        moved(-1, 0),
        moved(1, 1),
        moved(-1, 1),
        moved(1, -1),
        moved(-1, -1),
    ]
}

/// Degrees to radians.
pub fn radians(degrees: f64) -> f64 {
    degrees * RADIANS_PER_DEGREE
}

/// Radians to degrees.
pub fn degrees(radians: f64) -> f64 {
    radians / RADIANS_PER_DEGREE
}

/// The distance along a meridian between two latitudes, in meters.
pub fn latitude_distance(latitude_1: f64, latitude_2: f64) -> f64 {
    EARTH_RADIUS_METERS * (radians(latitude_2) - radians(latitude_1)).abs()
}

/// The great-circle distance between two points in meters (haversine), as Redis computes it:
/// along the meridian when the longitudes are the same.
pub fn distance(longitude_1: f64, latitude_1: f64, longitude_2: f64, latitude_2: f64) -> f64 {
    let longitude_half = ((radians(longitude_2) - radians(longitude_1)) / 2.0).sin();
    if longitude_half == 0.0 {
        return latitude_distance(latitude_1, latitude_2);
    }
    let (latitude_1, latitude_2) = (radians(latitude_1), radians(latitude_2));
    let latitude_half = ((latitude_2 - latitude_1) / 2.0).sin();
    let a = latitude_half * latitude_half
        + latitude_1.cos() * latitude_2.cos() * longitude_half * longitude_half;
    2.0 * EARTH_RADIUS_METERS * a.sqrt().asin()
}

/// GEOHASH's 11-character string for a stored score: the position re-encoded over the
/// standard latitudes -90..90, five bits a character, the 11th always `0` (52 bits fill
/// only ten and a half).
pub fn hash_string(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (longitude, latitude) = decode_score(score);
    let bits = encode(WGS84_LONGITUDE, STANDARD_LATITUDE, longitude, latitude, STEP_MAX)
        .map_or(0, |hash| hash.bits);
    (0..11)
        .map(|index| {
            let digit = if index == 10 { 0 } else { (bits >> (52 - (index + 1) * 5)) & 0x1f };
            char::from(ALPHABET[digit as usize])
        })
        .collect()
}

/// A distance as Redis 7.0 replies with it (`fixedpoint_d2string`, 4 digits): the value times
/// 10^4 rounded to an integer (ties to even, as `llrint`), written with 4 decimals.
pub fn distance_text(distance: f64) -> String {
    if distance == 0.0 {
        return "0.0000".to_owned();
    }
    let scaled = (distance * 10_000.0).round_ties_even();
    // llrint of a value beyond a long long gives LLONG_MIN on x86-64.
    let scaled = if scaled.abs() < 9.223_372_036_854_775e18 { scaled as i64 } else { i64::MIN };
    let magnitude = scaled.unsigned_abs();
    let sign = if scaled < 0 { "-" } else { "" };
    format!("{sign}{}.{:04}", magnitude / 10_000, magnitude % 10_000)
}

#[cfg(test)]
mod tests;
