//! Scores, coordinates, geohash strings and distances against what redis-server 7.0 replied
//! for the same positions (GEOADD, then ZRANGE WITHSCORES, GEOPOS, GEOHASH and GEODIST).

use super::*;
use crate::resp::format_human_long_double;

/// Positions GEOADD was given, with the score Redis stored, the GEOPOS texts it replied and
/// its GEOHASH string.
const REDIS_POSITIONS: &[(f64, f64, u64, &str, &str, &str)] = &[
    (
        13.361389,
        38.115556,
        3479099956230698,
        "13.36138933897018433",
        "38.11555639549629859",
        "sqc8b49rny0",
    ),
    (
        15.087269,
        37.502669,
        3479447370796909,
        "15.08726745843887329",
        "37.50266842333162032",
        "sqdtr74hyu0",
    ),
    (180.0, 85.05112878, 13510798882111488, "180", "85.0511287799999991", "bp05b5048p0"),
    (-180.0, -85.05112878, 0, "-179.99999731779098511", "-85.05112751263942528", "00bh0hbj200"),
    (0.0, 0.0, 3377699720527872, "0.00000268220901489", "0.00000126736058093", "s0000000000"),
    (
        -122.27652,
        37.805186,
        1367952638197536,
        "-122.27652043104171753",
        "37.80518485897756165",
        "9q9p1d0znt0",
    ),
    (
        -0.1278,
        51.5074,
        2163557714755072,
        "-0.12779921293258667",
        "51.50740077990133159",
        "gcpvj0duq50",
    ),
    (
        179.9999,
        0.5,
        4128321133537522,
        "179.99990075826644897",
        "0.50000036325177888",
        "xbpfzgpbtw0",
    ),
    (
        -179.9999,
        0.5,
        1125921381958232,
        "-179.99990075826644897",
        "0.50000036325177888",
        "8004b500dq0",
    ),
];

#[test]
fn geoadd_scores_are_redis_52_bit_interleaved_hashes() {
    for &(longitude, latitude, score, ..) in REDIS_POSITIONS {
        assert_eq!(encode_score(longitude, latitude), Some(score), "{longitude},{latitude}");
    }
}

#[test]
fn decoded_positions_print_as_redis_geopos() {
    for &(_, _, score, longitude, latitude, _) in REDIS_POSITIONS {
        let (decoded_longitude, decoded_latitude) = decode_score(score as f64);
        assert_eq!(format_human_long_double(decoded_longitude), longitude, "score {score}");
        assert_eq!(format_human_long_double(decoded_latitude), latitude, "score {score}");
    }
}

#[test]
fn geohash_strings_are_redis_standard_range_reencoding() {
    for &(_, _, score, _, _, hash) in REDIS_POSITIONS {
        assert_eq!(hash_string(score as f64), hash, "score {score}");
    }
}

#[test]
fn scores_no_geoadd_wrote_decode_as_x86_64_converts_them() {
    // ZADD'ed by hand in redis-server, then GEOPOS: -1 wraps to all ones, 1e300 and infinity
    // give 0, 9.3e18 sets the top bit, -infinity gives 2^63, 2^52 is the top latitude cell.
    let expected = [
        (-1.0, "180", "85.0511287799999991"),
        (1e300, "-179.99999731779098511", "-85.05112751263942528"),
        (9.3e18, "180", "85.0511287799999991"),
        (f64::INFINITY, "-179.99999731779098511", "-85.05112751263942528"),
        (f64::NEG_INFINITY, "180", "-85.05112751263942528"),
        (4503599627370496.0, "-179.99999731779098511", "85.0511287799999991"),
    ];
    for (score, longitude, latitude) in expected {
        let (decoded_longitude, decoded_latitude) = decode_score(score);
        assert_eq!(format_human_long_double(decoded_longitude), longitude, "score {score}");
        assert_eq!(format_human_long_double(decoded_latitude), latitude, "score {score}");
    }
    assert_eq!(hash_string(-1.0), "bp05b5048p0");
    assert_eq!(hash_string(f64::NEG_INFINITY), "00bh0hbj200");
}

#[test]
fn distances_are_redis_haversine_with_four_decimals() {
    let between = |first: usize, second: usize| {
        let (a, b) = (REDIS_POSITIONS[first].2 as f64, REDIS_POSITIONS[second].2 as f64);
        let ((longitude_1, latitude_1), (longitude_2, latitude_2)) =
            (decode_score(a), decode_score(b));
        distance(longitude_1, latitude_1, longitude_2, latitude_2)
    };
    // GEODIST Sicily Palermo Catania, in m and km; London to Oakland in mi; across the
    // antimeridian in ft.
    assert_eq!(distance_text(between(0, 1)), "166274.1516");
    assert_eq!(distance_text(between(0, 1) / 1000.0), "166.2742");
    assert_eq!(distance_text(between(6, 5) / 1609.34), "5349.5534");
    assert_eq!(distance_text(between(7, 8) / 0.3048), "72.4270");
    assert_eq!(distance_text(0.0), "0.0000");
    assert_eq!(distance_text(0.00004), "0.0000");
    assert_eq!(distance_text(6.064_295_159_839_17e-5), "0.0001");
    assert_eq!(distance_text(12.5), "12.5000");
}

#[test]
fn the_same_longitude_measures_along_the_meridian() {
    let meridian = distance(10.0, 1.0, 10.0, 2.0);
    assert_eq!(meridian, latitude_distance(1.0, 2.0));
    assert!((meridian - 111226.3).abs() < 1.0, "{meridian}");
}

#[test]
fn neighbours_are_adjacent_cells_and_wrap_around() {
    let hash = encode(WGS84_LONGITUDE, WGS84_LATITUDE, 0.0, 0.0, 2).unwrap();
    let center = decode(WGS84_LONGITUDE, WGS84_LATITUDE, hash).unwrap();
    let [north, south, east, west, ..] =
        neighbours(hash).map(|cell| decode(WGS84_LONGITUDE, WGS84_LATITUDE, cell).unwrap());
    assert_eq!(north.latitude.min, center.latitude.max);
    assert_eq!(south.latitude.max, center.latitude.min);
    assert_eq!(east.longitude.min, center.longitude.max);
    assert_eq!(west.longitude.max, center.longitude.min);
    let eastmost = encode(WGS84_LONGITUDE, WGS84_LATITUDE, 179.0, 0.0, 3).unwrap();
    let wrapped = decode(WGS84_LONGITUDE, WGS84_LATITUDE, neighbours(eastmost)[2]).unwrap();
    assert_eq!(wrapped.longitude.min, -180.0);
}

#[test]
fn positions_outside_the_mercator_limits_do_not_encode() {
    assert_eq!(encode_score(180.1, 0.0), None);
    assert_eq!(encode_score(0.0, 85.06), None);
    assert_eq!(encode_score(0.0, -85.06), None);
    assert!(encode_score(-180.0, -85.05112878).is_some());
}
