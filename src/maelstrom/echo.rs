//! The `echo` workload: `echo` is answered with `echo_ok` carrying the same `echo` value.
//!
//! It holds no state; it exists to check the wire protocol end to end.

use serde_json::json;

use super::{ErrorCode, Message, Outgoing, Workload, WorkloadError};

/// The echo workload.
pub struct Echo;

impl Workload for Echo {
    fn init(&mut self, _node_id: &str, _node_ids: &[String]) -> Result<(), WorkloadError> {
        Ok(())
    }

    fn handle(&mut self, message: &Message, _now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        match message.kind() {
            "echo" => {
                let echo = message.field("echo")?.clone();
                Ok(vec![Outgoing::reply(message, json!({"type": "echo_ok", "echo": echo}))])
            }
            other => Err(WorkloadError::new(
                ErrorCode::NotSupported,
                format!("echo does not support {other:?}"),
            )),
        }
    }
}
