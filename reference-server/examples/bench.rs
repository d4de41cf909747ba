//! Loopback benchmark for the reference server.
//!
//! Reports sessions/second for connect + USER/PASS + STAT + RETR (10 kB) +
//! QUIT with N concurrent clients, and the process RSS growth for 1,000 idle
//! connections. Run with:
//!
//!     cargo run --release -p pop3-reference-server --example bench -- [CLIENTS] [SECONDS]
//!
//! Server and clients share this process, so the RSS figure is an upper bound
//! for the server side (it includes the idle client sockets' buffers).

use std::time::{Duration, Instant};

use pop3_reference_server::{RunningServer, ServerConfig, TlsSetup};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    r.read_line(&mut s).await.expect("read");
    s
}

async fn one_session(addr: std::net::SocketAddr, user: &str) {
    let s = TcpStream::connect(addr).await.expect("connect");
    let mut r = BufReader::new(s);
    assert!(line(&mut r).await.starts_with("+OK"));
    let login = format!("USER {user}\r\nPASS pw\r\nSTAT\r\nRETR 1\r\n");
    r.get_mut().write_all(login.as_bytes()).await.unwrap();
    for _ in 0..3 {
        let l = line(&mut r).await;
        assert!(l.starts_with("+OK"), "{l}");
    }
    assert!(line(&mut r).await.starts_with("+OK"));
    loop {
        if line(&mut r).await == ".\r\n" {
            break;
        }
    }
    r.get_mut().write_all(b"QUIT\r\n").await.unwrap();
    assert!(line(&mut r).await.starts_with("+OK"));
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);

    let root = tempfile::tempdir().expect("tempdir");
    // 160 lines of 64 octets: a 10 kB body.
    let body: String = (0..160)
        .map(|i| {
            format!(
                "{:<63}\n",
                format!("line {i:04} of the benchmark message body")
            )
        })
        .collect();
    let msg = format!("Subject: bench\n\n{body}");
    let mut users = Vec::new();
    for c in 0..clients {
        let u = format!("bench{c}");
        let cur = root.path().join(&u).join("cur");
        std::fs::create_dir_all(&cur).unwrap();
        std::fs::write(cur.join("1000.bench:2,"), &msg).unwrap();
        users.push((u, "pw".to_string()));
    }
    let mut cfg = ServerConfig::new(root.path(), users.clone());
    cfg.tls = TlsSetup::None;
    cfg.tls_listen = None;
    cfg.max_connections = 5000;
    let server = RunningServer::start(cfg).await.expect("start");
    let addr = server.addr();

    println!(
        "{clients} concurrent clients, {secs} s, message {} bytes",
        msg.len()
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (u, _) in users {
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                one_session(addr, &u).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "sessions: {total} in {elapsed:.2} s = {:.0} sessions/s",
        total as f64 / elapsed
    );

    let before = rss_kib();
    let mut idle = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let s = TcpStream::connect(addr).await.expect("connect");
        let mut r = BufReader::new(s);
        assert!(line(&mut r).await.starts_with("+OK"));
        idle.push(r);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_kib();
    println!(
        "RSS: {before} KiB before, {after} KiB with 1000 idle connections (+{} KiB, {:.1} KiB/connection incl. client side)",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / 1000.0
    );
    drop(idle);
    server.shutdown().await;
}
