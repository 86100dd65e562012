//! The crate's one error type for everything that is not a reply to a client.
//!
//! Errors a client sees are reply frames with Redis's exact text (`command::CommandError`);
//! this type is for the node itself: configuration, IO, start-up and the failures that stop it.

use std::io;

/// The crate's result type; the error defaults to `Error`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the node could not start, or stopped: every failure that is not a reply to a client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An option is invalid; the text names it.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The listener could not bind its address.
    #[error("cannot listen on {address}: {source}{hint}")]
    Bind {
        /// The address given, as written in the configuration.
        address: String,
        /// Advice appended to the message for a common cause (such as the port being in use), or empty.
        hint: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// An IO operation failed; `context` says which and on what.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, and on which file or address.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A node answered a command-line request (`concord admin`, `concord status`) with an
    /// error, or with something that was not the expected reply.
    #[error("the node answered: {0}")]
    Remote(String),

    /// The data directory cannot be used (locked, foreign, or of another format version).
    #[error("data directory: {0}")]
    DataDirectory(String),

    /// The log or a snapshot could not be read or written; the node cannot go on.
    #[error("storage failed: {0}")]
    Storage(String),

    /// `concord import` refused its file, or stopped part way; the text says how far it got.
    #[error("import failed: {0}")]
    Import(String),

    /// The node has stopped (shutdown or a fatal error) and takes no more requests.
    #[error("the node is shutting down")]
    NodeStopped,
}
