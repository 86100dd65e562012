#!/usr/bin/env python3
"""Generates src/command/redis_metadata.rs from redis-server 7.0's COMMAND INFO and COMMAND DOCS.

Redis 7.0 describes every command (flags, key specifications, ACL categories, tips, summary,
history, argument tree) in its COMMAND INFO and COMMAND DOCS replies; this script asks a
temporary redis-server for exactly the commands named and writes that description as typed
Rust statics, one `CommandMeta` per command or subcommand. Python standard library only.

    scripts/gen-command-meta.py NAME...            # print the file for these commands
    scripts/gen-command-meta.py --write            # rewrite the checked-in file, same commands
    scripts/gen-command-meta.py --write NAME...    # ... with these added (a new command)

The command list is Concord's own: `tests/command_metadata.rs` passes every name in Concord's
command table and fails when the checked-in file differs from what this prints, so a change of
either side is caught. Names Redis 7.0 does not know are an error (Concord's own commands write
their metadata by hand). Replies of a shape this script does not expect are an error too: the
output must be exactly what Redis said, or nothing.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "command",
                      "redis_metadata.rs")

# Each set's names in the order Redis 7.0 replies with them (the bit order in metadata.rs).
COMMAND_FLAGS = ["write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
                 "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast",
                 "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys",
                 "allow_busy"]
ACL_CATEGORIES = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
                  "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
                  "blocking", "dangerous", "connection", "transaction", "scripting"]
KEY_SPEC_FLAGS = ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
                  "incomplete", "variable_flags"]
DOC_FLAGS = ["deprecated", "syscmd"]
ARGUMENT_FLAGS = ["optional", "multiple", "multiple_token"]
ARGUMENT_KINDS = {"string": "String", "integer": "Integer", "double": "Double", "key": "Key",
                  "pattern": "Pattern", "unix-time": "UnixTime", "pure-token": "PureToken",
                  "oneof": "OneOf", "block": "Block"}


class Shape(Exception):
    """A reply that is not of the shape this script knows."""


# ---- RESP3, keeping each value's type -------------------------------------------------------

class Connection:
    def __init__(self, port):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def request(self, *words):
        out = b"*%d\r\n" % len(words)
        for word in words:
            word = word.encode() if isinstance(word, str) else word
            out += b"$%d\r\n%s\r\n" % (len(word), word)
        self.socket.sendall(out)
        return self.value()

    def line(self):
        while b"\r\n" not in self.buffer:
            data = self.socket.recv(1 << 16)
            if not data:
                raise Shape("redis-server closed the connection")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exactly(self, count):
        while len(self.buffer) < count + 2:
            data = self.socket.recv(1 << 16)
            if not data:
                raise Shape("redis-server closed the connection")
            self.buffer += data
        data, self.buffer = self.buffer[:count], self.buffer[count + 2:]
        return data

    def value(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return ("simple", rest.decode())
        if kind == b"-":
            raise Shape("redis-server answered an error: %s" % rest.decode())
        if kind == b":":
            return ("int", int(rest))
        if kind == b"_":
            return ("null",)
        if kind == b"$":
            return ("bulk", self.exactly(int(rest)).decode())
        if kind == b"=":
            return ("bulk", self.exactly(int(rest))[4:].decode())
        if kind in (b"*", b"~"):
            items = [self.value() for _ in range(int(rest))]
            return ("array" if kind == b"*" else "set", items)
        if kind == b"%":
            pairs = []
            for _ in range(int(rest)):
                key = self.value()
                pairs.append((expect(key, "bulk"), self.value()))
            return ("map", pairs)
        raise Shape("unexpected RESP type %r" % kind)


def expect(value, kind):
    if value[0] != kind:
        raise Shape("expected %s, got %r" % (kind, value))
    return value[1]


def fields(value, allowed):
    """A map's fields, checked: only known names, in the order `allowed` lists them."""
    pairs = expect(value, "map")
    names = [name for name, _ in pairs]
    order = [name for name in allowed if name in names]
    if names != order:
        raise Shape("fields %r are not a subsequence of %r" % (names, allowed))
    return dict(pairs)


def names_in_order(value, known, kind="simple", prefix=""):
    names = [expect(item, kind) for item in expect(value, "set")]
    stripped = [name[len(prefix):] if name.startswith(prefix) else name for name in names]
    for name in stripped:
        if name not in known:
            raise Shape("unknown name %r (known: %r)" % (name, known))
    if stripped != [name for name in known if name in stripped]:
        raise Shape("%r is not in Redis's usual order %r" % (stripped, known))
    return stripped


# ---- Rust output ----------------------------------------------------------------------------

def literal(text):
    out = []
    for char in text:
        if char in "\\\"":
            out.append("\\" + char)
        elif 32 <= ord(char) < 127:
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        else:
            out.append("\\u{%x}" % ord(char))
    return '"' + "".join(out) + '"'


def optional(text):
    return "None" if text is None else "Some(%s)" % literal(text)


def bitset(type_name, names):
    if not names:
        return "%s::NONE" % type_name
    constants = ["%s::%s" % (type_name, name.upper()) for name in names]
    return constants[0] + "".join(".with(%s)" % constant for constant in constants[1:])


def identifier(name):
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def key_spec(value):
    spec = fields(value, ["notes", "flags", "begin_search", "find_keys"])
    flags = names_in_order(spec["flags"], KEY_SPEC_FLAGS)
    begin = fields(spec["begin_search"], ["type", "spec"])
    begin_type = expect(begin["type"], "bulk")
    begin_fields = fields(begin["spec"], ["index", "keyword", "startfrom"])
    if begin_type == "index" and list(begin_fields) != ["index"]:
        raise Shape("begin_search %r" % begin)
    if begin_type == "index":
        begin_search = "BeginSearch::Index(%d)" % expect(begin_fields["index"], "int")
    elif begin_type == "keyword":
        begin_search = "BeginSearch::Keyword { keyword: %s, start_from: %d }" % (
            literal(expect(begin_fields["keyword"], "bulk")),
            expect(begin_fields["startfrom"], "int"))
    elif begin_type == "unknown" and not begin_fields:
        begin_search = "BeginSearch::Unknown"
    else:
        raise Shape("begin_search %r" % begin)
    find = fields(spec["find_keys"], ["type", "spec"])
    find_type = expect(find["type"], "bulk")
    find_fields = fields(find["spec"], ["keynumidx", "firstkey", "keystep"]
                         if find_type == "keynum" else ["lastkey", "keystep", "limit"])
    number = lambda name: expect(find_fields[name], "int")
    if find_type == "range":
        find_keys = "FindKeys::Range { last_key: %d, key_step: %d, limit: %d }" % (
            number("lastkey"), number("keystep"), number("limit"))
    elif find_type == "keynum":
        find_keys = "FindKeys::Keynum { keynum_index: %d, first_key: %d, key_step: %d }" % (
            number("keynumidx"), number("firstkey"), number("keystep"))
    elif find_type == "unknown" and not find_fields:
        find_keys = "FindKeys::Unknown"
    else:
        raise Shape("find_keys %r" % find)
    notes = expect(spec["notes"], "bulk") if "notes" in spec else None
    return ("KeySpec { notes: %s, flags: %s, begin_search: %s, find_keys: %s }"
            % (optional(notes), bitset("KeySpecFlags", flags), begin_search, find_keys))


def argument(value, indent):
    docs = fields(value, ["name", "type", "display_text", "key_spec_index", "token", "summary",
                          "since", "deprecated_since", "flags", "arguments"])
    kind_name = expect(docs["type"], "bulk")
    if kind_name not in ARGUMENT_KINDS:
        raise Shape("argument type %r" % kind_name)
    kind = "ArgumentKind::" + ARGUMENT_KINDS[kind_name]
    out = "Argument::new(%s, %s)" % (literal(expect(docs["name"], "bulk")), kind)
    if "display_text" in docs:
        out += ".display_text(%s)" % literal(expect(docs["display_text"], "bulk"))
    if "key_spec_index" in docs:
        out += ".key_spec_index(%d)" % expect(docs["key_spec_index"], "int")
    for field, method in [("token", "token"),
                          ("summary", "summary"), ("since", "since"),
                          ("deprecated_since", "deprecated_since")]:
        if field in docs:
            out += ".%s(%s)" % (method, literal(expect(docs[field], "bulk")))
    if "flags" in docs:
        out += ".flags(%s)" % bitset("ArgumentFlags", names_in_order(docs["flags"],
                                                                     ARGUMENT_FLAGS))
    if "arguments" in docs:
        if kind_name not in ("oneof", "block"):
            raise Shape("nested arguments under a %s argument" % kind_name)
        out += ".arguments(%s)" % arguments(docs["arguments"], indent + 1)
    return out


def arguments(value, indent):
    items = expect(value, "array")
    if not items:
        return "&[]"
    pad = "    " * (indent + 1)
    inner = "".join("%s%s,\n" % (pad, argument(item, indent + 1)) for item in items)
    return "&[\n%s%s]" % (inner, "    " * indent)


def history(value):
    entries = []
    for entry in expect(value, "set"):
        version, text = [expect(item, "bulk") for item in expect(entry, "array")]
        entries.append("(%s, %s)" % (literal(version), literal(text)))
    return "&[%s]" % ", ".join(entries)


def key_specs_list(key_specs):
    if not key_specs:
        return "&[]"
    return "&[\n%s    ]" % "".join("        %s,\n" % spec for spec in key_specs)


def command_meta(name, info, docs):
    """One `pub static NAME: CommandMeta`; `info` and `docs` are Redis's replies for `name`."""
    items = expect(info, "array")
    if len(items) != 10 or expect(items[0], "bulk") != name:
        raise Shape("COMMAND INFO %s: %r" % (name, info))
    flags = names_in_order(items[2], COMMAND_FLAGS)
    categories = names_in_order(items[6], ACL_CATEGORIES, prefix="@")
    tips = [literal(expect(tip, "bulk")) for tip in expect(items[7], "set")]
    key_specs = [key_spec(spec) for spec in expect(items[8], "set")]
    doc = fields(docs, ["summary", "since", "group", "complexity", "doc_flags",
                        "deprecated_since", "replaced_by", "history", "arguments",
                        "subcommands"])
    text = lambda field: expect(doc[field], "bulk") if field in doc else None
    doc_flags = names_in_order(doc["doc_flags"], DOC_FLAGS) if "doc_flags" in doc else []
    summary = text("summary")
    lines = [
        "/// `%s`%s" % (name.upper().replace("|", " "),
                        ": %s." % summary.rstrip(".") if summary else "."),
        "pub static %s: CommandMeta = CommandMeta {" % identifier(name),
        "    name: %s," % literal(name),
        "    arity: %d," % expect(items[1], "int"),
        "    flags: %s," % bitset("CommandFlags", flags),
        "    first_key: %d," % expect(items[3], "int"),
        "    last_key: %d," % expect(items[4], "int"),
        "    key_step: %d," % expect(items[5], "int"),
        "    categories: %s," % bitset("AclCategories", categories),
        "    tips: &[%s]," % ", ".join(tips),
        "    key_specs: %s," % key_specs_list(key_specs),
        "    docs: Docs {",
        "        summary: %s," % optional(text("summary")),
        "        since: %s," % optional(text("since")),
        "        group: %s," % literal(text("group") or ""),
        "        complexity: %s," % optional(text("complexity")),
        "        doc_flags: %s," % bitset("DocFlags", doc_flags),
        "        deprecated_since: %s," % optional(text("deprecated_since")),
        "        replaced_by: %s," % optional(text("replaced_by")),
        "        history: %s," % (history(doc["history"]) if "history" in doc else "&[]"),
        "        arguments: %s," % (arguments(doc["arguments"], 2) if "arguments" in doc
                                     else "&[]"),
        "    },",
        "};",
    ]
    return "\n".join(lines) + "\n"


HEADER = """\
//! Redis 7.0's metadata for the commands Concord implements, generated by
//! `scripts/gen-command-meta.py` from redis-server {version}'s `COMMAND INFO` and `COMMAND DOCS`.
//! Do not edit: `tests/command_metadata.rs` regenerates it and fails when it differs.

use super::metadata::{{
    AclCategories, Argument, ArgumentFlags, ArgumentKind, BeginSearch, CommandFlags, CommandMeta,
    DocFlags, Docs, FindKeys, KeySpec, KeySpecFlags,
}};
"""


def generate(port, names):
    connection = Connection(port)
    connection.request("HELLO", "3")
    version = expect(connection.request("INFO", "server"), "bulk")
    version = re.search(r"redis_version:(\S+)", version).group(1)
    if not version.startswith("7.0."):
        raise Shape("redis-server %s is not 7.0" % version)
    out = [HEADER.format(version=version)]
    for name in sorted(set(names)):
        info = expect(connection.request("COMMAND", "INFO", name), "array")
        if info[0] == ("null",):
            raise Shape("redis-server %s has no command %r" % (version, name))
        docs = expect(connection.request("COMMAND", "DOCS", name), "map")
        if len(docs) != 1:
            raise Shape("COMMAND DOCS %s: %r" % (name, docs))
        out.append("\n" + command_meta(name, info[0], docs[0][1]))
    return "".join(out)


def start_redis():
    directory = tempfile.mkdtemp(prefix="gen-command-meta-")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port, directory
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise Shape("redis-server did not start on port %d" % port)


def checked_in_names():
    with open(OUTPUT) as source:
        return re.findall(r"^    name: \"([^\"]+)\",$", source.read(), re.MULTILINE)


def main(arguments):
    write = "--write" in arguments
    names = [name.lower() for name in arguments if name != "--write"]
    if write:
        names += checked_in_names()
    if not names:
        sys.exit(__doc__)
    process, port, directory = start_redis()
    try:
        text = generate(port, names)
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(directory, ignore_errors=True)
    if write:
        with open(OUTPUT, "w") as output:
            output.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Shape as error:
        sys.exit("gen-command-meta: %s" % error)
