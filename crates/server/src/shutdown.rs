//! Listening for the server-wide shutdown signal (mini-redis's pattern).
//!
//! [`crate::server`] owns a `broadcast::Sender<()>`; every connection task and
//! the expiry sweep hold a [`Shutdown`] subscribed to it. Shutdown is signalled
//! by dropping the sender, which closes the channel: receivers created at any
//! time see it, and no message has to be sent. Tasks check for it only between
//! requests, so a command that has started always finishes and gets its reply.
//!
//! The other half is the drain signal: every connection task holds a clone of
//! an `mpsc::Sender<()>` it never sends on. When the last task ends, the
//! server's `recv()` returns `None`, and the server knows no command is in
//! flight any more.

use tokio::sync::broadcast;

/// A task's view of the shutdown signal.
#[derive(Debug)]
pub struct Shutdown {
    /// Latched once the signal has been seen, so later calls return at once.
    is_shutdown: bool,
    /// Closed (every sender dropped) when the server shuts down.
    notify: broadcast::Receiver<()>,
}

impl Shutdown {
    /// Wraps a receiver subscribed to the server's shutdown channel.
    pub fn new(notify: broadcast::Receiver<()>) -> Shutdown {
        Shutdown {
            is_shutdown: false,
            notify,
        }
    }

    /// Waits for the shutdown signal.
    pub async fn recv(&mut self) {
        if self.is_shutdown {
            return;
        }
        // Either a message or "channel closed" means shut down; lagging is
        // impossible with a channel nobody sends on, but would mean the same.
        let _ = self.notify.recv().await;
        self.is_shutdown = true;
    }
}
