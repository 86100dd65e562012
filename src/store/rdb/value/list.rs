//! A list's record: Redis 7.0's quicklist (`RDB_TYPE_LIST_QUICKLIST_2`), the number of nodes,
//! then for each its container (2, a listpack; 1, a "plain" node of one element) and its
//! bytes as an RDB string (so LZF-compressed when that saves space, by `string::write`).
//!
//! Where the nodes are cut is Redis's `quicklistPushTail` under the default
//! `list-max-listpack-size -2`: an element joins the tail node while the node's size plus the
//! element's length plus 8 stays within 8 KiB, otherwise it starts a new node. A list whose
//! elements all came by RPUSH therefore dumps to Redis's bytes. Redis makes a plain node only
//! for an element of 1 GiB or more, which a Concord string never reaches, so Concord writes
//! listpack nodes only and reads both.

use bytes::Bytes;

use super::super::{listpack, string};
use super::{legacy, read_count, TYPE_LIST_QUICKLIST, TYPE_LIST_QUICKLIST_2};
use crate::command::lists::ListEnd;
use crate::store::ListValue;

/// A quicklist node's container: one element as it is.
const CONTAINER_PLAIN: u64 = 1;
/// A quicklist node's container: a listpack.
const CONTAINER_PACKED: u64 = 2;
/// `list-max-listpack-size -2`: the most bytes a node may reach.
const NODE_BYTES_MAX: usize = 8192;
/// `SIZE_ESTIMATE_OVERHEAD`: what Redis adds to an element's length to estimate its cost.
const ELEMENT_OVERHEAD_BYTES: usize = 8;

pub(super) fn write(record: &mut Vec<u8>, list: &ListValue) {
    let mut nodes = Vec::new();
    let mut node = listpack::Writer::new();
    for element in list.iter() {
        if !node.is_empty() && node.len() + element.len() + ELEMENT_OVERHEAD_BYTES > NODE_BYTES_MAX
        {
            nodes.push(std::mem::take(&mut node).finish());
        }
        node.push(element);
    }
    if !node.is_empty() {
        nodes.push(node.finish());
    }
    record.push(TYPE_LIST_QUICKLIST_2);
    string::write_length(record, nodes.len() as u64);
    for node in nodes {
        string::write_length(record, CONTAINER_PACKED);
        string::write(record, &node);
    }
}

/// A quicklist of listpacks (18) or of ziplists (14). Empty nodes are skipped, as Redis skips
/// them, but a list with no element at all is damaged.
pub(super) fn read(kind: u8, record: &mut string::Reader) -> Option<ListValue> {
    let nodes = read_count(record)?;
    let mut list = ListValue::new();
    for _ in 0..nodes {
        let container = match kind {
            TYPE_LIST_QUICKLIST_2 => record.length()?,
            TYPE_LIST_QUICKLIST => CONTAINER_PACKED,
            _ => return None,
        };
        let bytes = record.string()?;
        if bytes.is_empty() {
            return None;
        }
        match (container, kind) {
            (CONTAINER_PLAIN, _) => list.push(ListEnd::Right, Bytes::from(bytes)),
            (CONTAINER_PACKED, TYPE_LIST_QUICKLIST_2) => {
                for element in listpack::read(&bytes)? {
                    list.push(ListEnd::Right, Bytes::from(element.to_vec()));
                }
            }
            (CONTAINER_PACKED, _) => {
                for element in legacy::ziplist(&bytes)? {
                    list.push(ListEnd::Right, Bytes::from(element.to_vec()));
                }
            }
            _ => return None,
        }
    }
    (!list.is_empty()).then_some(list)
}

/// `RDB_TYPE_LIST`: the count, then each element.
pub(super) fn read_plain(record: &mut string::Reader) -> Option<ListValue> {
    let count = read_count(record)?;
    let mut list = ListValue::new();
    for _ in 0..count {
        list.push(ListEnd::Right, Bytes::from(record.string()?));
    }
    (!list.is_empty()).then_some(list)
}
