//! The JSON the monitor serves (the page reads nothing else): what a runtime and a node
//! snapshot say, shaped for a browser, and the task table's filter, sort and paging.

use rycos::dist::{NodeSnapshot, PeerSnapshot};
use rycos::runtime::{RuntimeSnapshot, TaskSnapshot, TaskState, WorkerSnapshot};
use serde::Serialize;

/// `GET /api/runtime`, and the `summary` event of `/api/events` (with `node`).
#[derive(Debug, Serialize)]
pub struct Summary {
    pub uptime_ms: u64,
    pub live_tasks: usize,
    /// Listed tasks by state (`running`, `queued`, `receiving`, `suspended`, `waiting`).
    pub states: StateCounts,
    /// Messages waiting in all listed mailboxes.
    pub queued_messages: usize,
    pub global_queue: usize,
    pub timers: usize,
    pub workers: Vec<Worker>,
    /// Present when a node is attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<Node>,
}

#[derive(Debug, Default, Serialize)]
pub struct StateCounts {
    pub running: usize,
    pub queued: usize,
    pub receiving: usize,
    pub suspended: usize,
    pub waiting: usize,
}

#[derive(Debug, Serialize)]
pub struct Worker {
    pub index: usize,
    pub polls: u64,
    pub steals: u64,
    pub unparks: u64,
    pub queued: usize,
    pub parked: bool,
    pub running: Option<u64>,
}

/// One row of the task table, and `GET /api/tasks/{id}`.
#[derive(Debug, Serialize)]
pub struct Task {
    pub id: u64,
    pub name: Option<String>,
    pub state: &'static str,
    /// `null` for a task without a mailbox.
    pub mailbox: Option<usize>,
    pub polls: u32,
    pub age_ms: u64,
    pub idle_ms: u64,
    pub daemon: bool,
    /// `file:line:column`.
    pub spawned_at: String,
    /// Monitors, names and exports waiting for the task's end.
    pub exit_hooks: usize,
}

/// `GET /api/tasks`.
#[derive(Debug, Serialize)]
pub struct TaskPage {
    /// Listed tasks in the snapshot.
    pub total: usize,
    /// Of those, the ones the filter kept.
    pub matched: usize,
    pub offset: usize,
    pub tasks: Vec<Task>,
}

/// `GET /api/node`, and `node` in a summary.
#[derive(Debug, Serialize)]
pub struct Node {
    pub location: String,
    pub peers: Vec<Peer>,
    pub names: Vec<Name>,
}

#[derive(Debug, Serialize)]
pub struct Peer {
    pub location: String,
    pub state: &'static str,
    /// `null` before the first heartbeat probe came back.
    pub rtt_us: Option<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub unacknowledged: usize,
}

#[derive(Debug, Serialize)]
pub struct Name {
    pub name: String,
    pub task: u64,
    pub type_name: String,
}

impl Summary {
    pub fn of(snapshot: &RuntimeSnapshot, node: Option<&NodeSnapshot>) -> Summary {
        let mut states = StateCounts::default();
        for task in &snapshot.tasks {
            *match task.state {
                TaskState::Running => &mut states.running,
                TaskState::Queued => &mut states.queued,
                TaskState::Receiving => &mut states.receiving,
                TaskState::Suspended => &mut states.suspended,
                _ => &mut states.waiting,
            } += 1;
        }
        Summary {
            uptime_ms: snapshot.uptime.as_millis() as u64,
            live_tasks: snapshot.live_tasks,
            states,
            queued_messages: snapshot.tasks.iter().filter_map(|t| t.mailbox).sum(),
            global_queue: snapshot.global_queue,
            timers: snapshot.timers,
            workers: snapshot.workers.iter().map(Worker::of).collect(),
            node: node.map(Node::of),
        }
    }
}

impl Worker {
    fn of(worker: &WorkerSnapshot) -> Worker {
        Worker {
            index: worker.index,
            polls: worker.polls,
            steals: worker.steals,
            unparks: worker.unparks,
            queued: worker.queued,
            parked: worker.parked,
            running: worker.running.map(|id| id.as_u64()),
        }
    }
}

impl Task {
    pub fn of(task: &TaskSnapshot) -> Task {
        let at = task.spawned_at;
        Task {
            id: task.id.as_u64(),
            name: task.name.as_deref().map(str::to_owned),
            state: task.state.as_str(),
            mailbox: task.mailbox,
            polls: task.polls,
            age_ms: task.age.as_millis() as u64,
            idle_ms: task.since_last_poll.as_millis() as u64,
            daemon: task.daemon,
            spawned_at: format!("{}:{}:{}", at.file(), at.line(), at.column()),
            exit_hooks: task.exit_hooks,
        }
    }
}

impl Node {
    pub fn of(node: &NodeSnapshot) -> Node {
        Node {
            location: node.location.to_string(),
            peers: node.peers.iter().map(Peer::of).collect(),
            names: node
                .names
                .iter()
                .map(|n| Name { name: n.name.clone(), task: n.task.as_u64(), type_name: n.type_name.clone() })
                .collect(),
        }
    }
}

impl Peer {
    fn of(peer: &PeerSnapshot) -> Peer {
        Peer {
            location: peer.location.to_string(),
            state: peer.state.as_str(),
            rtt_us: peer.rtt.map(|rtt| rtt.as_micros() as u64),
            bytes_in: peer.bytes_in,
            bytes_out: peer.bytes_out,
            messages_in: peer.messages_in,
            messages_out: peer.messages_out,
            unacknowledged: peer.unacknowledged,
        }
    }
}

/// What the task table asks for: `?name=&state=&sort=&order=&offset=&limit=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskQuery {
    /// Kept: tasks whose name contains this (case-insensitive); empty keeps all.
    pub name: String,
    /// Kept: tasks in this state; `None` keeps all.
    pub state: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

/// The column the task table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Name,
    State,
    Mailbox,
    Polls,
    Age,
    Idle,
}

/// The most rows one page returns.
pub const MAX_LIMIT: usize = 1_000;

impl TaskQuery {
    /// Parses a query string; unknown keys are ignored, bad values are an error for the client.
    pub fn parse(query: &str) -> Result<TaskQuery, String> {
        let mut parsed = TaskQuery {
            name: String::new(),
            state: None,
            sort: SortKey::Id,
            descending: false,
            offset: 0,
            limit: 100,
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "name" => parsed.name = value.to_lowercase(),
                "state" if value.is_empty() || value == "all" => parsed.state = None,
                "state" => match &*value {
                    "running" | "queued" | "receiving" | "suspended" | "waiting" => {
                        parsed.state = Some(value.into_owned())
                    }
                    other => return Err(format!("unknown state {other:?}")),
                },
                "sort" => {
                    parsed.sort = match &*value {
                        "id" => SortKey::Id,
                        "name" => SortKey::Name,
                        "state" => SortKey::State,
                        "mailbox" => SortKey::Mailbox,
                        "polls" => SortKey::Polls,
                        "age" => SortKey::Age,
                        "idle" => SortKey::Idle,
                        other => return Err(format!("cannot sort by {other:?}")),
                    }
                }
                "order" => {
                    parsed.descending = match &*value {
                        "asc" => false,
                        "desc" => true,
                        other => return Err(format!("order is asc or desc, not {other:?}")),
                    }
                }
                "offset" => parsed.offset = value.parse().map_err(|_| format!("bad offset {value:?}"))?,
                "limit" => {
                    let limit: usize = value.parse().map_err(|_| format!("bad limit {value:?}"))?;
                    parsed.limit = limit.clamp(1, MAX_LIMIT);
                }
                _ => {}
            }
        }
        Ok(parsed)
    }

    /// The page of `tasks` this query asks for.
    pub fn page(&self, tasks: &[TaskSnapshot]) -> TaskPage {
        let mut kept: Vec<&TaskSnapshot> = tasks
            .iter()
            .filter(|t| self.state.as_deref().is_none_or(|s| t.state.as_str() == s))
            .filter(|t| {
                self.name.is_empty()
                    || t.name.as_deref().is_some_and(|n| n.to_lowercase().contains(&self.name))
            })
            .collect();
        let matched = kept.len();
        // Stable, and by id within equal keys, so pages do not shuffle between refreshes.
        match self.sort {
            SortKey::Id => {}
            SortKey::Name => kept.sort_by(|a, b| a.name.cmp(&b.name)),
            SortKey::State => kept.sort_by_key(|t| t.state.as_str()),
            SortKey::Mailbox => kept.sort_by_key(|t| t.mailbox),
            SortKey::Polls => kept.sort_by_key(|t| t.polls),
            SortKey::Age => kept.sort_by_key(|t| t.age),
            SortKey::Idle => kept.sort_by_key(|t| t.since_last_poll),
        }
        if self.descending {
            kept.reverse();
        }
        let rows = kept.into_iter().skip(self.offset).take(self.limit).map(Task::of).collect();
        TaskPage { total: tasks.len(), matched, offset: self.offset, tasks: rows }
    }
}
