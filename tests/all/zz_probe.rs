use std::time::{Duration, Instant};
use zapwasm_host::{Bundle, Invocation, Limits, Policy};
use zapwasm_tests::{HOSTILE, host_builder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_log_flood() {
    let limits = Limits { timeout: Duration::from_secs(10), memory_bytes: 64 << 20, ..Limits::default() };
    let app = host_builder()
        .policy(Policy { limits, allow_http: true, ..Policy::default() })
        .build()
        .unwrap()
        .load_file(HOSTILE)
        .await
        .unwrap();
    for others in [
        vec![],
        vec!["spin"],
        vec!["memory_bomb"],
        vec!["recurse"],
        vec!["huge_result"],
        vec!["open_socket"],
        vec!["read_files"],
    ] {
        let t = Instant::now();
        let mut calls = vec!["log_flood"];
        calls.extend(others.iter());
        let runs = calls.iter().map(|m| {
            let app = &app;
            async move {
                let t = Instant::now();
                let o =
                    app.invoke(Invocation::local(format!("triggers.{m}.operation.perform"), Bundle::default())).await;
                format!("{m}: {:?} {:?}", t.elapsed(), o.result.err())
            }
        });
        let r = futures::future::join_all(runs).await;
        println!("{:?} {r:?}", t.elapsed());
    }
}
