//! Group commit of sends. A send's own transaction is five trips to the database (begin, two
//! inserts, the new id, commit) and, on MySQL/MariaDB, a flush of the log at commit; SQLite
//! takes one writer at a time. One request at a time, intake stalls near 2,000 sends/s whatever
//! the cores. Sends made without an idempotency key are therefore handed to one task that
//! writes every send waiting at that moment in one transaction, then answers each; while it
//! writes, the next group gathers. Nothing waits for a group to fill: a lone send is written
//! at once.
//!
//! A group whose statement the database refuses is written again one send per transaction, so
//! each caller hears its own answer (a send whose owner was deleted meanwhile fails alone). A
//! group whose commit fails, or that found no connection, is not written again (it may be
//! stored already): every caller hears the error. Keyed sends keep their own transaction:
//! their key is claimed inside it.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::request::Draft;
use super::{NotifyError, Owner, Result, store};
use crate::db::{Db, DbError};

/// The most sends one transaction carries.
const GROUP_MAX: usize = 128;
/// Sends waiting for the writer before callers wait for room.
const QUEUE: usize = 1024;

struct Job {
    owner: Owner,
    draft: Arc<Draft>,
    now: i64,
    answer: oneshot::Sender<Result<i64>>,
}

/// The handle requests use; the writer task ends when the last handle is dropped.
pub struct Intake {
    jobs: mpsc::Sender<Job>,
}

impl Intake {
    /// Starts the writer task (on the current Tokio runtime).
    pub fn start(db: Db) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_groups(db, queue));
        Self { jobs }
    }

    /// Stores a checked send; answers its notification id once committed.
    pub async fn store(&self, owner: Owner, draft: Arc<Draft>, now: i64) -> Result<i64> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            owner,
            draft,
            now,
            answer,
        };
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// Only when the runtime is shutting down.
fn stopped() -> NotifyError {
    NotifyError::Db(sqlx::Error::PoolClosed.into())
}

async fn write_groups(db: Db, mut queue: mpsc::Receiver<Job>) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    while queue.recv_many(&mut group, GROUP_MAX).await > 0 {
        let jobs = std::mem::take(&mut group);
        match write(&db, &jobs).await {
            Ok(ids) => {
                for (job, id) in jobs.into_iter().zip(ids) {
                    // The caller may have gone (client hung up): the send stands regardless.
                    let _ = job.answer.send(Ok(id));
                }
            }
            // A statement refused before commit: nothing was written, and one send may be
            // the cause; each is tried on its own so the others still go in.
            Err(Failed::Statement(err)) => {
                tracing::warn!(target: "db", error = %err, sends = jobs.len(),
                    "a group of sends failed; writing them one by one");
                for job in jobs {
                    let one = write(&db, std::slice::from_ref(&job)).await;
                    let _ = job
                        .answer
                        .send(one.map(|ids| ids[0]).map_err(Failed::into_error));
                }
            }
            // No connection, or the commit itself failed (the group may be stored or not):
            // writing again could store it twice, so every caller hears the error.
            Err(Failed::Other(err)) => {
                tracing::error!(target: "db", error = %err, sends = jobs.len(),
                    "a group of sends could not be written");
                for job in jobs {
                    let _ = job.answer.send(Err(NotifyError::Db(db_error(&err))));
                }
            }
        }
    }
}

/// Why a group was not written.
enum Failed {
    /// The database refused a statement before commit: nothing of the group was written.
    Statement(NotifyError),
    /// Anything else: no connection, or a commit whose outcome is unknown.
    Other(NotifyError),
}

impl Failed {
    fn into_error(self) -> NotifyError {
        match self {
            Self::Statement(e) | Self::Other(e) => e,
        }
    }

    fn before_commit(err: impl Into<NotifyError>) -> Self {
        let err = err.into();
        match &err {
            NotifyError::Db(DbError::Sqlx(sqlx::Error::Database(_))) => Self::Statement(err),
            _ => Self::Other(err),
        }
    }
}

/// The same failure for each caller of a group (a database error is not `Clone`).
fn db_error(err: &NotifyError) -> DbError {
    DbError::Sqlx(sqlx::Error::Protocol(err.to_string()))
}

/// One transaction for `jobs`: every send of it is stored, or none.
async fn write(db: &Db, jobs: &[Job]) -> Result<Vec<i64>, Failed> {
    for attempt in 1.. {
        match try_write(db, jobs).await {
            // MySQL may pick this transaction as a deadlock's victim: nothing was written.
            Err(Failed::Statement(NotifyError::Db(e))) if e.is_deadlock() && attempt < 3 => {
                continue;
            }
            done => return done,
        }
    }
    unreachable!("the loop returns")
}

async fn try_write(db: &Db, jobs: &[Job]) -> Result<Vec<i64>, Failed> {
    let sends: Vec<(Owner, &Draft)> = jobs.iter().map(|j| (j.owner, &*j.draft)).collect();
    // One clock for the group: the sends arrived within the same moment.
    let now = jobs.iter().map(|j| j.now).max().unwrap_or_default();
    let mut tx = db.begin_write().await.map_err(Failed::before_commit)?;
    let ids = store::insert_group(&mut tx, db.backend(), &sends, now)
        .await
        .map_err(Failed::before_commit)?;
    tx.commit()
        .await
        .map_err(|e| Failed::Other(NotifyError::from(e)))?;
    Ok(ids)
}
