//! A node seen from outside while it runs: its peers (link state, round-trip time, traffic,
//! what waits to be acknowledged) and the names it shares, for monitors and logs.

use super::link::LinkView;
use super::location::Location;
use super::node::NodeInner;
use crate::task::TaskId;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// What [`Node::snapshot`](super::Node::snapshot) saw.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeSnapshot {
    /// This node.
    pub location: Location,
    /// Every peer it has a link to (up, being dialled, or reconnecting within the grace
    /// period), by location.
    pub peers: Vec<PeerSnapshot>,
    /// The names peers can locate here, by name.
    pub names: Vec<NameSnapshot>,
}

/// One peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerSnapshot {
    /// Where it is and what it calls itself.
    pub location: Location,
    /// The link's state.
    pub state: LinkState,
    /// The time the last heartbeat probe took to come back (`None` before the first).
    pub rtt: Option<Duration>,
    /// Bytes read from and written to its connections (frames, headers included).
    pub bytes_in: u64,
    /// See `bytes_in`.
    pub bytes_out: u64,
    /// Envelopes received from it and queued for it (a message in chunks counts once).
    pub messages_in: u64,
    /// See `messages_in`.
    pub messages_out: u64,
    /// Bytes sent or queued that it has not acknowledged yet: what the outbound limit counts.
    pub unacknowledged: usize,
}

/// Where a link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkState {
    /// No connection yet: being dialled, or made for a reference to one of its tasks.
    Connecting,
    /// A connection carries it.
    Up,
    /// Its connection broke; it is being redialled until the grace period ends.
    Reconnecting,
}

impl LinkState {
    /// The state as a word (`connecting`, `up`, `reconnecting`).
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Up => "up",
            LinkState::Reconnecting => "reconnecting",
        }
    }
}

/// A name shared through the node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameSnapshot {
    /// The name.
    pub name: String,
    /// The task registered under it.
    pub task: TaskId,
    /// The stable name of the task's message type, as `locate` checks it.
    pub type_name: String,
}

/// The snapshot of `node`.
pub(crate) fn take(node: &NodeInner) -> NodeSnapshot {
    let mut peers: Vec<PeerSnapshot> = node
        .links_snapshot()
        .into_iter()
        .filter(|link| !link.is_down())
        .map(|link| {
            let LinkView { connected, ever_connected, messages_out, unacknowledged } = link.view();
            let counters = &link.counters;
            let rtt_us = counters.rtt_us.load(Relaxed);
            PeerSnapshot {
                location: link.location.clone(),
                state: match (connected, ever_connected) {
                    (true, _) => LinkState::Up,
                    (false, true) => LinkState::Reconnecting,
                    (false, false) => LinkState::Connecting,
                },
                rtt: (rtt_us > 0).then(|| Duration::from_micros(rtt_us)),
                bytes_in: counters.bytes_in.load(Relaxed),
                bytes_out: counters.bytes_out.load(Relaxed),
                messages_in: counters.messages_in.load(Relaxed),
                messages_out,
                unacknowledged,
            }
        })
        .collect();
    peers.sort_by(|a, b| a.location.cmp(&b.location));
    let shared: Vec<(String, u64)> = node.names.lock().iter().map(|(name, id)| (name.clone(), *id)).collect();
    let mut names: Vec<NameSnapshot> = {
        let exports = node.exports.lock();
        shared
            .into_iter()
            .filter_map(|(name, id)| {
                let export = exports.get(&id)?;
                Some(NameSnapshot { name, task: export.task.id(), type_name: export.type_name.clone() })
            })
            .collect()
    };
    names.sort_by(|a, b| a.name.cmp(&b.name));
    NodeSnapshot { location: node.location.clone(), peers, names }
}
