use std::time::{Duration, Instant};
fn main() {
    let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    let t = Instant::now();
    let n = rt.block_on(async {
        let hs: Vec<_> = (0..100_000u64).map(|i| rycos::spawn(async move { i })).collect();
        let mut s = 0; for h in hs { s += h.await.unwrap(); } s
    });
    println!("spawn 100k: {:?} sum={n}", t.elapsed());
    let t = Instant::now();
    rt.block_on(async {
        let (pong, _) = rycos::spawn_task_joinable(|cx: rycos::Cx<rycos::TaskRef<u32>>| async move {
            while let Some(r) = cx.receive().await { let _ = r.send(1); }
        });
        let (_, h) = rycos::spawn_task_joinable(move |cx: rycos::Cx<u32>| async move {
            let me = cx.me();
            for _ in 0..1_000_000 { pong.send(me.clone()).unwrap(); cx.receive().await.unwrap(); }
        });
        h.await.unwrap();
    });
    println!("ping-pong 1M: {:?}", t.elapsed());
    let t = Instant::now();
    rt.block_on(async { rycos::time::sleep(Duration::from_millis(10)).await });
    println!("sleep 10ms: {:?}", t.elapsed());
    let t = Instant::now();
    rt.block_on(async {
        let hs: Vec<_> = (0..100_000u64).map(|i| rycos::spawn(async move { rycos::time::sleep(Duration::from_millis(i % 100)).await })).collect();
        for h in hs { h.await.unwrap(); }
    });
    println!("100k sleeps: {:?}", t.elapsed());
}
