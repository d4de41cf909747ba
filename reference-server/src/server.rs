//! Listeners, connection admission and graceful shutdown.
//!
//! Modelled on mini-redis: each listener runs an accept loop; every session
//! holds a clone of a completion sender, so `shutdown` knows all sessions
//! have ended when the channel closes. Shutdown is a watch flag that idle
//! sessions observe between commands; a session inside UPDATE never looks at
//! it, so deletion that has started is allowed to finish.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::{build_tls, ServerConfig, TlsSetup};
use crate::connection::Connection;
use crate::locks::LockTable;
use crate::session::{Session, Shared};

/// A server accepting connections on the current tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    shutdown_tx: watch::Sender<bool>,
    done_tx: Option<mpsc::Sender<()>>,
    done_rx: mpsc::Receiver<()>,
    accept_tasks: Vec<JoinHandle<()>>,
    locks: LockTable,
}

struct Listener {
    listener: TcpListener,
    /// Some for the RFC 8314 implicit-TLS listener.
    implicit_tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    limit: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
}

impl RunningServer {
    /// Bind the listeners and spawn the accept loops; returns at once.
    pub async fn start(config: ServerConfig) -> io::Result<RunningServer> {
        if config.require_tls && config.tls == TlsSetup::None {
            // Nobody could ever log in: refuse the configuration instead.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "require_tls needs TLS (STLS or an implicit-TLS listener)",
            ));
        }
        let tls = build_tls(&config.tls, &config.faults)?;
        let plain = bind(config.listen)?;
        // TlsSetup::None switches TLS off entirely, including the implicit
        // listener that ServerConfig::new configures by default.
        let tls_listener = match (config.tls_listen, &config.tls) {
            (Some(a), tls) if *tls != TlsSetup::None => Some(bind(a)?),
            _ => None,
        };
        let addr = plain.local_addr()?;
        let tls_addr = tls_listener.as_ref().map(|l| l.local_addr()).transpose()?;

        let locks = LockTable::new();
        let limit = Arc::new(Semaphore::new(config.max_connections));
        let shared = Arc::new(Shared::new(config, locks.clone(), tls.clone()));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(1);

        let mut accept_tasks = Vec::new();
        let mut listeners = vec![(plain, None)];
        if let Some(l) = tls_listener {
            listeners.push((l, tls.clone().map(TlsAcceptor::from)));
        }
        for (listener, implicit_tls) in listeners {
            let l = Listener {
                listener,
                implicit_tls,
                shared: shared.clone(),
                limit: limit.clone(),
                shutdown: shutdown_rx.clone(),
                done: done_tx.clone(),
            };
            accept_tasks.push(tokio::spawn(l.run()));
        }
        Ok(RunningServer {
            addr,
            tls_addr,
            shutdown_tx,
            done_tx: Some(done_tx),
            done_rx,
            accept_tasks,
            locks,
        })
    }

    /// The plain listener (STLS is offered there when TLS is configured).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The implicit-TLS listener, when configured.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Whether a session currently holds the maildrop lock of `user`.
    pub fn is_locked(&self, user: &str) -> bool {
        self.locks.is_locked(user)
    }

    /// Stop accepting, close idle sessions without UPDATE, let sessions
    /// already in UPDATE finish, and wait for every session to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        for t in self.accept_tasks.drain(..) {
            let _ = t.await;
        }
        self.done_tx = None;
        while self.done_rx.recv().await.is_some() {}
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // A server dropped without shutdown() must not keep serving.
        let _ = self.shutdown_tx.send(true);
    }
}

/// Listen queue asked of the kernel, which caps it at net.core.somaxconn
/// (4096 by default on Linux since 5.4). `TcpListener::bind` asks for 128
/// (mio 1.x), which a burst of a few hundred connects overflows: the kernel
/// then drops the handshake's last ACK and the greeting comes seconds late.
const BACKLOG: u32 = 4096;

/// Like `TcpListener::bind` on Unix (SO_REUSEADDR on, IPV6_V6ONLY left at
/// the system default), but with a listen queue of [`BACKLOG`].
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // A restarted server can rebind at once; on Windows this would allow
    // hijacking a port in use, so (as in mio) it is not set there.
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

impl Listener {
    async fn run(mut self) {
        loop {
            let accepted = tokio::select! {
                r = self.listener.accept() => r,
                _ = self.shutdown.wait_for(|v| *v) => return,
            };
            let sock = match accepted {
                Ok((s, _)) => s,
                Err(_) => {
                    // Usually EMFILE: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            let permit = self.limit.clone().try_acquire_owned();
            let shared = self.shared.clone();
            let mut shutdown = self.shutdown.clone();
            let done = self.done.clone();
            let tls = self.implicit_tls.clone();
            tokio::spawn(async move {
                let _done = done;
                let idle = shared.config.idle_timeout;
                let conn = tokio::select! {
                    c = handshake(sock, tls, idle) => c,
                    _ = shutdown.wait_for(|v| *v) => None,
                };
                let Some(conn) = conn else {
                    return;
                };
                match permit {
                    Ok(_permit) => Session::new(conn, shared, shutdown).run().await,
                    Err(_) => refuse(conn).await,
                }
            });
        }
    }
}

async fn handshake(
    sock: TcpStream,
    tls: Option<TlsAcceptor>,
    timeout: Duration,
) -> Option<Connection> {
    match tls {
        None => Some(Connection::plain(sock)),
        Some(acceptor) => {
            // A half-done handshake must not hold a task forever.
            match tokio::time::timeout(timeout, acceptor.accept(sock)).await {
                Ok(Ok(s)) => Some(Connection::tls(s)),
                _ => None,
            }
        }
    }
}

async fn refuse(mut conn: Connection) {
    let reply = conn.write_all(b"-ERR [SYS/TEMP] too many connections\r\n");
    let _ = tokio::time::timeout(Duration::from_secs(5), reply).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.shutdown(true)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More connects than the 128 of `TcpListener::bind` are taken into the
    /// listen queue while nobody accepts (with a queue of 128 the kernel
    /// drops the SYNs beyond it and these connects hang).
    #[tokio::test]
    async fn listen_queue_takes_a_burst() {
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(0);
        if somaxconn < 256 {
            eprintln!("skipped: net.core.somaxconn is {somaxconn}");
            return;
        }
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for i in 0..200 {
            let c = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                .unwrap_or_else(|e| panic!("connect {i}: {e}"));
            clients.push(c);
        }
        drop(listener);
    }

    /// As with `TcpListener::bind`: SO_REUSEADDR, so the port of a listener
    /// whose connection is still closing can be bound again at once; and
    /// IPv6 addresses bind (where the host has ::1).
    #[tokio::test]
    async fn rebinds_at_once_and_binds_ipv6() {
        use tokio::io::AsyncReadExt;
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        // The server closes first, so its end waits in TIME_WAIT.
        drop(server_side);
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        drop(client);
        drop(listener);
        let again = bind(addr).expect("rebind while the old connection closes");
        assert_eq!(again.local_addr().unwrap(), addr);

        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            let v6 = bind("[::1]:0".parse().unwrap()).unwrap();
            assert!(v6.local_addr().unwrap().is_ipv6());
        }
    }
}
