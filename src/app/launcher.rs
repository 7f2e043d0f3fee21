//! Starts the web surface exactly once, from whichever comes first: the bot's setup hook, the
//! ready timeout, or a bot-less boot.

use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

#[derive(Clone)]
pub struct WebLauncher(Arc<Inner>);

struct Inner {
    listener: Mutex<Option<TcpListener>>,
    task: Mutex<Option<JoinHandle<()>>>,
    started: watch::Sender<bool>,
    state: AppState,
    shutdown: CancellationToken,
}

impl WebLauncher {
    pub fn new(listener: TcpListener, state: AppState, shutdown: CancellationToken) -> Self {
        Self(Arc::new(Inner {
            listener: Mutex::new(Some(listener)),
            task: Mutex::new(None),
            started: watch::channel(false).0,
            state,
            shutdown,
        }))
    }

    /// Starts serving; later calls do nothing.
    pub fn start(&self, why: &str) {
        let Some(listener) = self.0.listener.lock().expect("launcher lock").take() else {
            return;
        };
        let addr = listener.local_addr().ok();
        let routes = crate::web::routes(&self.0.state);
        let http = self.0.state.config().http.clone();
        let task = tokio::spawn(crate::web::serve(
            listener,
            routes,
            http,
            self.0.shutdown.clone(),
        ));
        *self.0.task.lock().expect("launcher lock") = Some(task);
        self.0.started.send_replace(true);
        if let Some(addr) = addr {
            tracing::info!(%addr, "web surface listening on http://{addr} ({why})");
        }
    }

    /// Resolves once the web surface is serving.
    pub async fn started(&self) {
        let mut rx = self.0.started.subscribe();
        let _ = rx.wait_for(|started| *started).await;
    }

    /// Waits for the server to finish its graceful shutdown (it never started: at once).
    pub async fn stopped(&self) {
        let task = self.0.task.lock().expect("launcher lock").take();
        if let Some(task) = task
            && let Err(err) = task.await
        {
            tracing::error!(error = %err, "the web server task failed");
        }
    }
}
