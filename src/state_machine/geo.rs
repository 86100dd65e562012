//! Execution of the geo family, on sorted sets (see `command::geo` and `store::geohash`).
//!
//! Every command reaches its set through the sorted set family's `sorted_set_at`, so WRONGTYPE
//! is decided where it is for ZRANGE. GEOADD is a ZADD of computed scores and goes through the
//! same code as ZADD (its reply, NX, XX and CH included). A search reads its options only once
//! the source key's type passed (see `command::geo::search`), scans the cells that cover its
//! area (`store::geo_search`), sorts when asked (as Redis sorts: a stable sort, or its
//! partial quicksort when COUNT keeps fewer than were found, so that members at equal
//! distances come in Redis's order too), and either replies or replaces the destination with
//! the result, as Redis's `georadiusGeneric` does.

use bytes::Bytes;

use crate::command::geo::{
    parse_options, Center, GeoRead, GeoWrite, Order, SearchCommand, SearchOptions,
};
use crate::command::zsets::{AddCommand, ZsetWrite};
use crate::command::{CommandError, DbIndex};
use crate::resp::Frame;
use crate::store::geo_search::{self, Found, SearchArea};
use crate::store::geohash::{decode_score, distance, distance_text, encode_score, hash_string};
use crate::store::{Db, Keyspace, SortedSet};

use super::zsets::{self, sorted_set_at, store_set};
use super::ApplyContext;

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &GeoRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        GeoRead::Position { key, members } => sorted_set_at(db, key, now_ms).map(|set| {
            let position = |member: &Bytes| match set.and_then(|set| set.score(member)) {
                Some(score) => coordinates_frame(decode_score(score)),
                None => Frame::NullArray,
            };
            Frame::Array(members.iter().map(position).collect())
        }),
        GeoRead::Hash { key, members } => sorted_set_at(db, key, now_ms).map(|set| {
            let hash = |member: &Bytes| match set.and_then(|set| set.score(member)) {
                Some(score) => Frame::Bulk(hash_string(score).into()),
                None => Frame::Null,
            };
            Frame::Array(members.iter().map(hash).collect())
        }),
        GeoRead::Distance { key, members, meters_per_unit } => {
            sorted_set_at(db, key, now_ms).map(|set| {
                let scores =
                    set.and_then(|set| Some((set.score(&members[0])?, set.score(&members[1])?)));
                match scores {
                    None => Frame::Null,
                    Some((first, second)) => {
                        let (longitude_1, latitude_1) = decode_score(first);
                        let (longitude_2, latitude_2) = decode_score(second);
                        let meters = distance(longitude_1, latitude_1, longitude_2, latitude_2);
                        Frame::Bulk(distance_text(meters / meters_per_unit).into())
                    }
                }
            })
        }
        GeoRead::Search(command) => search(db, now_ms, command).and_then(|outcome| match outcome {
            Outcome::Reply(frame) => Ok(frame),
            // A search that names a store is a write (`command::geo`); this one did not.
            Outcome::Store { .. } => Err(CommandError::Syntax),
        }),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &GeoWrite,
) -> Frame {
    match write {
        GeoWrite::Add { key, condition, count_changed, positions } => {
            let pairs = positions
                .iter()
                .map(|position| {
                    let score = encode_score(position.longitude, position.latitude)
                        .expect("the parser checked the position is within the limits");
                    (score as f64, position.member.clone())
                })
                .collect();
            let add = AddCommand {
                key: key.clone(),
                condition: *condition,
                comparison: None,
                count_changed: *count_changed,
                increment: false,
                pairs,
            };
            zsets::write(keyspace, db, context, &ZsetWrite::Add(add))
        }
        GeoWrite::SearchStore(command) => {
            let db = keyspace.db_mut(db);
            let now_ms = context.now_ms;
            match search(db, now_ms, command) {
                Err(error) => Frame::from(error),
                Ok(Outcome::Reply(frame)) => frame,
                Ok(Outcome::Store { destination, set }) => {
                    let stored = set.len();
                    store_set(db, &destination, set, now_ms);
                    Frame::Integer(stored as i64)
                }
            }
        }
    }
}

/// What a search ends in: a reply, or a set to store at the destination (empty: delete it).
enum Outcome {
    Reply(Frame),
    Store { destination: Bytes, set: SortedSet },
}

/// Redis's `georadiusGeneric`: the type check, the options, the scan, the order, the result.
fn search(db: &Db, now_ms: u64, command: &SearchCommand) -> Result<Outcome, CommandError> {
    let set = sorted_set_at(db, command.source(), now_ms)?;
    let position_of = |member: &Bytes| set.and_then(|set| set.score(member)).map(decode_score);
    let options = parse_options(command, set.is_some(), position_of)?;
    let (Some(set), Center::Position(longitude, latitude)) = (set, options.center) else {
        return Ok(match options.store {
            Some(store) => Outcome::Store { destination: store.destination, set: SortedSet::new() },
            None => Outcome::Reply(Frame::Array(Vec::new())),
        });
    };
    let area = SearchArea {
        longitude,
        latitude,
        shape: options.shape,
        meters_per_unit: options.meters_per_unit,
    };
    let count = usize::try_from(options.count).unwrap_or(usize::MAX);
    let mut found = geo_search::search(set, &area, if options.any { count } else { 0 });
    // COUNT keeps the nearest, so it sorts, unless ANY asked for whichever came first.
    let order = match options.order {
        None if options.count != 0 && !options.any => Some(Order::Ascending),
        order => order,
    };
    if let Some(order) = order {
        let keep = if count == 0 { found.len() } else { count };
        geo_search::sort_by_distance(&mut found, order == Order::Descending, keep);
    }
    if count != 0 {
        found.truncate(count);
    }
    Ok(match options.store {
        Some(store) => {
            let scores = found.into_iter().map(|point| {
                let score = if store.distances {
                    point.distance_meters / options.meters_per_unit
                } else {
                    point.score
                };
                (point.member, score)
            });
            Outcome::Store {
                destination: store.destination,
                set: SortedSet::from_distinct_pairs(scores),
            }
        }
        None => Outcome::Reply(reply(&options, found)),
    })
}

/// The members, each alone or with what WITHDIST, WITHHASH and WITHCOORD asked for.
fn reply(options: &SearchOptions, found: Vec<Found>) -> Frame {
    let extras = [options.with_distance, options.with_hash, options.with_coordinates];
    if !extras.contains(&true) {
        return Frame::Array(found.into_iter().map(|point| Frame::Bulk(point.member)).collect());
    }
    let item = |point: Found| {
        let mut item = vec![Frame::Bulk(point.member)];
        if options.with_distance {
            let distance = point.distance_meters / options.meters_per_unit;
            item.push(Frame::Bulk(distance_text(distance).into()));
        }
        if options.with_hash {
            item.push(Frame::Integer(point.score as i64));
        }
        if options.with_coordinates {
            item.push(coordinates_frame((point.longitude, point.latitude)));
        }
        Frame::Array(item)
    };
    Frame::Array(found.into_iter().map(item).collect())
}

/// A position as GEOPOS and WITHCOORD reply with it.
fn coordinates_frame((longitude, latitude): (f64, f64)) -> Frame {
    Frame::Array(vec![Frame::LongDouble(longitude), Frame::LongDouble(latitude)])
}
