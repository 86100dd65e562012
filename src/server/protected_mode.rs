//! Protected mode, as Redis 7.0's: while `protected-mode` is `yes` (the default) and the
//! default user needs no password, a client that connects from an address other than
//! loopback gets Redis's `-DENIED` text and is closed before it can send anything.
//!
//! A node started without a password is open to whoever reaches its port; protected mode
//! keeps that to the local machine until someone sets a password (or turns protection off
//! deliberately), so a node exposed by a mistaken `bind` is not a database for the network.
//! As in Redis 7.0, the address the node is bound to does not matter, only the client's; the
//! check runs once per connection, after `maxclients`.
//!
//! "Needs no password" is judged as AUTH judges it: by a `requirepass` not yet applied
//! through the log while there is one, else by the replicated default user's `nopass`.

use std::net::IpAddr;

use super::Shared;

/// Redis 7.0's reply to a client refused by protected mode, word for word (tools match it).
pub const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected \
mode is enabled and no password is set for the default user. In this mode connections are \
only accepted from the loopback interface. If you want to connect from external computers to \
Redis you may adopt one of the following solutions: 1) Just disable protected mode sending \
the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis \
from the same host the server is running, however MAKE SURE Redis is not publicly accessible \
from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) \
Alternatively you can just disable the protected mode by editing the Redis configuration \
file, and setting the protected mode option to 'no', and then restarting the server. 3) If \
you started the server manually just for testing, restart it with the '--protected-mode no' \
option. 4) Setup a an authentication password for the default user. NOTE: You only need to \
do one of the above things in order for the server to start accepting connections from the \
outside.\r\n";

/// Whether a client from `peer` is refused by this node's protected mode now.
pub fn refuses(shared: &Shared, peer: IpAddr) -> bool {
    if !shared.settings.protected_mode() {
        return false;
    }
    let needs_no_password = match shared.settings.pending_password() {
        Some(pending) => pending.is_none(),
        None => shared.node.users().load().default_user().needs_no_password(),
    };
    decide(true, needs_no_password, peer)
}

/// The rule itself: protection on, no password for the default user, a client not on
/// loopback (an IPv4 address mapped into IPv6 counts as the IPv4 one).
fn decide(protected: bool, needs_no_password: bool, peer: IpAddr) -> bool {
    let loopback = match peer {
        IpAddr::V6(address) => {
            address.to_ipv4_mapped().map_or(address.is_loopback(), |v4| v4.is_loopback())
        }
        IpAddr::V4(address) => address.is_loopback(),
    };
    protected && needs_no_password && !loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_a_remote_client_of_a_passwordless_protected_node_is_refused() {
        for remote in ["192.0.2.2", "10.1.2.3", "fd00::2", "::ffff:192.0.2.2"] {
            assert!(decide(true, true, address(remote)), "{remote} was let in");
            assert!(!decide(false, true, address(remote)), "{remote}: protection was off");
            assert!(!decide(true, false, address(remote)), "{remote}: a password was set");
        }
        for local in ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"] {
            assert!(!decide(true, true, address(local)), "{local} is loopback");
        }
    }

    #[test]
    fn the_denial_is_one_resp_error_line() {
        assert!(DENIED.starts_with(b"-DENIED Redis is running in protected mode"));
        assert!(DENIED.ends_with(b"outside.\r\n"));
        assert_eq!(DENIED.iter().filter(|byte| **byte == b'\n').count(), 1);
    }
}
