//! The sorted set family's part of the command table, with Redis 7.0's arity, flags, key
//! positions, ACL categories, tips and documentation.

use super::super::CommandSpec;
use super::*;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, parse_zadd)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
            "1.2.0",
            "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        )
        .key_flags(&["RW", "update"]),
    CommandSpec::new("zcard", 2, parse_zcard)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the number of members in a sorted set.",
            "1.2.0",
            "O(1)",
        )
        .key_flags(&["RO"]),
    CommandSpec::new("zcount", 4, parse_zcount)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the count of members in a sorted set that have scores within a range.",
            "2.0.0",
            "O(log(N)) with N being the number of elements in the sorted set.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zdiff", -3, parse_zdiff)
        .flags(&["readonly", "movablekeys"])
        .keys(0, 0, 0)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns the difference between multiple sorted sets.",
            "6.2.0",
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zdiffstore", -4, parse_zdiffstore)
        .flags(&["write", "denyoom", "movablekeys"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Stores the difference of multiple sorted sets in a key.",
            "6.2.0",
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        )
        .key_flags(&["OW", "update"]),
    CommandSpec::new("zincrby", 4, parse_zincrby)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Increments the score of a member in a sorted set.",
            "1.2.0",
            "O(log(N)) where N is the number of elements in the sorted set.",
        )
        .key_flags(&["RW", "access", "update"]),
    CommandSpec::new("zinter", -3, parse_zinter)
        .flags(&["readonly", "movablekeys"])
        .keys(0, 0, 0)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns the intersect of multiple sorted sets.",
            "6.2.0",
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zintercard", -3, parse_zintercard)
        .flags(&["readonly", "movablekeys"])
        .keys(0, 0, 0)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns the number of members of the intersect of multiple sorted sets.",
            "7.0.0",
            "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zinterstore", -4, parse_zinterstore)
        .flags(&["write", "denyoom", "movablekeys"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Stores the intersect of multiple sorted sets in a key.",
            "2.0.0",
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        )
        .key_flags(&["OW", "update"]),
    CommandSpec::new("zlexcount", 4, parse_zlexcount)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the number of members in a sorted set within a lexicographical range.",
            "2.8.9",
            "O(log(N)) with N being the number of elements in the sorted set.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zmpop", -4, parse_zmpop)
        .flags(&["write", "movablekeys"])
        .keys(0, 0, 0)
        .categories(&["@write", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
            "7.0.0",
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .key_flags(&["RW", "access", "delete"]),
    CommandSpec::new("zmscore", -3, parse_zmscore)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the score of one or more members in a sorted set.",
            "6.2.0",
            "O(N) where N is the number of members being requested.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zpopmax", -2, parse_zpopmax)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
            "5.0.0",
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .key_flags(&["RW", "access", "delete"]),
    CommandSpec::new("zpopmin", -2, parse_zpopmin)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
            "5.0.0",
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .key_flags(&["RW", "access", "delete"]),
    CommandSpec::new("zrandmember", -2, parse_zrandmember)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns one or more random members from a sorted set.",
            "6.2.0",
            "O(N) where N is the number of members returned",
        )
        .tips(&["nondeterministic_output"])
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zrange", -4, parse_zrange)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns members in a sorted set within a range of indexes.",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zrangebylex", -4, parse_zrangebylex)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns members in a sorted set within a lexicographical range.",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zrangebyscore", -4, parse_zrangebyscore)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns members in a sorted set within a range of scores.",
            "1.0.5",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zrangestore", -5, parse_zrangestore)
        .flags(&["write", "denyoom"])
        .keys(1, 2, 1)
        .categories(&["@write", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Stores a range of members from sorted set in a key.",
            "6.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        )
        .key_flags(&["OW", "update"]),
    CommandSpec::new("zrank", 3, parse_zrank)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the index of a member in a sorted set ordered by ascending scores.",
            "2.0.0",
            "O(log(N))",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zrem", -3, parse_zrem)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
            "1.2.0",
            "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        )
        .key_flags(&["RW", "delete"]),
    CommandSpec::new("zremrangebylex", 4, parse_zremrangebylex)
        .flags(&["write"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .key_flags(&["RW", "delete"]),
    CommandSpec::new("zremrangebyrank", 4, parse_zremrangebyrank)
        .flags(&["write"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
            "2.0.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .key_flags(&["RW", "delete"]),
    CommandSpec::new("zremrangebyscore", 4, parse_zremrangebyscore)
        .flags(&["write"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .key_flags(&["RW", "delete"]),
    CommandSpec::new("zrevrange", -4, parse_zrevrange)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns members in a sorted set within a range of indexes in reverse order.",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zrevrangebylex", -4, parse_zrevrangebylex)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns members in a sorted set within a lexicographical range in reverse order.",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zrevrangebyscore", -4, parse_zrevrangebyscore)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns members in a sorted set within a range of scores in reverse order.",
            "2.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zrevrank", 3, parse_zrevrank)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the index of a member in a sorted set ordered by descending scores.",
            "2.0.0",
            "O(log(N))",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zscan", -3, parse_zscan)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Iterates over members and scores of a sorted set.",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        )
        .tips(&["nondeterministic_output"])
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zscore", 3, parse_zscore)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .categories(&["@read", "@sortedset", "@fast"])
        .docs(
            "sorted_set",
            "Returns the score of a member in a sorted set.",
            "1.2.0",
            "O(1)",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zunion", -3, parse_zunion)
        .flags(&["readonly", "movablekeys"])
        .keys(0, 0, 0)
        .categories(&["@read", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Returns the union of multiple sorted sets.",
            "6.2.0",
            "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        )
        .key_flags(&["RO", "access"]),
    CommandSpec::new("zunionstore", -4, parse_zunionstore)
        .flags(&["write", "denyoom", "movablekeys"])
        .keys(1, 1, 1)
        .categories(&["@write", "@sortedset", "@slow"])
        .docs(
            "sorted_set",
            "Stores the union of multiple sorted sets in a key.",
            "2.0.0",
            "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        )
        .key_flags(&["OW", "update"]),
];
