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

/// The size budget of a task handle: at most two words (a tag and a pointer: the local arm or
/// the remote one the distribution layer adds), so that a reply address does not grow every
/// message that carries it; and `Option` of it costs nothing.
#[test]
fn task_handles_stay_within_two_words() {
    let word = std::mem::size_of::<usize>();
    for (what, size) in [
        ("TaskRef", std::mem::size_of::<TaskRef<String>>()),
        ("AnyTaskRef", std::mem::size_of::<AnyTaskRef>()),
    ] {
        assert!(size <= 2 * word, "{what} is {size} bytes");
    }
    assert_eq!(std::mem::size_of::<Option<TaskRef<String>>>(), std::mem::size_of::<TaskRef<String>>());
}
