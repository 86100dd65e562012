//! Finding a whole command's keys from its metadata, as Redis 7.0's `COMMAND GETKEYS` does.
//!
//! Redis prefers the key specifications (`begin_search` then `find_keys`, each spec adding its
//! keys with its flags). Where a spec cannot say (SORT's STORE is anywhere, marked `unknown`)
//! or its flags depend on the arguments (SET with or without GET: `variable_flags`), or where
//! the specs reject the arguments (a numkeys of 0), Redis falls back to the command's own
//! key-finding function; the few that Concord's commands have are repeated here, with their
//! quirks (the numkeys family reports its keys with no flags, the destination last).
//!
//! Deliberately absent: the server never uses this to route or lock; Concord runs every command
//! on the whole keyspace. Only `COMMAND GETKEYS` and `COMMAND GETKEYSANDFLAGS` ask.

use bytes::Bytes;

use super::metadata::{BeginSearch, CommandMeta, FindKeys, KeySpec, KeySpecFlags};

/// One key of a command: its argument position (the name is 0) and how the command uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPosition {
    /// The argument position of the key; the command name is 0.
    pub position: usize,
    /// How the command uses the key (`RW`, `access`, ...), from its key specification.
    pub flags: KeySpecFlags,
}

/// Whether the command has keys at all (Redis's `doesCommandHaveKeys`).
pub fn has_keys(meta: &CommandMeta) -> bool {
    own_finder(meta.name).is_some()
        || meta.key_specs.iter().any(|spec| !spec.flags.contains(KeySpecFlags::NOT_KEY))
}

/// The keys of `arguments` (the command's name first, then its subcommand if any, then its
/// arguments), which already fit the command's arity; empty when the arguments are not valid
/// enough to say.
pub fn command_keys(meta: &CommandMeta, arguments: &[Bytes]) -> Vec<KeyPosition> {
    let has_variable_flags =
        meta.key_specs.iter().any(|spec| spec.flags.contains(KeySpecFlags::VARIABLE_FLAGS));
    if !has_variable_flags {
        if let Some(keys) = keys_from_specs(meta.key_specs, arguments) {
            return keys;
        }
    }
    match own_finder(meta.name) {
        Some(finder) => finder(arguments),
        None => Vec::new(),
    }
}

/// Redis's `getKeysUsingKeySpecs`: `None` when a spec is unknown, incomplete, or does not fit
/// the arguments.
fn keys_from_specs(specs: &[KeySpec], arguments: &[Bytes]) -> Option<Vec<KeyPosition>> {
    let mut keys = Vec::new();
    for spec in specs.iter().filter(|spec| !spec.flags.contains(KeySpecFlags::NOT_KEY)) {
        let Some(first) = begin_search(spec.begin_search, arguments)? else {
            continue;
        };
        let (first, last, step) = key_range(spec.find_keys, first, arguments)?;
        if last >= arguments.len() as i64 || last < first || first >= arguments.len() as i64 {
            return None;
        }
        let mut position = first;
        while position <= last {
            keys.push(KeyPosition { position: position as usize, flags: spec.flags });
            position += step.max(1);
        }
        if spec.flags.contains(KeySpecFlags::INCOMPLETE) {
            return None;
        }
    }
    Some(keys)
}

/// The first key's position: `Some(None)` when a keyword is absent (the spec adds no keys),
/// `None` when the spec is unknown.
fn begin_search(search: BeginSearch, arguments: &[Bytes]) -> Option<Option<i64>> {
    let count = arguments.len() as i64;
    match search {
        BeginSearch::Index(index) => Some(Some(i64::from(index))),
        BeginSearch::Keyword { keyword, start_from } => {
            let start_from = i64::from(start_from);
            let positions: Box<dyn Iterator<Item = i64>> = if start_from > 0 {
                Box::new(start_from..count - 1)
            } else {
                Box::new((2..=count + start_from).rev())
            };
            let found =
                positions.take_while(|position| (1..count).contains(position)).find(|position| {
                    arguments[*position as usize].eq_ignore_ascii_case(keyword.as_bytes())
                });
            Some(found.map(|position| position + 1))
        }
        BeginSearch::Unknown => None,
    }
}

/// (first, last, step) of a spec's keys, or `None` when its numkeys argument is not a count.
fn key_range(find: FindKeys, first: i64, arguments: &[Bytes]) -> Option<(i64, i64, i64)> {
    let count = arguments.len() as i64;
    match find {
        FindKeys::Range { last_key, key_step, limit } => {
            let (last_key, limit) = (i64::from(last_key), i64::from(limit));
            let last = if last_key >= 0 {
                first + last_key
            } else if limit == 0 {
                count + last_key
            } else {
                first + ((count - first) / limit + last_key)
            };
            Some((first, last, i64::from(key_step)))
        }
        FindKeys::Keynum { keynum_index, first_key, key_step } => {
            let keynum = arguments.get(usize::try_from(first + i64::from(keynum_index)).ok()?)?;
            let keys: i64 = std::str::from_utf8(keynum).ok()?.parse().ok()?;
            if keys < 0 {
                return None;
            }
            let first = first + i64::from(first_key);
            Some((first, first + keys - 1, i64::from(key_step)))
        }
        FindKeys::Unknown => None,
    }
}

type KeyFinder = fn(&[Bytes]) -> Vec<KeyPosition>;

/// The commands whose own key-finding function Redis consults when the specs cannot answer.
fn own_finder(name: &str) -> Option<KeyFinder> {
    Some(match name {
        "sort" => sort_keys,
        "sort_ro" => |_| vec![KeyPosition { position: 1, flags: READ }],
        "set" => set_keys,
        "bitfield" => bitfield_keys,
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            |arguments| numkeys_keys(arguments, 0, 1, 2)
        }
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            |arguments| numkeys_keys(arguments, 1, 2, 3)
        }
        "blmpop" | "bzmpop" => |arguments| numkeys_keys(arguments, 0, 2, 3),
        _ => return None,
    })
}

const READ: KeySpecFlags = KeySpecFlags::RO.with(KeySpecFlags::ACCESS);

/// SORT's key and, for the last STORE, its destination (Redis's `sortGetKeys`, which skips the
/// arguments of LIMIT, GET and BY).
fn sort_keys(arguments: &[Bytes]) -> Vec<KeyPosition> {
    let mut keys = vec![KeyPosition { position: 1, flags: READ }];
    let mut destination = None;
    let mut position = 2;
    while position < arguments.len() {
        let word = &arguments[position];
        let skip = [("limit", 2), ("get", 1), ("by", 1)]
            .iter()
            .find(|(option, _)| word.eq_ignore_ascii_case(option.as_bytes()))
            .map(|(_, skip)| *skip);
        match skip {
            Some(skip) => position += skip,
            None if word.eq_ignore_ascii_case(b"store") && position + 1 < arguments.len() => {
                destination = Some(position + 1);
            }
            None => {}
        }
        position += 1;
    }
    if let Some(position) = destination {
        keys.push(KeyPosition { position, flags: KeySpecFlags::OW.with(KeySpecFlags::UPDATE) });
    }
    keys
}

/// SET reads the old value only with GET (Redis's `setGetKeys`).
fn set_keys(arguments: &[Bytes]) -> Vec<KeyPosition> {
    let reads = arguments.iter().skip(3).any(|word| word.eq_ignore_ascii_case(b"get"));
    let flags = if reads {
        KeySpecFlags::RW.with(KeySpecFlags::ACCESS).with(KeySpecFlags::UPDATE)
    } else {
        KeySpecFlags::OW.with(KeySpecFlags::UPDATE)
    };
    vec![KeyPosition { position: 1, flags }]
}

/// BITFIELD only reads its key while every operation before the first write is a GET or an
/// OVERFLOW (Redis's `bitfieldGetKeys`, which calls anything it does not know a write).
fn bitfield_keys(arguments: &[Bytes]) -> Vec<KeyPosition> {
    let mut read_only = true;
    let mut position = 2;
    while position < arguments.len() {
        let remaining = arguments.len() - position - 1;
        let word = &arguments[position];
        if word.eq_ignore_ascii_case(b"get") && remaining >= 2 {
            position += 2;
        } else if word.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
            position += 1;
        } else {
            // SET and INCRBY write; anything else is a syntax error, taken as a write.
            read_only = false;
            break;
        }
        position += 1;
    }
    let flags = if read_only {
        READ
    } else {
        KeySpecFlags::RW.with(KeySpecFlags::ACCESS).with(KeySpecFlags::UPDATE)
    };
    vec![KeyPosition { position: 1, flags }]
}

/// Redis's `genericGetKeys` for the numkeys commands: the count is read as C's `atoi` reads
/// it, the keys get no flags, and a destination (`store` position, 0 for none) comes last.
fn numkeys_keys(
    arguments: &[Bytes],
    store: usize,
    keynum: usize,
    first: usize,
) -> Vec<KeyPosition> {
    let count = leading_integer(&arguments[keynum]);
    let available = arguments.len().saturating_sub(first) as i64;
    if count < 1 || count > available {
        return Vec::new();
    }
    let none = KeySpecFlags::NONE;
    let mut keys: Vec<KeyPosition> = (0..count as usize)
        .map(|index| KeyPosition { position: first + index, flags: none })
        .collect();
    if store > 0 {
        keys.push(KeyPosition { position: store, flags: none });
    }
    keys
}

/// C's `atoi`: leading blanks, a sign, then as many digits as there are; 0 without digits.
fn leading_integer(bytes: &[u8]) -> i64 {
    let text = bytes.iter().skip_while(|byte| byte.is_ascii_whitespace());
    let mut text = text.peekable();
    let negative = match text.peek() {
        Some(b'-') => {
            text.next();
            true
        }
        Some(b'+') => {
            text.next();
            false
        }
        _ => false,
    };
    let mut value: i64 = 0;
    for byte in text.take_while(|byte| byte.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(i64::from(byte - b'0'));
    }
    let value = value.min(i64::from(i32::MAX));
    if negative {
        -value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::super::redis_metadata;
    use super::*;

    fn words(line: &str) -> Vec<Bytes> {
        line.split(' ').map(|word| Bytes::copy_from_slice(word.as_bytes())).collect()
    }

    fn positions(meta: &CommandMeta, line: &str) -> Vec<usize> {
        command_keys(meta, &words(line)).iter().map(|key| key.position).collect()
    }

    #[test]
    fn sort_finds_the_last_store_destination() {
        assert_eq!(positions(&redis_metadata::SORT, "sort k by x store d get y store e"), [1, 9]);
        assert_eq!(positions(&redis_metadata::SORT, "sort k limit 0 store"), [1]);
    }

    #[test]
    fn bitfield_reads_its_key_until_a_write() {
        let flags = |line: &str| command_keys(&redis_metadata::BITFIELD, &words(line))[0].flags;
        assert_eq!(flags("bitfield k get u8 0 overflow sat get i4 2"), READ);
        assert_eq!(flags("bitfield k"), READ);
        let write = KeySpecFlags::RW.with(KeySpecFlags::ACCESS).with(KeySpecFlags::UPDATE);
        assert_eq!(flags("bitfield k get u8 0 incrby u8 0 1"), write);
        assert_eq!(flags("bitfield k get u8"), write);
    }

    #[test]
    fn numkeys_commands_read_their_count() {
        assert_eq!(positions(&redis_metadata::ZUNIONSTORE, "zunionstore d 2 a b"), [1, 3, 4]);
        assert_eq!(positions(&redis_metadata::ZUNIONSTORE, "zunionstore d 2x a b"), [3, 4, 1]);
        assert!(positions(&redis_metadata::ZUNIONSTORE, "zunionstore d 0 a").is_empty());
        assert_eq!(positions(&redis_metadata::BLMPOP, "blmpop 0 2 a b left"), [3, 4]);
    }

    #[test]
    fn lmove_inserts_into_its_destination() {
        let keys = command_keys(&redis_metadata::LMOVE, &words("lmove a b left right"));
        assert_eq!(keys[1].flags, KeySpecFlags::RW.with(KeySpecFlags::INSERT));
    }
}
