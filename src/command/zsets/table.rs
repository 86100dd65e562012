//! The sorted set family's part of the command table: each command's Redis 7.0 metadata (see
//! `command::metadata`) with its parser.

use super::super::CommandSpec;
use super::*;
use crate::command::redis_metadata;

/// The sorted set family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::ZADD, parse_zadd),
    CommandSpec::new(&redis_metadata::ZCARD, parse_zcard),
    CommandSpec::new(&redis_metadata::ZCOUNT, parse_zcount),
    CommandSpec::new(&redis_metadata::ZDIFF, parse_zdiff),
    CommandSpec::new(&redis_metadata::ZDIFFSTORE, parse_zdiffstore),
    CommandSpec::new(&redis_metadata::ZINCRBY, parse_zincrby),
    CommandSpec::new(&redis_metadata::ZINTER, parse_zinter),
    CommandSpec::new(&redis_metadata::ZINTERCARD, parse_zintercard),
    CommandSpec::new(&redis_metadata::ZINTERSTORE, parse_zinterstore),
    CommandSpec::new(&redis_metadata::ZLEXCOUNT, parse_zlexcount),
    CommandSpec::new(&redis_metadata::ZMPOP, parse_zmpop),
    CommandSpec::new(&redis_metadata::ZMSCORE, parse_zmscore),
    CommandSpec::new(&redis_metadata::ZPOPMAX, parse_zpopmax),
    CommandSpec::new(&redis_metadata::ZPOPMIN, parse_zpopmin),
    CommandSpec::new(&redis_metadata::ZRANDMEMBER, parse_zrandmember),
    CommandSpec::new(&redis_metadata::ZRANGE, parse_zrange),
    CommandSpec::new(&redis_metadata::ZRANGEBYLEX, parse_zrangebylex),
    CommandSpec::new(&redis_metadata::ZRANGEBYSCORE, parse_zrangebyscore),
    CommandSpec::new(&redis_metadata::ZRANGESTORE, parse_zrangestore),
    CommandSpec::new(&redis_metadata::ZRANK, parse_zrank),
    CommandSpec::new(&redis_metadata::ZREM, parse_zrem),
    CommandSpec::new(&redis_metadata::ZREMRANGEBYLEX, parse_zremrangebylex),
    CommandSpec::new(&redis_metadata::ZREMRANGEBYRANK, parse_zremrangebyrank),
    CommandSpec::new(&redis_metadata::ZREMRANGEBYSCORE, parse_zremrangebyscore),
    CommandSpec::new(&redis_metadata::ZREVRANGE, parse_zrevrange),
    CommandSpec::new(&redis_metadata::ZREVRANGEBYLEX, parse_zrevrangebylex),
    CommandSpec::new(&redis_metadata::ZREVRANGEBYSCORE, parse_zrevrangebyscore),
    CommandSpec::new(&redis_metadata::ZREVRANK, parse_zrevrank),
    CommandSpec::new(&redis_metadata::ZSCAN, parse_zscan),
    CommandSpec::new(&redis_metadata::ZSCORE, parse_zscore),
    CommandSpec::new(&redis_metadata::ZUNION, parse_zunion),
    CommandSpec::new(&redis_metadata::ZUNIONSTORE, parse_zunionstore),
];
