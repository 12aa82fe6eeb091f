//! Graceful stop: sources stop reading, everything in flight flows on, sinks flush and commit.

use tokio::sync::watch;

/// Observed by sources; once triggered they end their output, which drains the topology.
#[derive(Debug, Clone)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// Held by whoever may stop the run: the signal handler, the runtime on a failed task, tests.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger {
    sender: std::sync::Arc<watch::Sender<bool>>,
}

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (sender, receiver) = watch::channel(false);
        (
            ShutdownTrigger {
                sender: std::sync::Arc::new(sender),
            },
            Shutdown { receiver },
        )
    }

    /// True once shutdown is triggered, or once every trigger is gone: then nobody is left
    /// who could trigger it, as when the run that held the trigger was dropped.
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow() || self.receiver.is_closed()
    }

    /// Resolves once shutdown is triggered (or every trigger is gone, which means the same).
    pub async fn triggered(&mut self) {
        let _ = self.receiver.wait_for(|stop| *stop).await;
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            receiver: self.sender.subscribe(),
        }
    }
}

/// Triggers a graceful shutdown on the first SIGINT or SIGTERM; a second one exits at once,
/// for the operator whose sink is stuck on unreachable storage.
pub fn shutdown_on_signals(trigger: ShutdownTrigger) {
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            wait_for_signal().await;
            seen += 1;
            if seen == 1 {
                tracing::warn!(
                    "stopping: flushing and committing what was read (signal again to exit now)"
                );
                trigger.trigger();
            } else {
                tracing::error!("second signal: exiting without flushing");
                std::process::exit(130);
            }
        }
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggered_by_the_trigger_or_when_every_trigger_is_gone() {
        let (trigger, shutdown) = Shutdown::new();
        let copy = trigger.clone();
        assert!(!shutdown.is_triggered());
        drop(trigger);
        assert!(!shutdown.is_triggered(), "a copy of the trigger is left");
        drop(copy);
        assert!(shutdown.is_triggered());

        let (trigger, shutdown) = Shutdown::new();
        trigger.trigger();
        assert!(shutdown.is_triggered());
    }
}
