//! A valid request for any command of Concord's table, built from its documented argument
//! tree (Redis 7.0's `COMMAND DOCS`): every required argument once, the first choice of each
//! `oneof`, no optional ones. Keys are `key1`, `key2`, ... so that tests can tell them apart.

use concord::command::{Argument, ArgumentFlags, ArgumentKind, CommandSpec};

/// The name (and subcommand), then the arguments; a few commands whose first choice of
/// arguments is not valid on its own get a request written by hand.
pub fn example_request(spec: &CommandSpec) -> Vec<Vec<u8>> {
    if let Some(words) = written_by_hand(spec.name) {
        return words.split(' ').map(|word| word.as_bytes().to_vec()).collect();
    }
    let mut words: Vec<Vec<u8>> =
        spec.name.split('|').map(|word| word.as_bytes().to_vec()).collect();
    let mut keys = 0;
    for argument in spec.meta.docs.arguments {
        if !argument.flags.contains(ArgumentFlags::OPTIONAL) {
            push_argument(argument, &mut words, &mut keys);
        }
    }
    words
}

/// Ranges whose bounds are typed `string` in Redis's docs but must be lexicographical bounds
/// or integers, BITOP's operation, typed `string` but one of four keywords, and the scripts,
/// whose `numkeys` must count the (optional) keys and whose SHA must have 40 digits; stream
/// ids and trim thresholds, typed `string` but parsed as ids or integers.
fn written_by_hand(name: &str) -> Option<&'static str> {
    Some(match name {
        "zlexcount" => "zlexcount key1 - +",
        "zrangebylex" => "zrangebylex key1 - +",
        "zrevrangebylex" => "zrevrangebylex key1 + -",
        "zremrangebylex" => "zremrangebylex key1 - +",
        "zrange" => "zrange key1 0 -1",
        "zrangestore" => "zrangestore key1 key2 0 -1",
        "bitop" => "bitop and key1 key2",
        "eval" => "eval v 1 key1",
        "eval_ro" => "eval_ro v 1 key1",
        "evalsha" => "evalsha e0e1f9fabfc9d4800c877a703b823ac0578ff8db 1 key1",
        "evalsha_ro" => "evalsha_ro e0e1f9fabfc9d4800c877a703b823ac0578ff8db 1 key1",
        "xrange" => "xrange key1 - +",
        "xrevrange" => "xrevrange key1 + -",
        "xsetid" => "xsetid key1 1-1",
        "xtrim" => "xtrim key1 MAXLEN 1",
        "xautoclaim" => "xautoclaim key1 g c 0 0",
        _ => return None,
    })
}

fn push_argument(argument: &Argument, words: &mut Vec<Vec<u8>>, keys: &mut usize) {
    if let Some(token) = argument.token {
        words.push(token.as_bytes().to_vec());
    }
    let value: &[u8] = match argument.kind {
        ArgumentKind::Key => {
            *keys += 1;
            words.push(format!("key{keys}").into_bytes());
            return;
        }
        ArgumentKind::String => b"v",
        ArgumentKind::Integer | ArgumentKind::UnixTime => b"1",
        ArgumentKind::Double => b"1.5",
        ArgumentKind::Pattern => b"*",
        ArgumentKind::PureToken => return,
        ArgumentKind::OneOf => {
            if let Some(first) = argument.arguments.first() {
                push_argument(first, words, keys);
            }
            return;
        }
        ArgumentKind::Block => {
            for nested in argument.arguments {
                if !nested.flags.contains(ArgumentFlags::OPTIONAL) {
                    push_argument(nested, words, keys);
                }
            }
            return;
        }
    };
    words.push(value.to_vec());
}
