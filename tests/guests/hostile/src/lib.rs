//! A hostile integration: every trigger is an attack on the sandbox. The
//! hostile-guest suite (tests/all/hostile.rs) runs each and checks it is held.
//!
//! Attacks that the sandbox should turn into a failure of the call (loops,
//! recursion, memory, floods) simply do their worst. Attacks that probe for
//! access (files, sockets, environment) report what they managed to reach, so
//! the test can assert they reached nothing.

use std::hint::black_box;

use zapwasm_guest::prelude::*;

fn attack(key: &'static str, perform: fn(&Z, &Bundle) -> Result<Value, ZError>) -> Trigger {
    Trigger::new(key, "Attack")
        .display(key, "An attack on the sandbox.")
        .operation(Operation::polling().perform(perform).sample(json!({"id": 1})))
}

/// Burn CPU forever.
fn spin(_: &Z, _: &Bundle) -> Result<Value, ZError> {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Recurse until the stack runs out.
fn recurse(_: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    fn down(depth: u64, pad: [u8; 256]) -> u64 {
        // Never true in practice; keeps the recursion well-formed.
        if black_box(depth) == u64::MAX {
            return 0;
        }
        let pad = black_box(pad);
        black_box(down(depth + 1, pad)) + u64::from(pad[0])
    }
    let seed = bundle.input_data.len() as u8;
    Ok(json!(down(0, [seed; 256])))
}

/// Grow memory until something stops it.
fn memory_bomb(_: &Z, _: &Bundle) -> Result<Value, ZError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 4 << 20];
        chunk[0] = 1;
        hoard.push(black_box(chunk));
    }
}

/// Return far more than a result may be.
fn huge_result(_: &Z, _: &Bundle) -> Result<Value, ZError> {
    let item = "x".repeat(256 << 10);
    // 2.5 MiB: over the test host's 1 MiB result limit, well under the
    // memory cap.
    Ok(json!((0..10).map(|i| json!({"id": i, "blob": item})).collect::<Vec<_>>()))
}

/// Log without end.
fn log_flood(z: &Z, _: &Bundle) -> Result<Value, ZError> {
    let line = "flood ".repeat(200);
    for i in 0..200_000 {
        if i % 2 == 0 {
            println!("{line}");
        } else {
            z.console().log(&line);
        }
    }
    Ok(json!([{"id": 1}]))
}

/// Read files the host might have.
fn read_files(_: &Z, _: &Bundle) -> Result<Value, ZError> {
    let mut reached = Vec::new();
    for path in ["/etc/passwd", "/proc/self/environ", ".", "/", "Cargo.toml", "../../etc/hosts"] {
        if std::fs::read(path).is_ok() || std::fs::read_dir(path).is_ok() {
            reached.push(path);
        }
    }
    Ok(json!([{"id": 1, "reached": reached}]))
}

/// Read the host's environment.
fn read_env(_: &Z, _: &Bundle) -> Result<Value, ZError> {
    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    let cwd = std::env::current_dir().ok().map(|p| p.display().to_string());
    let args: Vec<String> = std::env::args().collect();
    Ok(json!([{"id": 1, "vars": vars, "cwd": cwd, "args": args}]))
}

/// Open sockets, around z.request.
fn open_socket(_: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let target = bundle.input_str("addr").unwrap_or("127.0.0.1:80").to_string();
    let mut reached = Vec::new();
    if std::net::TcpStream::connect(&target).is_ok() {
        reached.push(format!("tcp {target}"));
    }
    if let Ok(socket) = std::net::UdpSocket::bind("0.0.0.0:0")
        && socket.send_to(b"x", &target).is_ok()
    {
        reached.push(format!("udp {target}"));
    }
    if std::net::TcpListener::bind("0.0.0.0:0").is_ok() {
        reached.push("listen".into());
    }
    Ok(json!([{"id": 1, "reached": reached}]))
}

/// z.request to the URL in inputData.url, with the headers in
/// inputData.headers, and inputData.method (default GET), inputData.body
/// and inputData.timeout (ms) when given.
fn ssrf(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let url = bundle.input_str("url").unwrap_or_default().to_string();
    let method = bundle.input_str("method").unwrap_or("GET").to_string();
    let mut request = Request::new(method, url);
    if let Some(Value::Object(headers)) = bundle.input("headers") {
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str().unwrap_or_default());
        }
    }
    if let Some(body) = bundle.input_str("body") {
        request = request.body(body.to_string());
    }
    if let Some(timeout) = bundle.input("timeout").and_then(Value::as_u64) {
        request = request.timeout(timeout);
    }
    let response = z.request(request)?;
    Ok(json!([{"id": 1, "status": response.status, "content": response.content}]))
}

/// `inputData.count` requests (default 40) of inputData.url at once, in one
/// `send-all`: the host buffers every response until all are in.
fn fan_out(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let url = bundle.input_str("url").unwrap_or_default().to_string();
    let count = bundle.input("count").and_then(Value::as_u64).unwrap_or(40);
    let requests = (0..count).map(|_| Request::get(url.clone()).raw(true)).collect();
    let results = z.request_all(requests);
    let sizes: Vec<Value> = results
        .into_iter()
        .map(|result| match result {
            Ok(response) => json!(response.bytes.len()),
            Err(error) => json!(error.to_string()),
        })
        .collect();
    Ok(json!([{"id": 1, "sizes": sizes}]))
}

/// Text meant for the operator's terminal: log lines and a plain-string
/// result that forge a line of the host's own and carry escape sequences.
fn terminal(z: &Z, _: &Bundle) -> Result<Value, ZError> {
    z.console().log("first\nzapwasm: forged line from the guest");
    z.console().log("\u{1b}[2J\u{1b}]0;pwned\u{7}\u{9b}31mred\u{202e}desrever");
    println!("stdout\rzapwasm: overwritten");
    Ok(json!("result\nzapwasm: forged result line\u{1b}[31m"))
}

/// `authentication.test`: the account, named without asking anyone.
fn whoami(_: &Z, _: &Bundle) -> Result<Value, ZError> {
    Ok(json!({"name": "Hostile"}))
}

/// Runs next to the attacks and must be unaffected.
fn polite(_: &Z, _: &Bundle) -> Result<Value, ZError> {
    Ok(json!([{"id": 1, "ok": true}]))
}

fn app() -> App {
    App::new("0.0.1")
        // A label that shows the API key: what a service keeps unsealed and
        // lists to anyone who reads its connections.
        .authentication(
            Authentication::new(AuthType::Custom)
                .field(Field::new("api_key").label("API Key").required(true).kind("password"))
                .test(whoami)
                .connection_label("{{bundle.inputData.name}} ({{bundle.authData.api_key}})"),
        )
        .trigger(attack("spin", spin))
        .trigger(attack("recurse", recurse))
        .trigger(attack("memory_bomb", memory_bomb))
        .trigger(attack("huge_result", huge_result))
        .trigger(attack("log_flood", log_flood))
        .trigger(attack("read_files", read_files))
        .trigger(attack("read_env", read_env))
        .trigger(attack("open_socket", open_socket))
        .trigger(attack("ssrf", ssrf))
        .trigger(attack("fan_out", fan_out))
        .trigger(attack("terminal", terminal))
        .trigger(attack("polite", polite))
}

zapwasm_guest::export_app!(app);
