//! Benchmarks for pop3spec and the reference server (results go to BENCHMARKS.md).
//!
//! ```text
//! cargo build --release --workspace
//! ulimit -n 20000   # for 10,000 idle connections
//! target/release/pop3spec-bench [suite|peer|server|all] [--runs N] [--seconds S] [--clients C] [--idle 1000,10000] [--no-dovecot]
//! ```
//!
//! * `peer`: a trivial tokio peer that answers every line with `+OK`: the
//!   cost of one loopback round trip and of one connection set-up, raw and
//!   through the harness's own `Target::command` (the harness overhead).
//! * `suite`: the whole suite, `pop3spec run -q --no-reports -j N` for
//!   N = 1, 2, 8 (median of --runs), against the floor: the round trips and
//!   connections the suite performs (counted from a run's JSON transcripts)
//!   times the costs measured by `peer`, plus the waits the scenarios script.
//! * `server`: the reference server as a separate process: sessions/s
//!   (connect, USER/PASS, STAT, RETR of a 10 kB message, QUIT) and its RSS
//!   with idle connections; then the same session load against a standalone
//!   Dovecot (`ci/dovecot-standalone.sh`) when `dovecot` is installed.

use pop3spec::runner::connection::Connection;
use pop3spec::runner::target::Target;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

struct Opts {
    runs: usize,
    seconds: f64,
    clients: usize,
    idle: Vec<usize>,
    dovecot: bool,
    bin_dir: PathBuf,
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let what = if args.first().is_some_and(|a| !a.starts_with('-')) {
        args.remove(0)
    } else {
        "all".into()
    };
    let mut o = Opts {
        runs: 5,
        seconds: 5.0,
        clients: 16,
        idle: vec![1000, 10000],
        dovecot: true,
        bin_dir: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("target/release")),
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().expect("option needs a value");
        match a.as_str() {
            "--runs" => o.runs = val().parse().expect("--runs N"),
            "--seconds" => o.seconds = val().parse().expect("--seconds S"),
            "--clients" => o.clients = val().parse().expect("--clients C"),
            "--idle" => {
                o.idle = val()
                    .split(',')
                    .map(|v| v.parse().expect("--idle N,M"))
                    .collect()
            }
            "--no-dovecot" => o.dovecot = false,
            _ => {
                eprintln!("usage: pop3spec-bench [suite|peer|server|all] [--runs N] [--seconds S] [--clients C] [--idle N,M] [--no-dovecot]");
                std::process::exit(2);
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    machine();
    // Multi-threaded (as the harness runs) and on one thread (no cross-thread
    // wake-ups); the floor takes the cheaper of the two.
    let multi = rt.block_on(peer_costs());
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(peer_costs());
    if what == "peer" || what == "all" || what == "suite" {
        print!("multi-thread runtime:  ");
        print_peer(&multi);
        print!("single-thread runtime: ");
        print_peer(&single);
    }
    let peer = PeerCosts {
        rtt_us: multi.rtt_us.min(single.rtt_us),
        connect_us: multi.connect_us.min(single.connect_us),
        harness_rtt_us: multi.harness_rtt_us.min(single.harness_rtt_us),
    };
    if what == "suite" || what == "all" {
        suite(&o, &peer);
    }
    if what == "server" || what == "all" {
        rt.block_on(server(&o));
    }
}

fn machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let date = Command::new("date")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("machine: {nproc} CPU(s), {cpu}; {date}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

// ---------------------------------------------------------------- peer

struct PeerCosts {
    rtt_us: f64,
    connect_us: f64,
    harness_rtt_us: f64,
}

/// The trivial peer: a greeting, then `+OK` for every line.
async fn echo_peer() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut r = BufReader::new(r);
                if w.write_all(b"+OK ready\r\n").await.is_err() {
                    return;
                }
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    line.clear();
                    if w.write_all(b"+OK\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn peer_costs() -> PeerCosts {
    let addr = echo_peer().await;
    const N: usize = 20_000;
    const C: usize = 2_000;
    // Raw round trips.
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..N / 5 {
            r.get_mut().write_all(b"NOOP\r\n").await.unwrap();
            line.clear();
            r.read_line(&mut line).await.unwrap();
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6 / (N / 5) as f64);
    }
    let rtt_us = median(samples);
    // Connection set-up: connect, read the greeting, close.
    let t = Instant::now();
    for _ in 0..C {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut r = BufReader::new(s);
        line.clear();
        r.read_line(&mut line).await.unwrap();
    }
    let connect_us = t.elapsed().as_secs_f64() * 1e6 / C as f64;
    // The same round trips through the harness's Target::command.
    let target = bench_target(addr);
    let mut quiet = |_: bool, _: String| {};
    let mut conn: Connection = target.connect(false).await.unwrap();
    target.read_status(&mut conn, &mut quiet).await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..N / 5 {
            conn.compact();
            target
                .command(&mut conn, "NOOP", "NOOP", &mut quiet)
                .await
                .unwrap();
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6 / (N / 5) as f64);
    }
    PeerCosts {
        rtt_us,
        connect_us,
        harness_rtt_us: median(samples),
    }
}

fn bench_target(addr: SocketAddr) -> Target {
    let tls = pop3spec::runner::tls::TlsOptions {
        insecure: true,
        ..Default::default()
    };
    Target::new("echo peer", addr.ip().to_string(), addr.port(), tls).unwrap()
}

fn print_peer(p: &PeerCosts) {
    println!(
        "echo peer: round trip {:.1} µs, connection set-up {:.1} µs; through Target::command {:.1} µs per exchange (harness overhead {:.1} µs)",
        p.rtt_us,
        p.connect_us,
        p.harness_rtt_us,
        p.harness_rtt_us - p.rtt_us
    );
}

// ---------------------------------------------------------------- suite

/// The waits a scenario scripts against the bundled server (`sleep`,
/// `expect_silence`, and `expect_close` waiting out the autologout timer): no
/// server can make a run shorter than these.
fn scripted_wait(scenario: &pop3spec::scenario::Scenario) -> Duration {
    use pop3spec::scenario::parse_duration;
    let value = |t: &pop3spec::scenario::Template| match t.source.trim() {
        "{{settle}}" => parse_duration(pop3spec::bundled::SETTLE).unwrap_or_default(),
        "{{silence}}" => parse_duration(pop3spec::bundled::SILENCE).unwrap_or_default(),
        "{{idle_wait}}" => pop3spec::bundled::BundledOptions::default().autologout,
        "{{idle_alive}}" | "{{idle_under_ten_minutes}}" => {
            pop3spec::bundled::idle_alive(pop3spec::bundled::BundledOptions::default().autologout)
        }
        literal => parse_duration(literal).unwrap_or_default(),
    };
    scenario.wait_steps().into_iter().map(value).sum()
}

fn suite(o: &Opts, peer: &PeerCosts) {
    let bin = o.bin_dir.join("pop3spec");
    let json = std::env::temp_dir().join(format!("pop3spec-bench-{}.json", std::process::id()));
    let status = Command::new(&bin)
        .args(["run", "-q", "-j", "1", "--junit"])
        .arg(std::env::temp_dir().join("pop3spec-bench-junit.xml"))
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::null())
        .status()
        .expect("run pop3spec");
    let text = std::fs::read_to_string(&json).expect("results json");
    let _ = std::fs::remove_file(&json);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let files =
        pop3spec::scenario::load::discover(&[PathBuf::from("scenarios")]).expect("scenarios/");
    let suite = pop3spec::scenario::load::load_suite(&files, &Default::default());
    let (mut scenarios, mut rtts, mut connects) = (0, 0u64, 0u64);
    let (mut waits, mut longest_wait) = (Duration::ZERO, Duration::ZERO);
    for s in v["scenarios"].as_array().unwrap() {
        scenarios += 1;
        if s["outcome"] != "skip" && s["outcome"] != "skipped" {
            if let Some(sc) = suite.scenarios.iter().find(|x| x.id == s["id"]) {
                let w = scripted_wait(sc);
                waits += w;
                longest_wait = longest_wait.max(w);
            }
        }
        for t in s["transcript"].as_array().unwrap() {
            match (t["direction"].as_str(), t["text"].as_str().unwrap_or("")) {
                (Some("client"), _) => rtts += 1,
                (Some("note"), text) if text.starts_with("connect") => connects += 1,
                _ => {}
            }
        }
    }
    let floor_s = (rtts as f64 * peer.rtt_us + connects as f64 * peer.connect_us) / 1e6;
    let (waits, longest_wait) = (waits.as_secs_f64(), longest_wait.as_secs_f64());
    println!(
        "suite: {scenarios} scenarios (exit {}), {rtts} client lines (round trips), {connects} connections; floor {:.1} ms serial; scripted waits {:.2} s (longest in one scenario {:.2} s)",
        status.code().unwrap_or(-1),
        floor_s * 1e3,
        waits,
        longest_wait
    );
    println!("| jobs | median wall (s) | runs (s) | × floor | floor with jobs + scripted waits (s) | × that |");
    println!("|---|---|---|---|---|---|");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    for jobs in [1, 2, 8] {
        let mut times = Vec::new();
        for _ in 0..o.runs {
            let t = Instant::now();
            Command::new(&bin)
                .args(["run", "-q", "--no-reports", "-j", &jobs.to_string()])
                .stdout(Stdio::null())
                .status()
                .expect("run pop3spec");
            times.push(t.elapsed().as_secs_f64());
        }
        let m = median(times.clone());
        let runs: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
        // Round trips share the cores; scripted waits split over the jobs, but
        // no finer than the longest wait of a single scenario.
        let best = floor_s / jobs.min(cores) as f64 + (waits / jobs as f64).max(longest_wait);
        println!(
            "| {jobs} | {m:.3} | {} | {:.1} | {best:.3} | {:.2} |",
            runs.join(", "),
            m / floor_s,
            m / best
        );
    }
}

// ---------------------------------------------------------------- server

fn ten_kb_message() -> String {
    let body: String = (0..160)
        .map(|i| {
            format!(
                "{:<63}\n",
                format!("line {i:04} of the benchmark message body")
            )
        })
        .collect();
    format!("Subject: bench\n\n{body}")
}

async fn read_line(r: &mut BufReader<TcpStream>, s: &mut String) -> bool {
    s.clear();
    r.read_line(s).await.unwrap_or(0) > 0
}

/// connect, USER/PASS, STAT, RETR 1 (10 kB), QUIT; false on any unexpected answer.
async fn one_session(addr: SocketAddr, user: &str, pass: &str) -> bool {
    let Ok(s) = TcpStream::connect(addr).await else {
        return false;
    };
    let _ = s.set_nodelay(true);
    let mut r = BufReader::new(s);
    let mut l = String::new();
    if !read_line(&mut r, &mut l).await || !l.starts_with("+OK") {
        return false;
    }
    for cmd in [
        format!("USER {user}"),
        format!("PASS {pass}"),
        "STAT".into(),
    ] {
        if r.get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .is_err()
            || !read_line(&mut r, &mut l).await
            || !l.starts_with("+OK")
        {
            return false;
        }
    }
    if r.get_mut().write_all(b"RETR 1\r\n").await.is_err()
        || !read_line(&mut r, &mut l).await
        || !l.starts_with("+OK")
    {
        return false;
    }
    loop {
        if !read_line(&mut r, &mut l).await {
            return false;
        }
        if l == ".\r\n" {
            break;
        }
    }
    r.get_mut().write_all(b"QUIT\r\n").await.is_ok()
        && read_line(&mut r, &mut l).await
        && l.starts_with("+OK")
}

async fn session_load(addr: SocketAddr, users: &[(String, String)], secs: f64) -> (f64, u64) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (u, p) in users {
        // Owned copies: each task outlives this borrow of `users`.
        let (u, p) = (u.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut bad) = (0u64, 0u64);
            while Instant::now() < deadline {
                if one_session(addr, &u, &p).await {
                    ok += 1;
                } else {
                    bad += 1;
                }
            }
            (ok, bad)
        }));
    }
    let (mut ok, mut bad) = (0, 0);
    for t in tasks {
        let (o, b) = t.await.unwrap();
        ok += o;
        bad += b;
    }
    (ok as f64 / start.elapsed().as_secs_f64(), bad)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_port(port: u16) -> bool {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM so Dovecot's master takes its children down with it.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

async fn server(o: &Opts) {
    let root = tempfile::tempdir().unwrap();
    let msg = ten_kb_message();
    let users: Vec<(String, String)> = (0..o.clients)
        .map(|i| (format!("bench{i}"), format!("pw{i}")))
        .collect();
    let mut users_file = String::new();
    for (u, p) in &users {
        let cur = root.path().join("mail").join(u).join("cur");
        std::fs::create_dir_all(&cur).unwrap();
        std::fs::write(cur.join("1000.bench:2,"), &msg).unwrap();
        users_file.push_str(&format!("{u}:{p}\n"));
    }
    std::fs::write(root.path().join("users"), users_file).unwrap();
    let port = free_port();
    let child = Command::new(o.bin_dir.join("pop3-reference-server"))
        .arg("--mail-root")
        .arg(root.path().join("mail"))
        .arg("--users")
        .arg(root.path().join("users"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--no-tls"])
        .args(["--max-connections", "20000"])
        .stderr(Stdio::null())
        .spawn()
        .expect("start target/release/pop3-reference-server (cargo build --release --workspace)");
    let pid = child.id();
    let _guard = Killed(child);
    assert!(wait_port(port).await, "reference server did not start");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    println!(
        "reference server (pid {pid}): message {} bytes, {} clients, {} s",
        msg.len(),
        o.clients,
        o.seconds
    );
    let (ref_rate, bad) = session_load(addr, &users, o.seconds).await;
    println!("  sessions/s: {ref_rate:.0} ({bad} failed)");
    let base = rss_kib(pid);
    println!("  RSS after the session load, no connections: {base} KiB");
    let mut idle: Vec<BufReader<TcpStream>> = Vec::new();
    for &n in &o.idle {
        let mut failed = None;
        while idle.len() < n {
            let s = match TcpStream::connect(addr).await {
                Ok(s) => s,
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            };
            let mut r = BufReader::new(s);
            let mut l = String::new();
            if !read_line(&mut r, &mut l).await || !l.starts_with("+OK") {
                failed = Some(format!("greeting `{}`", l.trim_end()));
                break;
            }
            idle.push(r);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss = rss_kib(pid);
        match failed {
            None => println!(
                "  RSS with {n} idle connections: {rss} KiB = {:.1} MiB (+{:.1} KiB per connection over the idle baseline)",
                rss as f64 / 1024.0,
                rss.saturating_sub(base) as f64 / n as f64
            ),
            Some(e) => {
                println!(
                    "  only {} of {n} idle connections opened ({e}); RSS {rss} KiB",
                    idle.len()
                );
                break;
            }
        }
    }
    drop(idle);
    if !o.dovecot {
        return;
    }
    match dovecot_rate(o, &users, &msg).await {
        Ok(rate) => println!(
            "dovecot: sessions/s {rate:.0}; reference server / Dovecot = {:.1}×",
            ref_rate / rate
        ),
        Err(e) => println!("dovecot: not measured ({e})"),
    }
}

async fn dovecot_rate(o: &Opts, users: &[(String, String)], msg: &str) -> Result<f64, String> {
    if Command::new("dovecot").arg("--version").output().is_err() {
        return Err("dovecot is not installed".into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/dovecot-standalone.sh");
    let work = tempfile::Builder::new()
        .prefix("pop3spec-bench-dovecot.")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let msg_file = work.path().join("message.eml");
    std::fs::write(&msg_file, msg).map_err(|e| e.to_string())?;
    let port = free_port();
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .arg(work.path().join("d"))
        .arg(port.to_string())
        .arg(&msg_file);
    for (u, p) in users {
        cmd.arg(format!("{u}:{p}"));
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let _guard = Killed(child);
    if !wait_port(port).await {
        return Err("dovecot did not start listening".into());
    }
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Warm-up: Dovecot builds its index files at the first login of each user.
    let _ = session_load(addr, users, 1.0).await;
    let (rate, bad) = session_load(addr, users, o.seconds).await;
    println!(
        "dovecot (standalone, port {port}): {} clients, {} s, {bad} failed sessions",
        users.len(),
        o.seconds
    );
    Ok(rate)
}
