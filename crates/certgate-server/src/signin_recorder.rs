//! Group commit for the sign-in log: every sign-in is recorded before it is answered (a
//! sign-in that cannot be recorded does not happen), but concurrent sign-ins share one
//! transaction and so one disk sync, instead of paying one each (SQLite with
//! `synchronous=FULL` syncs on every commit).

use std::sync::Arc;

use certgate_core::signin::{SignInLog, SignInRecord};
use certgate_core::store::{StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

/// Records waiting at most; beyond that sign-ins fail closed with `store-unavailable`.
const QUEUE: usize = 4_096;
/// Records per transaction at most.
const BATCH: usize = 512;

type Pending = (SignInRecord, oneshot::Sender<StoreResult<()>>);

/// Hands sign-in records to the writer task and waits for their commit.
#[derive(Clone)]
pub(crate) struct SignInRecorder {
    queue: mpsc::Sender<Pending>,
}

impl SignInRecorder {
    /// Starts the writer task on the current runtime; it ends when every recorder is dropped.
    pub(crate) fn start<L: SignInLog>(log: Arc<L>) -> SignInRecorder {
        let (queue, mut incoming) = mpsc::channel::<Pending>(QUEUE);
        tokio::spawn(async move {
            let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
            while incoming.recv_many(&mut batch, BATCH).await > 0 {
                let records: Vec<SignInRecord> = batch.iter().map(|(r, _)| r.clone()).collect();
                let result = log.append_signins(&records).await;
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(result.clone());
                }
            }
        });
        SignInRecorder { queue }
    }

    /// Returns once `record` is committed.
    pub(crate) async fn record(&self, record: SignInRecord) -> StoreResult<()> {
        let (reply, committed) = oneshot::channel();
        self.queue
            .try_send((record, reply))
            .map_err(|error| StoreError::Unavailable {
                detail: match error {
                    mpsc::error::TrySendError::Full(_) => {
                        "the sign-in log is not keeping up (queue full)".into()
                    }
                    mpsc::error::TrySendError::Closed(_) => "the sign-in log writer stopped".into(),
                },
            })?;
        committed.await.map_err(|_| StoreError::Unavailable {
            detail: "the sign-in log writer stopped".into(),
        })?
    }
}
