#!/usr/bin/env python3
"""Generates src/command/acl/table/redis_commands.rs: every command and subcommand of redis-server 7.0
with its ACL categories, the table ACL rules are decided on.

ACL rules name categories (`+@string`) and commands Concord may not implement (`+migrate`), and
ACL LIST describes a user by the fewest categories that fit over Redis's whole command table
(acl.c, `ACLDescribeSelectorCommandRules`), so byte-exact rules need Redis's whole table, not
only the commands Concord runs (those are in redis_metadata.rs, by `gen-command-meta.py`).
Python standard library only.

    scripts/gen-acl-commands.py PORT          # print the file, asking redis-server 7.0 on PORT
    scripts/gen-acl-commands.py PORT --write  # rewrite the checked-in file

The order is by name, each command followed by its subcommands by name: a command's bit in a
selector is its position here, so the order is part of nothing persisted (users are stored as
their rule text, docs/format.md) and may change when this is regenerated.
"""

import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "..", "src", "command", "acl", "table", "redis_commands.rs")

spec = importlib.util.spec_from_file_location("meta", os.path.join(HERE, "gen-command-meta.py"))
meta = importlib.util.module_from_spec(spec)
spec.loader.exec_module(meta)

HEADER = """//! Every command and subcommand of redis-server {version} with its ACL categories.
//! Do not edit: `scripts/gen-acl-commands.py PORT --write` regenerates it. A command's
//! subcommands follow it, and an entry's position is its bit in a selector's command set.

use crate::command::AclCategories;

use super::RedisCommand;

/// Redis 7.0's command table, by name, each command followed by its subcommands.
pub static COMMANDS: &[RedisCommand] = &[
"""


def categories(value):
    names = [meta.expect(item, "simple") for item in meta.expect(value, "set")]
    bits = []
    for name in names:
        if not name.startswith("@") or name[1:] not in meta.ACL_CATEGORIES:
            raise meta.Shape("unknown category %r" % name)
        bits.append("AclCategories::%s" % name[1:].upper())
    if not bits:
        return "AclCategories::NONE"
    return bits[0] + "".join(".with(%s)" % bit for bit in bits[1:])


def generate(port):
    connection = meta.Connection(port)
    connection.request("HELLO", "3")
    version = meta.expect(connection.request("INFO", "server"), "bulk")
    version = re.search(r"redis_version:(\S+)", version).group(1)
    if not version.startswith("7.0."):
        raise meta.Shape("redis-server %s is not 7.0" % version)
    commands = meta.expect(connection.request("COMMAND"), "array")
    rows = []
    for command in sorted(commands, key=lambda c: meta.expect(meta.expect(c, "array")[0], "bulk")):
        fields = meta.expect(command, "array")
        name = meta.expect(fields[0], "bulk")
        subcommands = fields[9][1]  # an empty list comes as a set
        rows.append((name, None, categories(fields[6]), len(subcommands)))
        parent = len(rows) - 1
        for sub in sorted(subcommands, key=lambda s: meta.expect(meta.expect(s, "array")[0], "bulk")):
            sub_fields = meta.expect(sub, "array")
            rows.append((meta.expect(sub_fields[0], "bulk"), parent, categories(sub_fields[6]), 0))
    out = [HEADER.format(version=version)]
    for name, parent, bits, count in rows:
        parent = "None" if parent is None else "Some(%d)" % parent
        out.append("    RedisCommand { name: %s, parent: %s, subcommands: %d, categories: %s },\n"
                   % (meta.literal(name), parent, count, bits))
    out.append("];\n")
    return "".join(out)


def main(arguments):
    if not arguments or not arguments[0].isdigit():
        sys.exit(__doc__)
    text = generate(int(arguments[0]))
    if "--write" in arguments:
        with open(OUTPUT, "w") as output:
            output.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except meta.Shape as error:
        sys.exit("gen-acl-commands: %s" % error)
