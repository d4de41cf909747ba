//! Listeners, connection admission and graceful shutdown.
//!
//! Modelled on mini-redis: each listener runs an accept loop; every session
//! holds a clone of a completion sender, so `shutdown` knows all sessions
//! have ended when the channel closes. Shutdown is a watch flag that idle
//! sessions observe between commands; a session inside UPDATE never looks at
//! it, so deletion that has started is allowed to finish.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
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
        let tls = build_tls(&config.tls)?;
        let plain = TcpListener::bind(config.listen).await?;
        // TlsSetup::None switches TLS off entirely, including the implicit
        // listener that ServerConfig::new configures by default.
        let tls_listener = match (config.tls_listen, &config.tls) {
            (Some(a), tls) if *tls != TlsSetup::None => Some(TcpListener::bind(a).await?),
            _ => None,
        };
        let addr = plain.local_addr()?;
        let tls_addr = tls_listener.as_ref().map(|l| l.local_addr()).transpose()?;

        let users: HashMap<String, String> = config.users.iter().cloned().collect();
        let locks = LockTable::new();
        let limit = Arc::new(Semaphore::new(config.max_connections));
        let shared = Arc::new(Shared {
            config,
            users,
            locks: locks.clone(),
            tls: tls.clone(),
        });
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
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.shutdown()).await;
}
