//! All-or-nothing ingestion (`--kafka-transactions`): each batch of
//! `POST /api/user-behavior` is produced in one Kafka transaction, so a
//! `read_committed` consumer (the job's default isolation level) sees every
//! event of the batch or none; a failure aborts the transaction, and the
//! client's retry cannot double-count a partly written batch.
//!
//! A transactional producer runs one transaction at a time, so a small pool
//! (`--kafka-producers`) serves concurrent requests, each producer with its
//! own `transactional.id`. A transaction runs in a task of its own: a
//! request that times out does not leave it half done (it still commits or
//! aborts). librdkafka's transactional calls block, so they run on the
//! blocking pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::Mutex;

/// One record of a batch.
#[derive(Debug, Clone)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Key (the user id).
    pub key: String,
    /// The event's JSON.
    pub payload: Vec<u8>,
}

/// A pool of transactional producers, created and initialised lazily (the
/// API starts while Kafka is down).
pub struct Transactional {
    slots: Vec<Mutex<Option<FutureProducer>>>,
    next: AtomicUsize,
    config: ClientConfig,
    id_prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for Transactional {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transactional")
            .field("producers", &self.slots.len())
            .field("id_prefix", &self.id_prefix)
            .finish_non_exhaustive()
    }
}

impl Transactional {
    /// A pool of `producers` over `config` (the non-transactional
    /// settings), with transactional ids `<id_prefix>-<n>`; every Kafka call
    /// is bounded by `timeout`.
    pub fn new(
        config: ClientConfig,
        id_prefix: String,
        producers: usize,
        timeout: Duration,
    ) -> Self {
        let slots = (0..producers.max(1)).map(|_| Mutex::new(None)).collect();
        Self { slots, next: AtomicUsize::new(0), config, id_prefix, timeout }
    }

    /// Produces every record in one transaction and commits it; on any
    /// failure the transaction is aborted and nothing is visible to
    /// `read_committed` consumers. Runs to its end even if the caller stops
    /// waiting.
    pub async fn produce_all(self: &Arc<Self>, records: Vec<Record>) -> Result<(), String> {
        let pool = self.clone();
        tokio::spawn(async move { pool.run(records).await })
            .await
            .map_err(|e| format!("transaction task failed: {e}"))?
    }

    async fn run(&self, records: Vec<Record>) -> Result<(), String> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[i].lock().await;
        let producer = match &*slot {
            Some(producer) => producer.clone(),
            None => {
                let producer = self.create(i).await.map_err(|e| format!("cannot start: {e}"))?;
                *slot = Some(producer.clone());
                producer
            }
        };
        match self.transaction(&producer, &records).await {
            Ok(()) => Ok(()),
            Err(err) => {
                let timeout = self.timeout;
                let aborted = blocking(producer, move |p| p.abort_transaction(timeout)).await;
                if let Err(abort) = aborted {
                    // The producer's state is unknown: start a new one next time
                    // (its id fences this one).
                    tracing::warn!(error = %abort, "abort failed; the producer is replaced");
                    *slot = None;
                }
                Err(err)
            }
        }
    }

    async fn create(&self, i: usize) -> Result<FutureProducer, KafkaError> {
        let producer: FutureProducer = self
            .config
            .clone()
            .set("transactional.id", format!("{}-{i}", self.id_prefix))
            .set("transaction.timeout.ms", "60000")
            .create()?;
        let timeout = self.timeout;
        blocking(producer.clone(), move |p| p.init_transactions(timeout)).await?;
        Ok(producer)
    }

    async fn transaction(
        &self,
        producer: &FutureProducer,
        records: &[Record],
    ) -> Result<(), String> {
        producer.begin_transaction().map_err(|e| e.to_string())?;
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
            let future =
                FutureRecord::to(&record.topic).key(record.key.as_str()).payload(&record.payload);
            match producer.send_result(future) {
                Ok(delivery) => pending.push(delivery),
                Err((err, _)) => return Err(format!("cannot enqueue: {err}")),
            }
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        for delivery in pending {
            match tokio::time::timeout_at(deadline, delivery).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err((err, _)))) => return Err(err.to_string()),
                Ok(Err(_)) => return Err("delivery cancelled".into()),
                Err(_) => return Err(format!("no acknowledgement within {:?}", self.timeout)),
            }
        }
        let timeout = self.timeout;
        blocking(producer.clone(), move |p| p.commit_transaction(timeout))
            .await
            .map_err(|e| format!("commit failed: {e}"))
    }
}

/// Runs a blocking producer call on the blocking pool.
async fn blocking(
    producer: FutureProducer,
    call: impl FnOnce(&FutureProducer) -> Result<(), KafkaError> + Send + 'static,
) -> Result<(), KafkaError> {
    tokio::task::spawn_blocking(move || call(&producer))
        .await
        .unwrap_or_else(|_| Err(KafkaError::Canceled))
}
