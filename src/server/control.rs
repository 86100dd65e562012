//! Execution of control commands: the ones about the connection or the node.

use std::sync::atomic::Ordering;

use super::connection::Connection;
use crate::command::control::Control;
use crate::resp::Frame;

pub(super) async fn execute(connection: &mut Connection, control: Control) -> Frame {
    match control {
        Control::Ping { message: None } => Frame::simple("PONG"),
        Control::Ping { message: Some(message) } => Frame::Bulk(message),
        Control::Echo { message } => Frame::Bulk(message),
        Control::Select { db } => {
            connection.session.db = db;
            connection.client.db.store(db, Ordering::Relaxed);
            Frame::ok()
        }
        Control::Quit => {
            connection.session.close_after_reply = true;
            Frame::ok()
        }
    }
}
