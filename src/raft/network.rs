//! openraft's network, on a [`Transport`].
//!
//! openraft asks for one client per peer ([`RaftNetworkFactory::new_client`]) and calls it for
//! append entries, votes and snapshot chunks. Each call becomes one [`PeerRequest`] on the
//! node's transport, with openraft's hard deadline as its timeout. The mapping of failures is
//! what openraft's retry logic expects:
//! - [`CallError::Unreachable`] becomes `RPCError::Unreachable`, which makes openraft back off
//!   before the next attempt (a dead peer is not hammered);
//! - [`CallError::Lost`] becomes `RPCError::Network`, retried at openraft's own pace;
//! - an error the peer returned (it is shutting down, say) becomes `RPCError::RemoteError`.
//!
//! A node with no peers (a one-member cluster) never calls its network.

use std::sync::Arc;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

use super::peer::{CallError, PeerRequest, PeerResponse, Transport};
use super::{NodeId, TypeConfig};

/// Makes a [`Peer`] for every node openraft wants to talk to.
pub struct Network {
    transport: Arc<dyn Transport>,
}

impl Network {
    /// Dials peers through `transport`.
    pub fn new(transport: Arc<dyn Transport>) -> Network {
        Network { transport }
    }
}

/// openraft's client for one peer.
pub struct Peer {
    target: NodeId,
    node: BasicNode,
    transport: Arc<dyn Transport>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        self.transport.learn_address(target, &node.addr);
        Peer { target, node: node.clone(), transport: Arc::clone(&self.transport) }
    }
}

type RpcResult<T, E = RaftError<NodeId>> = Result<T, RPCError<NodeId, BasicNode, E>>;

impl Peer {
    /// Sends `request` and returns the peer's response, or openraft's form of the failure.
    async fn call<E: std::error::Error>(
        &self,
        request: PeerRequest,
        option: &RPCOption,
    ) -> RpcResult<PeerResponse, E> {
        self.transport.call(self.target, request, option.hard_ttl()).await.map_err(|error| {
            let io_error = std::io::Error::other(error.to_string());
            match error {
                CallError::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&io_error)),
                CallError::Lost { .. } => RPCError::Network(NetworkError::new(&io_error)),
            }
        })
    }

    // openraft's error type is what openraft's trait returns; it is not ours to shrink.
    #[allow(clippy::result_large_err)]
    fn remote<T, E: std::error::Error>(&self, result: Result<T, E>) -> RpcResult<T, E> {
        result.map_err(|error| {
            RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), error))
        })
    }

    fn mismatch<E: std::error::Error>(
        &self,
        response: &PeerResponse,
    ) -> RPCError<NodeId, BasicNode, E> {
        let error = std::io::Error::other(format!(
            "node {} answered with a {} response to a different request",
            self.target,
            response.kind()
        ));
        RPCError::Network(NetworkError::new(&error))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        match self.call(PeerRequest::AppendEntries(request), &option).await? {
            PeerResponse::AppendEntries(result) => self.remote(result),
            other => Err(self.mismatch(&other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        request: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        match self.call(PeerRequest::InstallSnapshot(request), &option).await? {
            PeerResponse::InstallSnapshot(result) => self.remote(result),
            other => Err(self.mismatch(&other)),
        }
    }

    async fn vote(
        &mut self,
        request: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        match self.call(PeerRequest::Vote(request), &option).await? {
            PeerResponse::Vote(result) => self.remote(result),
            other => Err(self.mismatch(&other)),
        }
    }
}

/// The transport of a one-member cluster: there is nobody to call.
pub struct NoPeers;

impl Transport for NoPeers {
    fn call(
        &self,
        target: NodeId,
        _request: PeerRequest,
        _timeout: std::time::Duration,
    ) -> super::peer::BoxFuture<'static, Result<PeerResponse, CallError>> {
        Box::pin(async move {
            Err(CallError::Unreachable {
                target,
                reason: "this node runs alone (no --peers were given)".into(),
            })
        })
    }
}
