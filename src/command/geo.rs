//! The geo family: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS, GEORADIUSBYMEMBER, their
//! `_RO` forms, GEOSEARCH and GEOSEARCHSTORE.
//!
//! A geo set is a sorted set whose scores are geohashes (see `store::geohash`); there is no
//! type of its own, so ZRANGE, ZREM and the rest work on it, and WRONGTYPE is the sorted
//! set's.
//!
//! What Redis checks before it looks at the key is checked here, so that a malformed GEOADD or
//! GEODIST never costs a log entry: GEOADD's options and positions, GEODIST's unit. The
//! searches are different: Redis looks the source key up (and refuses another type) before it
//! reads a single option, and it looks up FROMMEMBER's member in the middle of the options,
//! so an error after it loses to "could not decode requested zset member" and one before it
//! wins. A search therefore carries its arguments as sent ([`SearchCommand`]), and execution
//! reads them with [`search::parse_options`] once it knows the key, in Redis's order. That
//! costs a GEOSEARCHSTORE with a bad option a log entry, as ZUNIONSTORE's options do.
//!
//! GEORADIUS and GEORADIUSBYMEMBER are flagged `write` by Redis because of STORE; here they
//! are reads unless their options hold a STORE or STOREDIST (found as Redis's option loop
//! would meet it), so a plain radius query never enters the log.
//!
//! Caveat: Redis names the command in two GEOSEARCH errors ("exactly one of FROMMEMBER or
//! FROMLONLAT can be specified for ...") as the client typed it; parsers never see the name,
//! so Concord writes it in capitals, as clients send it.

pub mod search;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::zsets::{parse_score, AddCondition};
use super::{is_keyword, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;
pub use search::{parse_options, Center, Order, SearchForm, SearchOptions, Shape, Store};

/// The westmost longitude Redis indexes.
pub const LONGITUDE_MIN: f64 = -180.0;
/// The eastmost longitude Redis indexes.
pub const LONGITUDE_MAX: f64 = 180.0;
/// The southmost latitude Redis indexes (Web Mercator's limit: the poles cannot be indexed).
pub const LATITUDE_MIN: f64 = -85.05112878;
/// The northmost latitude Redis indexes.
pub const LATITUDE_MAX: f64 = 85.05112878;

/// Whether Redis accepts the pair as a position (GEOADD, GEORADIUS, FROMLONLAT).
pub fn is_valid_position(longitude: f64, latitude: f64) -> bool {
    (LONGITUDE_MIN..=LONGITUDE_MAX).contains(&longitude)
        && (LATITUDE_MIN..=LATITUDE_MAX).contains(&latitude)
}

/// The geo commands that only read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GeoRead {
    /// `GEOPOS key [member ...]`.
    Position {
        /// The geo set.
        key: Key,
        /// The members, each answered with its position or a null array.
        members: Vec<Bytes>,
    },
    /// `GEOHASH key [member ...]`.
    Hash {
        /// The geo set.
        key: Key,
        /// The members, each answered with its 11-character geohash or a null.
        members: Vec<Bytes>,
    },
    /// `GEODIST key member1 member2 [M | KM | FT | MI]`.
    Distance {
        /// The geo set.
        key: Key,
        /// The two members whose distance it replies with.
        members: [Bytes; 2],
        /// How many meters the reply's unit is (1 when no unit is given).
        meters_per_unit: f64,
    },
    /// GEORADIUS, GEORADIUSBYMEMBER, their `_RO` forms (all without STORE) and GEOSEARCH.
    Search(SearchCommand),
}

/// The geo commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GeoWrite {
    /// `GEOADD key [NX | XX] [CH] longitude latitude member [...]`: a ZADD of the members with
    /// their geohashes as scores, computed in apply.
    Add {
        /// The geo set; an absent key starts empty.
        key: Key,
        /// `NX` or `XX`; `None` both adds and updates.
        condition: Option<AddCondition>,
        /// `CH`: reply with the members added or moved, not only added.
        count_changed: bool,
        /// The positions in argument order, each checked to be within Redis's limits.
        positions: Vec<Position>,
    },
    /// GEORADIUS and GEORADIUSBYMEMBER with STORE or STOREDIST, and GEOSEARCHSTORE.
    SearchStore(SearchCommand),
}

/// One member's position, as GEOADD gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Degrees east, -180 to 180.
    pub longitude: f64,
    /// Degrees north, within ±85.05112878.
    pub latitude: f64,
    /// The member placed there.
    pub member: Bytes,
}

/// A search, with its arguments as sent (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchCommand {
    /// Which command it is: decides the fixed arguments and the options allowed.
    pub form: SearchForm,
    /// Every argument after the command name.
    pub arguments: Vec<Bytes>,
}

impl SearchCommand {
    /// The key searched: the first argument, or GEOSEARCHSTORE's second.
    pub fn source(&self) -> &Key {
        let index = usize::from(self.form == SearchForm::SearchStore);
        &self.arguments[index]
    }
}

/// The geo family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::GEOADD, parse_geoadd),
    CommandSpec::new(&redis_metadata::GEODIST, parse_geodist),
    CommandSpec::new(&redis_metadata::GEOHASH, parse_geohash),
    CommandSpec::new(&redis_metadata::GEOPOS, parse_geopos),
    CommandSpec::new(&redis_metadata::GEORADIUS, parse_georadius),
    CommandSpec::new(&redis_metadata::GEORADIUS_RO, parse_georadius_ro),
    CommandSpec::new(&redis_metadata::GEORADIUSBYMEMBER, parse_georadiusbymember),
    CommandSpec::new(&redis_metadata::GEORADIUSBYMEMBER_RO, parse_georadiusbymember_ro),
    CommandSpec::new(&redis_metadata::GEOSEARCH, parse_geosearch),
    CommandSpec::new(&redis_metadata::GEOSEARCHSTORE, parse_geosearchstore),
];

fn read(read: GeoRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Geo(read)))
}

fn write(write: GeoWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Geo(write)))
}

/// The error for a position outside Redis's limits, with both numbers as `%f` prints them.
pub fn invalid_position(longitude: f64, latitude: f64) -> CommandError {
    CommandError::Other(
        format!("ERR invalid longitude,latitude pair {longitude:.6},{latitude:.6}").into(),
    )
}

/// A longitude and latitude as Redis's `extractLongLatOrReply` reads them: two floats, then
/// the range check.
pub fn parse_position(longitude: &[u8], latitude: &[u8]) -> Result<(f64, f64), CommandError> {
    let longitude = parse_score(longitude).ok_or(CommandError::NotFloat)?;
    let latitude = parse_score(latitude).ok_or(CommandError::NotFloat)?;
    if !is_valid_position(longitude, latitude) {
        return Err(invalid_position(longitude, latitude));
    }
    Ok((longitude, latitude))
}

/// A unit's meters, as Redis's `extractUnitOrReply` reads it (in any case).
pub fn parse_unit(unit: &[u8]) -> Result<f64, CommandError> {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)]
        .into_iter()
        .find(|(name, _)| is_keyword(unit, name))
        .map(|(_, meters)| meters)
        .ok_or(CommandError::other("ERR unsupported unit provided. please use M, KM, FT, MI"))
}

/// Redis's `geoaddCommand`: the options, the argument count and NX with XX, then each
/// position in order.
fn parse_geoadd(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let mut words = args.rest().into_iter().peekable();
    let (mut if_absent, mut if_present, mut count_changed) = (false, false, false);
    while let Some(word) = words.peek() {
        let flag = match word.to_ascii_uppercase().as_slice() {
            b"NX" => &mut if_absent,
            b"XX" => &mut if_present,
            b"CH" => &mut count_changed,
            _ => break,
        };
        *flag = true;
        words.next();
    }
    let rest: Vec<Bytes> = words.collect();
    // No position at all is ZADD's syntax error, which Redis's GEOADD ends in.
    if rest.is_empty() || rest.len() % 3 != 0 || (if_absent && if_present) {
        return Err(CommandError::Syntax);
    }
    let mut positions = Vec::with_capacity(rest.len() / 3);
    for triple in rest.chunks_exact(3) {
        let (longitude, latitude) = parse_position(&triple[0], &triple[1])?;
        positions.push(Position { longitude, latitude, member: triple[2].clone() });
    }
    let condition = match (if_absent, if_present) {
        (true, _) => Some(AddCondition::IfAbsent),
        (_, true) => Some(AddCondition::IfPresent),
        _ => None,
    };
    write(GeoWrite::Add { key, condition, count_changed, positions })
}

/// Redis's `geodistCommand`: the unit (or a syntax error past it) before the key.
fn parse_geodist(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let members = [args.next_bytes()?, args.next_bytes()?];
    let meters_per_unit = match args.rest().as_slice() {
        [] => 1.0,
        [unit] => parse_unit(unit)?,
        _ => return Err(CommandError::Syntax),
    };
    read(GeoRead::Distance { key, members, meters_per_unit })
}

fn parse_geohash(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    read(GeoRead::Hash { key, members: args.rest() })
}

fn parse_geopos(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    read(GeoRead::Position { key, members: args.rest() })
}

/// A search: a write when it will store (see the module docs), a read otherwise.
fn search(args: &mut Args, form: SearchForm) -> Result<Command, CommandError> {
    let command = SearchCommand { form, arguments: args.rest() };
    if form == SearchForm::SearchStore || search::names_a_store(&command) {
        write(GeoWrite::SearchStore(command))
    } else {
        read(GeoRead::Search(command))
    }
}

fn parse_georadius(args: &mut Args) -> Result<Command, CommandError> {
    search(args, SearchForm::Radius)
}

fn parse_georadius_ro(args: &mut Args) -> Result<Command, CommandError> {
    search(args, SearchForm::RadiusReadOnly)
}

fn parse_georadiusbymember(args: &mut Args) -> Result<Command, CommandError> {
    search(args, SearchForm::RadiusByMember)
}

fn parse_georadiusbymember_ro(args: &mut Args) -> Result<Command, CommandError> {
    search(args, SearchForm::RadiusByMemberReadOnly)
}

fn parse_geosearch(args: &mut Args) -> Result<Command, CommandError> {
    search(args, SearchForm::Search)
}

fn parse_geosearchstore(args: &mut Args) -> Result<Command, CommandError> {
    search(args, SearchForm::SearchStore)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{parse, CommandFlags};

    fn parsed(line: &str) -> Result<Command, CommandError> {
        let words = line.split(' ').map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        parse(words).unwrap().command
    }

    #[test]
    fn radius_queries_are_writes_only_with_a_store() {
        for (line, is_write) in [
            ("GEORADIUS k 0 0 1 m", false),
            ("GEORADIUS k 0 0 1 m WITHDIST COUNT 2 STORE d", true),
            ("GEORADIUS k 0 0 1 m STOREDIST d", true),
            // STORE as COUNT's value is not an option.
            ("GEORADIUS k 0 0 1 m COUNT store d", false),
            ("GEORADIUSBYMEMBER k m 1 km STORE d", true),
            ("GEORADIUS_RO k 0 0 1 m STORE d", false),
            ("GEOSEARCH k FROMMEMBER m BYRADIUS 1 m", false),
            ("GEOSEARCHSTORE d k FROMMEMBER m BYRADIUS 1 m", true),
            ("GEOADD k 1 2 m", true),
            ("GEOPOS k m", false),
        ] {
            let command = parsed(line).unwrap();
            assert_eq!(matches!(command, Command::Write(_)), is_write, "{line}: {command:?}");
        }
    }

    #[test]
    fn read_only_commands_carry_redis_readonly_flag() {
        for spec in COMMANDS {
            let read_only = spec.name.ends_with("_ro")
                || ["geopos", "geohash", "geodist", "geosearch"].contains(&spec.name);
            assert_eq!(spec.has_flag(CommandFlags::READONLY), read_only, "{}", spec.name);
        }
    }

    #[test]
    fn geoadd_refuses_what_redis_refuses_before_the_key() {
        let error = |line: &str| parsed(line).unwrap_err().to_string();
        assert_eq!(error("GEOADD k NX XX 1 2 m"), "ERR syntax error");
        assert_eq!(error("GEOADD k 1 2 m 3"), "ERR syntax error");
        assert_eq!(error("GEOADD k NX CH CH"), "ERR syntax error");
        assert_eq!(error("GEOADD k x 2 m"), "ERR value is not a valid float");
        assert_eq!(
            error("GEOADD k 1 2 a 181 86 b"),
            "ERR invalid longitude,latitude pair 181.000000,86.000000"
        );
        assert_eq!(
            error("GEODIST k a b yards"),
            "ERR unsupported unit provided. please use M, KM, FT, MI"
        );
        assert_eq!(error("GEODIST k a b km x"), "ERR syntax error");
    }
}
