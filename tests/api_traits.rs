//! The handles' auto traits, pinned so a change cannot slip through unnoticed.
use rycos::{AnyTaskRef, Cx, JoinError, JoinHandle, Runtime, TaskRef};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}
fn clone<T: Clone>() {}

#[test]
fn handles_are_send_and_sync() {
    send_sync::<TaskRef<String>>();
    send_sync::<TaskRef<std::cell::Cell<u8>>>(); // the messages need only be Send
    send_sync::<AnyTaskRef>();
    send_sync::<JoinHandle<Vec<u8>>>();
    send_sync::<JoinError>();
    send_sync::<Runtime>();
    send_sync::<rycos::Handle>();
    send::<Cx<String>>();
    clone::<TaskRef<String>>();
    clone::<AnyTaskRef>();
    clone::<rycos::Handle>();
}

/// The size budget of a task handle: one word, for a task of this process or of another node
/// alike, so that a reply address does not grow every message that carries it (a two-word
/// handle cost ping_pong up to 25 %: BENCHMARKS.md, issue 13); and `Option` of it costs nothing.
#[test]
fn task_handles_are_one_word() {
    let word = std::mem::size_of::<usize>();
    assert_eq!(std::mem::size_of::<TaskRef<String>>(), word, "TaskRef");
    assert_eq!(std::mem::size_of::<AnyTaskRef>(), word, "AnyTaskRef");
    assert_eq!(std::mem::size_of::<Option<TaskRef<String>>>(), word, "Option<TaskRef>");
    // The shape of the benchmark's ping_pong message: a handle or a number, two words.
    #[allow(dead_code)]
    enum Ping {
        Peer(TaskRef<Ping>),
        N(u64),
    }
    assert_eq!(std::mem::size_of::<Ping>(), 2 * word, "Ping");
}
