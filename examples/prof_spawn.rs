fn main() {
    let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    let mut v = Vec::new();
    for _ in 0..15 {
        let before = rt.metrics().worker_unparks;
        let t = std::time::Instant::now();
        rt.block_on(async {
            rycos::spawn(async {
                let handles: Vec<_> = (0..1_000_000usize).map(|i| rycos::spawn(async move { i })).collect();
                for h in handles {
                    std::hint::black_box(h.await.unwrap());
                }
            })
            .await
            .unwrap()
        });
        v.push((t.elapsed().as_secs_f64() * 1e3, rt.metrics().worker_unparks - before));
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("min {:.0} median {:.0} unparks(median run) {}", v[0].0, v[v.len() / 2].0, v[v.len() / 2].1);
}
