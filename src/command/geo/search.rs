//! The options of the geo searches, read as Redis's `georadiusGeneric` reads them.
//!
//! [`parse_options`] runs where the search executes, after the source key's type check (see
//! the parent module): it gets whether the key exists and a way to look a member's position
//! up, and returns the first error in Redis's order or the whole search. It is pure: the same
//! arguments and the same set give the same result on every replica.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{parse_position, parse_unit, SearchCommand};
use crate::command::zsets::parse_score;
use crate::command::{is_keyword, parse_i64, CommandError, Key};

/// Which search command a [`SearchCommand`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchForm {
    /// `GEORADIUS key longitude latitude radius unit [options]`, STORE allowed.
    Radius,
    /// `GEORADIUSBYMEMBER key member radius unit [options]`, STORE allowed.
    RadiusByMember,
    /// `GEORADIUS_RO`: GEORADIUS without STORE.
    RadiusReadOnly,
    /// `GEORADIUSBYMEMBER_RO`: GEORADIUSBYMEMBER without STORE.
    RadiusByMemberReadOnly,
    /// `GEOSEARCH key FROMMEMBER | FROMLONLAT ... BYRADIUS | BYBOX ... [options]`.
    Search,
    /// `GEOSEARCHSTORE destination source ...`: GEOSEARCH's options and STOREDIST.
    SearchStore,
}

impl SearchForm {
    /// How many arguments after the name come before the options.
    fn fixed_arguments(self) -> usize {
        match self {
            SearchForm::Radius | SearchForm::RadiusReadOnly => 5,
            SearchForm::RadiusByMember | SearchForm::RadiusByMemberReadOnly => 4,
            SearchForm::Search => 1,
            SearchForm::SearchStore => 2,
        }
    }

    fn is_search(self) -> bool {
        matches!(self, SearchForm::Search | SearchForm::SearchStore)
    }

    /// GEORADIUS and GEORADIUSBYMEMBER take STORE and STOREDIST with a key.
    fn takes_store_key(self) -> bool {
        matches!(self, SearchForm::Radius | SearchForm::RadiusByMember)
    }

    /// The name Redis writes in its errors.
    fn name(self) -> &'static str {
        match self {
            SearchForm::Radius => "GEORADIUS",
            SearchForm::RadiusByMember => "GEORADIUSBYMEMBER",
            SearchForm::RadiusReadOnly => "GEORADIUS_RO",
            SearchForm::RadiusByMemberReadOnly => "GEORADIUSBYMEMBER_RO",
            SearchForm::Search => "GEOSEARCH",
            SearchForm::SearchStore => "GEOSEARCHSTORE",
        }
    }
}

/// The area searched, in the unit given with it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// `BYRADIUS radius unit` (and GEORADIUS's radius).
    Radius(f64),
    /// `BYBOX width height unit`, the box centred on the centre.
    Box {
        /// East to west.
        width: f64,
        /// North to south.
        height: f64,
    },
}

/// The search's centre: a position, or FROMMEMBER on a key that does not exist (the search
/// answers empty without one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Center {
    /// Longitude and latitude.
    Position(f64, f64),
    /// The member could not be looked up because the key is absent.
    Absent,
}

/// ASC or DESC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Nearest first.
    Ascending,
    /// Farthest first.
    Descending,
}

/// Where the result is stored, and whether the scores are distances.
#[derive(Clone, Debug, PartialEq)]
pub struct Store {
    /// The key written (or deleted when nothing is found).
    pub destination: Key,
    /// STOREDIST: the distances in the search's unit; otherwise the members' geohashes.
    pub distances: bool,
}

/// A search, every argument read.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchOptions {
    /// Where the search is centred.
    pub center: Center,
    /// The area, in the unit of `meters_per_unit`.
    pub shape: Shape,
    /// The unit's meters.
    pub meters_per_unit: f64,
    /// WITHDIST.
    pub with_distance: bool,
    /// WITHHASH.
    pub with_hash: bool,
    /// WITHCOORD.
    pub with_coordinates: bool,
    /// ASC or DESC; COUNT without ANY makes it ascending when not given.
    pub order: Option<Order>,
    /// COUNT, 0 for none.
    pub count: u64,
    /// ANY: stop at the first `count` members found, nearest or not.
    pub any: bool,
    /// STORE, STOREDIST or GEOSEARCHSTORE's destination.
    pub store: Option<Store>,
}

const COULD_NOT_DECODE: CommandError =
    CommandError::other("ERR could not decode requested zset member");

/// Whether a GEORADIUS or GEORADIUSBYMEMBER names STORE or STOREDIST where Redis's option
/// loop takes it as the option (not, say, as COUNT's value). Errors on the way do not matter:
/// such a command fails the same way as a read or as a write.
pub fn names_a_store(command: &SearchCommand) -> bool {
    if !command.form.takes_store_key() {
        return false;
    }
    let options = command.arguments.get(command.form.fixed_arguments()..).unwrap_or(&[]);
    let mut index = 0;
    while index < options.len() {
        let has_value = index + 1 < options.len();
        let word = &options[index];
        if (is_keyword(word, "STORE") || is_keyword(word, "STOREDIST")) && has_value {
            return true;
        }
        if is_keyword(word, "COUNT") && has_value {
            index += 1;
        }
        index += 1;
    }
    false
}

/// The radius (or its error texts) and unit, as Redis's `extractDistanceOrReply`.
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), CommandError> {
    let radius = parse_score(radius).ok_or(CommandError::other("ERR need numeric radius"))?;
    if radius < 0.0 {
        return Err(CommandError::other("ERR radius cannot be negative"));
    }
    Ok((radius, parse_unit(unit)?))
}

/// The box and unit, as Redis's `extractBoxOrReply`.
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(Shape, f64), CommandError> {
    let width = parse_score(width).ok_or(CommandError::other("ERR need numeric width"))?;
    let height = parse_score(height).ok_or(CommandError::other("ERR need numeric height"))?;
    if width < 0.0 || height < 0.0 {
        return Err(CommandError::other("ERR height or width cannot be negative"));
    }
    Ok((Shape::Box { width, height }, parse_unit(unit)?))
}

/// What the option loop has read so far.
struct Reading {
    options: SearchOptions,
    from_member: bool,
    from_position: bool,
    by_radius: bool,
    by_box: bool,
}

/// Reads a search's arguments (see the module docs). `key_exists` says whether the source key
/// holds a sorted set; `position_of` looks a member's position up in it.
pub fn parse_options(
    command: &SearchCommand,
    key_exists: bool,
    position_of: impl Fn(&Bytes) -> Option<(f64, f64)>,
) -> Result<SearchOptions, CommandError> {
    let form = command.form;
    let arguments = &command.arguments;
    let mut reading = Reading {
        options: SearchOptions {
            center: Center::Absent,
            shape: Shape::Radius(0.0),
            meters_per_unit: 0.0,
            with_distance: false,
            with_hash: false,
            with_coordinates: false,
            order: None,
            count: 0,
            any: false,
            store: None,
        },
        from_member: false,
        from_position: false,
        by_radius: false,
        by_box: false,
    };
    let options = &mut reading.options;
    match form {
        SearchForm::Radius | SearchForm::RadiusReadOnly => {
            let (longitude, latitude) = parse_position(&arguments[1], &arguments[2])?;
            options.center = Center::Position(longitude, latitude);
            let (radius, meters) = parse_radius(&arguments[3], &arguments[4])?;
            (options.shape, options.meters_per_unit) = (Shape::Radius(radius), meters);
        }
        // Without the key, Redis reads neither the member nor the radius.
        SearchForm::RadiusByMember | SearchForm::RadiusByMemberReadOnly if key_exists => {
            let (longitude, latitude) = position_of(&arguments[1]).ok_or(COULD_NOT_DECODE)?;
            options.center = Center::Position(longitude, latitude);
            let (radius, meters) = parse_radius(&arguments[2], &arguments[3])?;
            (options.shape, options.meters_per_unit) = (Shape::Radius(radius), meters);
        }
        SearchForm::RadiusByMember | SearchForm::RadiusByMemberReadOnly => {}
        SearchForm::Search => {}
        SearchForm::SearchStore => {
            options.store = Some(Store { destination: arguments[0].clone(), distances: false });
        }
    }
    let rest = &arguments[form.fixed_arguments().min(arguments.len())..];
    read_options(form, rest, key_exists, &position_of, &mut reading)?;
    check_combinations(form, &reading)?;
    Ok(reading.options)
}

/// Redis's option loop: every option in any order, each error as it is met.
fn read_options(
    form: SearchForm,
    rest: &[Bytes],
    key_exists: bool,
    position_of: &impl Fn(&Bytes) -> Option<(f64, f64)>,
    reading: &mut Reading,
) -> Result<(), CommandError> {
    let mut index = 0;
    while index < rest.len() {
        let word = &rest[index];
        let left = rest.len() - index - 1;
        let options = &mut reading.options;
        if is_keyword(word, "WITHDIST") {
            options.with_distance = true;
        } else if is_keyword(word, "WITHHASH") {
            options.with_hash = true;
        } else if is_keyword(word, "WITHCOORD") {
            options.with_coordinates = true;
        } else if is_keyword(word, "ANY") {
            options.any = true;
        } else if is_keyword(word, "ASC") {
            options.order = Some(Order::Ascending);
        } else if is_keyword(word, "DESC") {
            options.order = Some(Order::Descending);
        } else if is_keyword(word, "COUNT") && left >= 1 {
            let count = parse_i64(&rest[index + 1]).ok_or(CommandError::NotInteger)?;
            if count <= 0 {
                return Err(CommandError::other("ERR COUNT must be > 0"));
            }
            options.count = count as u64;
            index += 1;
        } else if form.takes_store_key()
            && left >= 1
            && (is_keyword(word, "STORE") || is_keyword(word, "STOREDIST"))
        {
            let distances = is_keyword(word, "STOREDIST");
            options.store = Some(Store { destination: rest[index + 1].clone(), distances });
            index += 1;
        } else if form == SearchForm::SearchStore && is_keyword(word, "STOREDIST") {
            if let Some(store) = &mut options.store {
                store.distances = true;
            }
        } else {
            index += read_area_option(form, &rest[index..], key_exists, position_of, reading)?;
        }
        index += 1;
    }
    Ok(())
}

/// GEOSEARCH's FROMMEMBER, FROMLONLAT, BYRADIUS and BYBOX at the start of `rest`: the number
/// of values it took, or the error (a syntax error for anything else).
fn read_area_option(
    form: SearchForm,
    rest: &[Bytes],
    key_exists: bool,
    position_of: &impl Fn(&Bytes) -> Option<(f64, f64)>,
    reading: &mut Reading,
) -> Result<usize, CommandError> {
    let word = &rest[0];
    let left = rest.len() - 1;
    let options = &mut reading.options;
    if !form.is_search() {
        return Err(CommandError::Syntax);
    }
    if is_keyword(word, "FROMMEMBER") && left >= 1 && !reading.from_position {
        if key_exists {
            let (longitude, latitude) = position_of(&rest[1]).ok_or(COULD_NOT_DECODE)?;
            options.center = Center::Position(longitude, latitude);
        }
        reading.from_member = true;
        Ok(1)
    } else if is_keyword(word, "FROMLONLAT") && left >= 2 && !reading.from_member {
        let (longitude, latitude) = parse_position(&rest[1], &rest[2])?;
        options.center = Center::Position(longitude, latitude);
        reading.from_position = true;
        Ok(2)
    } else if is_keyword(word, "BYRADIUS") && left >= 2 && !reading.by_box {
        let (radius, meters) = parse_radius(&rest[1], &rest[2])?;
        (options.shape, options.meters_per_unit) = (Shape::Radius(radius), meters);
        reading.by_radius = true;
        Ok(2)
    } else if is_keyword(word, "BYBOX") && left >= 3 && !reading.by_radius {
        (options.shape, options.meters_per_unit) = parse_box(&rest[1], &rest[2], &rest[3])?;
        reading.by_box = true;
        Ok(3)
    } else {
        Err(CommandError::Syntax)
    }
}

/// The checks Redis makes once every option is read, in its order.
fn check_combinations(form: SearchForm, reading: &Reading) -> Result<(), CommandError> {
    let options = &reading.options;
    if options.store.is_some()
        && (options.with_distance || options.with_hash || options.with_coordinates)
    {
        let what = if form == SearchForm::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CommandError::Other(
            format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
                .into(),
        ));
    }
    if form.is_search() && !(reading.from_member || reading.from_position) {
        return Err(CommandError::Other(
            format!(
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
                form.name()
            )
            .into(),
        ));
    }
    if form.is_search() && !(reading.by_radius || reading.by_box) {
        return Err(CommandError::Other(
            format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {}", form.name())
                .into(),
        ));
    }
    if options.any && options.count == 0 {
        return Err(CommandError::other("ERR the ANY argument requires COUNT argument"));
    }
    Ok(())
}
