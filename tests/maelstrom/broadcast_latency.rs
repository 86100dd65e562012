//! Broadcast latency and message counts under a fixed network latency.
