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

#[test]
fn task_ref_is_one_pointer() {
    assert_eq!(std::mem::size_of::<TaskRef<String>>(), std::mem::size_of::<usize>());
    assert_eq!(std::mem::size_of::<Option<TaskRef<String>>>(), std::mem::size_of::<usize>());
}
