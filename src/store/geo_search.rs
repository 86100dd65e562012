//! The geo searches' scan of a sorted set: which cells cover the area, which members of those
//! cells lie inside it, and in what order, as Redis 7.0 finds them.
//!
//! Redis does not scan the whole set. It picks a geohash precision at which one cell is about
//! as big as the search (`estimate_steps`), takes the cell of the centre and its eight
//! neighbours, drops the neighbours the area cannot reach, and reads each remaining cell as a
//! score range of the sorted set (every hash with the cell's prefix). Each member found is
//! kept if it lies inside the circle or box. So the unsorted order of a reply is: cell by cell
//! (centre, north, south, east, west, north-east, north-west, south-east, south-west), and by
//! score within a cell. A neighbour equal to the one read just before it is skipped, as Redis
//! skips it (comparing with the previous cell read, never with the centre).
//!
//! Invariant: [`search`] returns exactly the members inside the shape, each once, for every
//! shape Redis's cells cover (the proptest in the tests checks it against a scan of every
//! member).

use std::cmp::Ordering;

use bytes::Bytes;

use super::geohash::{
    self, decode, degrees, distance, encode, latitude_distance, neighbours, radians, Area, GeoHash,
    EARTH_RADIUS_METERS, WGS84_LATITUDE, WGS84_LONGITUDE,
};
use super::SortedSet;
pub use crate::command::geo::Shape;

/// The size of Web Mercator's world in meters, which bounds the cell size estimate.
const MERCATOR_MAX: f64 = 20037726.37;

/// A search: the centre, the area in its unit, and the unit's meters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchArea {
    /// The centre's longitude.
    pub longitude: f64,
    /// The centre's latitude.
    pub latitude: f64,
    /// The circle or box, in the unit.
    pub shape: Shape,
    /// Meters per unit.
    pub meters_per_unit: f64,
}

/// A member inside the area.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The member.
    pub member: Bytes,
    /// Its score: its 52-bit geohash.
    pub score: f64,
    /// Its decoded longitude.
    pub longitude: f64,
    /// Its decoded latitude.
    pub latitude: f64,
    /// Its distance from the centre, in meters.
    pub distance_meters: f64,
}

/// Redis's `geohashEstimateStepsByRadius`: the precision at which a cell is about as big as
/// `range_meters`, coarser towards the poles.
fn estimate_steps(range_meters: f64, latitude: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut range_meters = range_meters;
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&latitude) {
        step -= 1;
        if !(-80.0..=80.0).contains(&latitude) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Redis's `geohashBoundingBox`: west, south, east and north limits of the area, in degrees.
fn bounding_box(area: &SearchArea) -> [f64; 4] {
    let (height, width) = match area.shape {
        Shape::Radius(radius) => (area.meters_per_unit * radius, area.meters_per_unit * radius),
        Shape::Box { width, height } => {
            (area.meters_per_unit * (height / 2.0), area.meters_per_unit * (width / 2.0))
        }
    };
    let latitude_delta = degrees(height / EARTH_RADIUS_METERS);
    let longitude_delta_top =
        degrees(width / EARTH_RADIUS_METERS / radians(area.latitude + latitude_delta).cos());
    let longitude_delta_bottom =
        degrees(width / EARTH_RADIUS_METERS / radians(area.latitude - latitude_delta).cos());
    // The widest edge is the one nearer the equator.
    let longitude_delta =
        if area.latitude < 0.0 { longitude_delta_bottom } else { longitude_delta_top };
    [
        area.longitude - longitude_delta,
        area.latitude - latitude_delta,
        area.longitude + longitude_delta,
        area.latitude + latitude_delta,
    ]
}

/// The cell of the centre at `step` and its eight neighbours, and the centre cell's area.
fn cells_at(area: &SearchArea, step: u8) -> (GeoHash, [GeoHash; 8], Area) {
    let hash = encode(WGS84_LONGITUDE, WGS84_LATITUDE, area.longitude, area.latitude, step)
        .unwrap_or(GeoHash { bits: 0, step });
    let cell = decode(WGS84_LONGITUDE, WGS84_LATITUDE, hash)
        .unwrap_or(Area { longitude: WGS84_LONGITUDE, latitude: WGS84_LATITUDE });
    (hash, neighbours(hash), cell)
}

/// Redis's `geohashCalculateAreasByShapeWGS84`: the nine cells to read, centre first, with
/// [`GeoHash::NONE`] for those the area cannot reach.
pub fn covering_cells(area: &SearchArea) -> [GeoHash; 9] {
    let [west, south, east, north] = bounding_box(area);
    let radius_meters = match area.shape {
        Shape::Radius(radius) => radius,
        Shape::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * area.meters_per_unit;
    let mut step = estimate_steps(radius_meters, area.latitude);
    let (mut hash, mut around, mut cell) = cells_at(area, step);
    // A neighbour may still not reach the area's edge; one step coarser then.
    let edge = |hash: GeoHash| decode(WGS84_LONGITUDE, WGS84_LATITUDE, hash);
    let [north_cell, south_cell, east_cell, west_cell] =
        [around[0], around[1], around[2], around[3]].map(edge);
    let too_small = north_cell.is_some_and(|cell| cell.latitude.max < north)
        || south_cell.is_some_and(|cell| cell.latitude.min > south)
        || east_cell.is_some_and(|cell| cell.longitude.max < east)
        || west_cell.is_some_and(|cell| cell.longitude.min > west);
    if step > 1 && too_small {
        step -= 1;
        (hash, around, cell) = cells_at(area, step);
    }
    if step >= 2 {
        // Indexes into `around`: north 0, south 1, east 2, west 3, north-east 4,
        // north-west 5, south-east 6, south-west 7.
        let mut drop =
            |indexes: [usize; 3]| indexes.iter().for_each(|i| around[*i] = GeoHash::NONE);
        if cell.latitude.min < south {
            drop([1, 7, 6]);
        }
        if cell.latitude.max > north {
            drop([0, 4, 5]);
        }
        if cell.longitude.min < west {
            drop([3, 7, 5]);
        }
        if cell.longitude.max > east {
            drop([2, 6, 4]);
        }
    }
    let mut cells = [GeoHash::NONE; 9];
    cells[0] = hash;
    cells[1..].copy_from_slice(&around);
    cells
}

/// Where the member of `score` lies and how far from the centre, if inside the area.
fn inside(area: &SearchArea, score: f64) -> Option<(f64, f64, f64)> {
    let (longitude, latitude) = geohash::decode_score(score);
    let meters = area.meters_per_unit;
    let found = match area.shape {
        Shape::Radius(radius) => {
            let distance = distance(area.longitude, area.latitude, longitude, latitude);
            (distance <= radius * meters).then_some(distance)
        }
        Shape::Box { width, height } => {
            let (width, height) = (width * meters, height * meters);
            if latitude_distance(latitude, area.latitude) > height / 2.0
                || distance(longitude, latitude, area.longitude, latitude) > width / 2.0
            {
                None
            } else {
                Some(distance(area.longitude, area.latitude, longitude, latitude))
            }
        }
    };
    found.map(|distance| (longitude, latitude, distance))
}

/// The members inside the area, in Redis's unsorted order (see the module docs); with a
/// `limit` (COUNT ... ANY), the scan stops as soon as it found that many.
pub fn search(set: &SortedSet, area: &SearchArea, limit: usize) -> Vec<Found> {
    let cells = covering_cells(area);
    let mut found = Vec::new();
    let mut previous: Option<GeoHash> = None;
    for (index, cell) in cells.into_iter().enumerate() {
        if cell.is_none() {
            continue;
        }
        // Redis compares with the previous cell read, but never with the centre's (its
        // "last processed" index 0 reads as "none").
        if index > 0 && previous == Some(cell) {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        read_cell(set, area, cell, limit, &mut found);
        if index > 0 {
            previous = Some(cell);
        }
    }
    found
}

/// Appends the members of the cell inside the area, by score, stopping at `limit`.
fn read_cell(
    set: &SortedSet,
    area: &SearchArea,
    cell: GeoHash,
    limit: usize,
    found: &mut Vec<Found>,
) {
    let min = cell.aligned_52_bits() as f64;
    let max = GeoHash { bits: cell.bits + 1, step: cell.step }.aligned_52_bits() as f64;
    let start = set.count_while(|score, _| score < min);
    for (member, score) in set.iter_from(start, false) {
        if score >= max {
            break;
        }
        if let Some((longitude, latitude, distance_meters)) = inside(area, score) {
            found.push(Found {
                member: member.clone(),
                score,
                longitude,
                latitude,
                distance_meters,
            });
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
    }
}

/// Redis's comparison of two members' distances (`sort_gp_asc`, or its negation).
fn compare(first: &Found, second: &Found, descending: bool) -> Ordering {
    let order =
        first.distance_meters.partial_cmp(&second.distance_meters).unwrap_or(Ordering::Equal);
    if descending {
        order.reverse()
    } else {
        order
    }
}

/// Orders the members by distance as Redis does before it replies: all of them with glibc's
/// `qsort` (a stable merge sort), or, when only the first `keep` are kept, with Redis's own
/// partial quicksort, whose order of members at equal distances [`partial_sort`] reproduces.
pub fn sort_by_distance(found: &mut [Found], descending: bool, keep: usize) {
    if keep >= found.len() {
        found.sort_by(|first, second| compare(first, second, descending));
    } else if keep > 0 {
        partial_sort(found, &|first, second| compare(first, second, descending), 0, keep - 1);
    }
}

/// Redis's `pqsort` (the BSD quicksort of Bentley and McIlroy, recursing only into the parts
/// that overlap ranks `left..=right`): afterwards those ranks hold what a full sort would put
/// there. Reimplemented step for step, because the order it leaves equal elements in is
/// observable.
pub fn partial_sort<T>(
    items: &mut [T],
    compare: &impl Fn(&T, &T) -> Ordering,
    left: usize,
    right: usize,
) {
    sort_part(items, compare, (0, items.len()), (left, right));
}

/// [`partial_sort`] of the `count` items from `start`, ranks counted in the whole slice.
fn sort_part<T>(
    items: &mut [T],
    compare: &impl Fn(&T, &T) -> Ordering,
    (mut start, mut count): (usize, usize),
    (left, right): (usize, usize),
) {
    let overlaps = |start: usize, count: usize| !(right < start || left >= start + count);
    loop {
        if count < 7 {
            for middle in start + 1..start + count {
                let mut index = middle;
                while index > start && compare(&items[index - 1], &items[index]).is_gt() {
                    items.swap(index, index - 1);
                    index -= 1;
                }
            }
            return;
        }
        let pivot = choose_pivot(items, compare, start, count);
        items.swap(start, pivot);
        let (left_scan, right_scan, equal_low, equal_high) =
            partition(items, compare, start, count);
        // Move the runs equal to the pivot from both ends into the middle.
        let end = start + count;
        let moved = (equal_low - start).min(left_scan - equal_low);
        swap_runs(items, start, left_scan - moved, moved);
        let moved = (equal_high - right_scan).min(end - equal_high - 1);
        swap_runs(items, left_scan, end - moved, moved);
        let below = left_scan - equal_low;
        if below > 1 && overlaps(start, below) {
            sort_part(items, compare, (start, below), (left, right));
        }
        let above = equal_high - right_scan;
        if above <= 1 || !overlaps(end - above, above) {
            return;
        }
        (start, count) = (end - above, above);
    }
}

/// The median of three, as BSD's `med3`.
fn median<T>(
    items: &[T],
    compare: &impl Fn(&T, &T) -> Ordering,
    a: usize,
    b: usize,
    c: usize,
) -> usize {
    if compare(&items[a], &items[b]).is_lt() {
        if compare(&items[b], &items[c]).is_lt() {
            b
        } else if compare(&items[a], &items[c]).is_lt() {
            c
        } else {
            a
        }
    } else if compare(&items[b], &items[c]).is_gt() {
        b
    } else if compare(&items[a], &items[c]).is_lt() {
        a
    } else {
        c
    }
}

/// The pivot: the middle element, the median of three beyond 7, of nine beyond 40.
fn choose_pivot<T>(
    items: &[T],
    compare: &impl Fn(&T, &T) -> Ordering,
    start: usize,
    count: usize,
) -> usize {
    let mut middle = start + count / 2;
    if count > 7 {
        let mut low = start;
        let mut high = start + count - 1;
        if count > 40 {
            let step = count / 8;
            low = median(items, compare, low, low + step, low + 2 * step);
            middle = median(items, compare, middle - step, middle, middle + step);
            high = median(items, compare, high - 2 * step, high - step, high);
        }
        middle = median(items, compare, low, middle, high);
    }
    middle
}

/// The three-way partition around `items[start]`: elements equal to the pivot gather at both
/// ends. Returns where the scan from the left stopped and where the one from the right did,
/// and the ends of the runs of equal elements at the left and at the right.
fn partition<T>(
    items: &mut [T],
    compare: &impl Fn(&T, &T) -> Ordering,
    start: usize,
    count: usize,
) -> (usize, usize, usize, usize) {
    let (mut equal_low, mut low) = (start + 1, start + 1);
    let (mut high, mut equal_high) = (start + count - 1, start + count - 1);
    loop {
        while low <= high {
            let order = compare(&items[low], &items[start]);
            if order.is_gt() {
                break;
            }
            if order.is_eq() {
                items.swap(equal_low, low);
                equal_low += 1;
            }
            low += 1;
        }
        while low <= high {
            let order = compare(&items[high], &items[start]);
            if order.is_lt() {
                break;
            }
            if order.is_eq() {
                items.swap(high, equal_high);
                equal_high -= 1;
            }
            high -= 1;
        }
        if low > high {
            return (low, high, equal_low, equal_high);
        }
        items.swap(low, high);
        low += 1;
        high -= 1;
    }
}

/// Swaps `items[first..first + count]` with `items[second..second + count]`, pair by pair.
fn swap_runs<T>(items: &mut [T], first: usize, second: usize, count: usize) {
    for offset in 0..count {
        items.swap(first + offset, second + offset);
    }
}

#[cfg(test)]
mod tests;
