//! What several Herald instances must share, in Redis when `REDIS_URL` is set: the counters of
//! the abuse limits and the nonces of signed calls.
//!
//! Each operation is one atomic step on the server (a short Lua script or `SET NX`), so
//! instances racing each other count exactly. Every call is bounded by a short timeout: a slow
//! or absent Redis must not hold requests up. What a failure means is the caller's choice:
//! limits fall back to this process's memory, replay protection refuses (see `keys::nonces`).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::crypto::Secret;
use crate::limits::RetryAfter;

/// How long one Redis call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("REDIS_URL is not a usable Redis URL")]
    Url,
    #[error("Redis did not answer: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {}ms", CALL_TIMEOUT.as_millis())]
    Timeout,
}

/// Counts one event in a fixed window, refusing (and not counting) past `max`. Answers the
/// count, or minus the window's remaining milliseconds when refused.
const TAKE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then left = 1 end
  return -left
end
return n
";

/// Gives one event back, never below zero.
const REFUND: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
";

/// A connection to the shared Redis, reconnecting by itself after an outage.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    take: Script,
    refund: Script,
    namespace: String,
}

impl Redis {
    /// Prepares the connection; it is made on first use, so Herald starts while Redis is down.
    pub fn connect(url: &Secret, namespace: &str) -> Result<Self, SharedError> {
        let client = redis::Client::open(url.expose()).map_err(|_| SharedError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            conn,
            take: Script::new(TAKE),
            refund: Script::new(REFUND),
            namespace: namespace.to_owned(),
        })
    }

    /// `name` inside this deployment's namespace.
    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.namespace)
    }

    /// Counts one event for `key` (at most `max` per `window`).
    pub async fn take(
        &self,
        key: &str,
        max: u32,
        window: Duration,
    ) -> Result<Result<(), RetryAfter>, SharedError> {
        let mut conn = self.conn.clone();
        let mut invocation = self.take.key(self.key(key));
        invocation.arg(max).arg(window.as_millis() as u64);
        let answer = bounded(invocation.invoke_async::<i64>(&mut conn)).await?;
        Ok(if answer > 0 {
            Ok(())
        } else {
            Err(RetryAfter(((-answer) as u64).div_ceil(1000).max(1)))
        })
    }

    /// Gives back one event counted for `key`.
    pub async fn refund(&self, key: &str) -> Result<(), SharedError> {
        let mut conn = self.conn.clone();
        bounded(
            self.refund
                .key(self.key(key))
                .invoke_async::<i64>(&mut conn),
        )
        .await?;
        Ok(())
    }

    /// Forgets every event counted for `key`.
    pub async fn reset(&self, key: &str) -> Result<(), SharedError> {
        let mut conn = self.conn.clone();
        bounded(conn.del::<_, i64>(self.key(key))).await?;
        Ok(())
    }

    /// Records `key` for `ttl` if it is new: true the first time, false ever after (until it
    /// expires). One `SET NX`, so two instances cannot both see it as new.
    pub async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, SharedError> {
        let mut conn = self.conn.clone();
        let mut set = redis::cmd("SET");
        set.arg(self.key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64);
        Ok(bounded(set.query_async::<Option<String>>(&mut conn))
            .await?
            .is_some())
    }
}

async fn bounded<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, SharedError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(SharedError::Timeout),
    }
}
