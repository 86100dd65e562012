//! PUBLISH inside apply: a message becomes an output of its entry.
//!
//! Apply does not know who is subscribed (subscriptions are per connection, per node), so a
//! PUBLISH's reply here is a placeholder 0 and its message an [`Output::Message`] naming the
//! reply's place. The node delivers the message to its local subscribers and puts the number
//! that received it in that place. With several nodes, that count is the answering node's
//! alone (Redis Cluster's PUBLISH counts the same way, per node).
//!
//! Messages are collected after each request from the request itself, so PUBLISH needs no
//! path of its own through the families: a PUBLISH inside an EXEC that ran (its reply is an
//! array) is delivered, one inside an EXEC that WATCH aborted is not.

use crate::command::transactions::Operation;
use crate::command::Write;
use crate::resp::Frame;

use super::outputs::{Output, ReplyPlace};

/// Appends the messages `write` (the request at `position`, answered `reply`) published.
pub(super) fn collect(write: &Write, reply: &Frame, position: usize, outputs: &mut Vec<Output>) {
    match (write, reply) {
        (Write::Publish(publish), _) => outputs.push(Output::Message {
            channel: publish.channel.clone(),
            message: publish.message.clone(),
            reply: ReplyPlace { position, step: 0 },
        }),
        (Write::Transaction(transaction), Frame::Array(_)) => {
            for (index, step) in transaction.steps.iter().enumerate() {
                if let Operation::Write(Write::Publish(publish)) = &step.operation {
                    outputs.push(Output::Message {
                        channel: publish.channel.clone(),
                        message: publish.message.clone(),
                        reply: ReplyPlace { position, step: index + 1 },
                    });
                }
            }
        }
        _ => {}
    }
}
