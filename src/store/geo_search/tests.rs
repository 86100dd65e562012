//! The neighbour-box scan against a naive scan of every member, and its order and limits.

use proptest::prelude::*;

use super::*;
use crate::store::geohash::{decode_score, encode_score};

fn set_of(positions: &[(f64, f64)]) -> SortedSet {
    SortedSet::from_distinct_pairs(positions.iter().enumerate().map(
        |(index, &(longitude, latitude))| {
            let score = encode_score(longitude, latitude).expect("a valid position") as f64;
            (Bytes::from(format!("m{index}")), score)
        },
    ))
}

fn radius(longitude: f64, latitude: f64, meters: f64) -> SearchArea {
    SearchArea { longitude, latitude, shape: Shape::Radius(meters), meters_per_unit: 1.0 }
}

/// Every member whose decoded position lies within the radius, by a scan of the whole set.
fn naive_radius(set: &SortedSet, area: &SearchArea) -> Vec<Bytes> {
    let Shape::Radius(meters) = area.shape else { unreachable!("radius searches only") };
    let mut members: Vec<Bytes> = set
        .iter()
        .filter(|(_, score)| {
            let (longitude, latitude) = decode_score(*score);
            distance(area.longitude, area.latitude, longitude, latitude)
                <= meters * area.meters_per_unit
        })
        .map(|(member, _)| member.clone())
        .collect();
    members.sort();
    members
}

#[test]
fn unsorted_order_is_cell_by_cell_then_by_score() {
    // Redis replied c, b, a... for these (see tests/differential/geo.redis); here: every
    // member found once, in ascending score within the centre's cell.
    let set =
        set_of(&[(-122.27652, 37.805186), (-122.2674626, 37.8062344), (-122.2469854, 37.8104049)]);
    let found = search(&set, &radius(-122.2612, 37.7994, 5000.0), 0);
    let members: Vec<&[u8]> = found.iter().map(|point| point.member.as_ref()).collect();
    assert_eq!(members, [b"m0".as_ref(), b"m1", b"m2"]);
    assert_eq!(distance_text_of(&found[0]), "1492.3");
}

fn distance_text_of(point: &Found) -> String {
    format!("{:.1}", point.distance_meters)
}

#[test]
fn a_limit_stops_the_scan_at_that_many_members() {
    let set = set_of(&[(0.0, 0.0), (0.0001, 0.0), (0.0002, 0.0), (0.0003, 0.0)]);
    assert_eq!(search(&set, &radius(0.0, 0.0, 1000.0), 2).len(), 2);
    assert_eq!(search(&set, &radius(0.0, 0.0, 1000.0), 0).len(), 4);
}

#[test]
fn boxes_keep_what_lies_within_half_the_width_and_height() {
    let set = set_of(&[(0.0, 0.0), (0.01, 0.0), (0.0, 0.01), (0.05, 0.05)]);
    let area = SearchArea {
        longitude: 0.0,
        latitude: 0.0,
        shape: Shape::Box { width: 3000.0, height: 1000.0 },
        meters_per_unit: 1.0,
    };
    let members: Vec<Bytes> =
        search(&set, &area, 0).into_iter().map(|point| point.member).collect();
    assert_eq!(members, [Bytes::from("m0"), Bytes::from("m1")]);
}

/// A longitude past the antimeridian, brought back into -180..180. Exactly 180 is avoided:
/// Redis encodes it past the last cell (its longitude index overflows into bit 53), so no
/// search finds a member there, in Redis as here.
fn wrap_longitude(longitude: f64) -> f64 {
    let wrapped = if longitude >= 180.0 {
        longitude - 360.0
    } else if longitude < -180.0 {
        longitude + 360.0
    } else {
        longitude
    };
    wrapped.clamp(-180.0, 179.999999)
}

#[test]
fn a_member_at_longitude_180_lies_past_every_cell_as_in_redis() {
    let set = set_of(&[(180.0, 0.0)]);
    assert!(search(&set, &radius(179.9, 0.0, 100_000.0), 0).is_empty());
}

proptest! {
    #[test]
    fn radius_search_finds_exactly_what_a_naive_scan_finds(
        center in (-179.0f64..179.0, -84.0f64..84.0),
        offsets in prop::collection::vec((-2.0f64..2.0, -2.0f64..2.0), 0..60),
        meters in prop_oneof![0.0f64..1000.0, 1000.0f64..300_000.0],
    ) {
        let positions: Vec<(f64, f64)> = offsets
            .iter()
            .map(|(east, north)| (wrap_longitude(center.0 + east), (center.1 + north).clamp(-85.0, 85.0)))
            .collect();
        let set = set_of(&positions);
        let area = radius(center.0, center.1, meters);
        let mut found: Vec<Bytes> = search(&set, &area, 0).into_iter().map(|point| point.member).collect();
        found.sort();
        let unique = found.len();
        found.dedup();
        prop_assert_eq!(unique, found.len(), "a member was found twice");
        prop_assert_eq!(found, naive_radius(&set, &area));
    }
}

proptest! {
    #[test]
    fn partial_sort_puts_the_sorted_values_at_the_asked_ranks(
        values in prop::collection::vec(0u8..20, 0..120),
        keep in 1usize..130,
    ) {
        let mut items = values.clone();
        let right = keep.min(values.len().max(1)) - 1;
        partial_sort(&mut items, &|a: &u8, b: &u8| a.cmp(b), 0, right);
        let mut sorted = values.clone();
        sorted.sort();
        let shown = (right + 1).min(values.len());
        prop_assert_eq!(&items[..shown], &sorted[..shown]);
        items.sort();
        prop_assert_eq!(items, sorted, "the items were permuted, not changed");
    }
}

#[test]
fn partial_sort_leaves_equal_elements_in_redis_order() {
    // Eleven members at one point, found in this order: GEOSEARCH ... COUNT 5 in
    // redis-server answered l, b, c, d, f (tests/differential/geo.redis).
    let mut items: Vec<(u8, char)> = "abcdfghijkl".chars().map(|name| (0, name)).collect();
    partial_sort(&mut items, &|a: &(u8, char), b: &(u8, char)| a.0.cmp(&b.0), 0, 4);
    let names: String = items[..5].iter().map(|(_, name)| *name).collect();
    assert_eq!(names, "lbcdf");
}
