//! Sixteen node processes in a full mesh: each locates a name registered on every other; four
//! are killed with SIGKILL, and each of the twelve left sees `PeerDown` for exactly those four
//! and keeps its links to the other eleven.

mod common;

use common::child::{TestChild, follow_stdin};
use rycos::Cx;
use rycos::dist::{Node, PeerEvent};
use std::collections::BTreeSet;
use std::time::Duration;

const NODES: usize = 16;
const KILLED: usize = 4;
const INDEX_VAR: &str = "RYCOS_MESH_INDEX";
const SECRET: &str = "mesh";

/// What the parent tells a mesh node on its stdin.
enum Command {
    /// Every node's address, own included.
    Addresses(Vec<String>),
    /// Print how many peers are linked now.
    Report,
}

/// One node of the mesh, run only in a child process.
#[test]
#[ignore = "a node of the mesh: started by the test below"]
fn child_mesh_node() {
    let index: usize = std::env::var(INDEX_VAR).expect("started by the mesh test").parse().unwrap();
    let runtime = rycos::Runtime::builder().worker_threads(1).build().unwrap();
    runtime.block_on(async move {
        let node = Node::builder()
            .name(format!("mesh-{index}"))
            .listen("127.0.0.1:0".parse().unwrap())
            .secret(SECRET)
            .heartbeat(Duration::from_millis(100), 10)
            .grace(Duration::from_millis(300))
            .start()
            .await
            .unwrap();
        let (task, _) =
            rycos::spawn_task_joinable(|cx: Cx<u64>| async move { while cx.receive().await.is_some() {} });
        node.register(&format!("task-{index}"), &task).unwrap();
        let mut events = node.peer_events();
        let (commands, _) = rycos::spawn_task_joinable({
            let node = node.clone();
            move |cx: Cx<Command>| async move {
                while let Some(command) = cx.receive().await {
                    match command {
                        Command::Addresses(all) => join(&node, index, &all).await,
                        Command::Report => println!("peers {}", node.peers().len()),
                    }
                }
            }
        });
        follow_stdin(move |line| {
            let command = match line.strip_prefix("addresses ") {
                Some(all) => Command::Addresses(all.split_whitespace().map(str::to_owned).collect()),
                None => Command::Report,
            };
            let _ = commands.send(command);
        });
        println!("listening {}", node.location().addr());
        while let Some(event) = events.next().await {
            if let PeerEvent::Down { location, .. } = event {
                println!("down {}", location.name());
            }
        }
    });
}

/// Links to the nodes after this one (those before link to it), waits until it is linked to
/// every other, then locates every other node's name.
async fn join(node: &Node, index: usize, all: &[String]) {
    // Subscribed before the links are counted: none comes up unseen.
    let mut events = node.peer_events();
    for addr in &all[index + 1..] {
        node.peer(addr).await.unwrap_or_else(|e| panic!("mesh-{index} could not link to {addr}: {e}"));
    }
    let linked = async {
        while node.peers().len() < all.len() - 1 {
            events.next().await.expect("the node is up");
        }
    };
    rycos::time::timeout(Duration::from_secs(60), linked)
        .await
        .unwrap_or_else(|_| panic!("mesh-{index} linked to only {} peers", node.peers().len()));
    for other in (0..all.len()).filter(|&other| other != index) {
        let name = format!("task-{other}");
        let found = node
            .locate::<u64>(&name, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("mesh-{index} could not locate {name}: {e}"));
        assert_eq!(found.location().unwrap().name(), format!("mesh-{other}"));
    }
    println!("located {}", all.len() - 1);
}

#[test]
fn sixteen_processes_mesh_and_the_survivors_see_exactly_the_killed_go_down() {
    let _guard = common::watchdog(Duration::from_secs(180));
    let limit = Duration::from_secs(90);
    let mut nodes: Vec<TestChild> =
        (0..NODES).map(|i| TestChild::start("child_mesh_node", &[(INDEX_VAR, i.to_string())])).collect();
    let addresses: Vec<String> = nodes.iter_mut().map(|node| node.expect("listening ", limit)).collect();
    let line = format!("addresses {}", addresses.join(" "));
    for node in &mut nodes {
        node.say(&line);
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        assert_eq!(node.expect("located ", limit), (NODES - 1).to_string(), "mesh-{i}");
    }
    let killed: BTreeSet<String> = (NODES - KILLED..NODES).map(|i| format!("mesh-{i}")).collect();
    for node in &mut nodes[NODES - KILLED..] {
        node.kill();
    }
    for (i, node) in nodes[..NODES - KILLED].iter_mut().enumerate() {
        let mut down = BTreeSet::new();
        while down.len() < KILLED {
            let name = node.expect("down ", limit);
            assert!(killed.contains(&name), "mesh-{i} saw {name} go down, which was not killed");
            assert!(down.insert(name), "mesh-{i} saw a node go down twice");
        }
        node.say("report");
        assert_eq!(
            node.expect("peers ", limit),
            (NODES - KILLED - 1).to_string(),
            "mesh-{i} lost a live peer"
        );
    }
}
