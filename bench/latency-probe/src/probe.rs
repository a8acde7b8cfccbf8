//! The probe loop: send a probe event on schedule, poll Redis until the
//! probe user's score counts it, record the time in between.
//!
//! The same probes also time Kafka alone: from sending to the broker's
//! acknowledgement. The producer asks for `acks=all`, so an acknowledged
//! probe is replicated and readable by the job's consumers; what Redis adds
//! on top of that is the job's share of the latency.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use model::{Event, EventType, TagList, Topics, keys};
use rdkafka::client::ClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use serde::Serialize;

use crate::stats::Latencies;

/// What to probe and how often.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Prefix of the topic names.
    pub topic_prefix: String,
    /// The job's Redis URL (with its database).
    pub redis: String,
    /// The probe user, whose score must start at zero.
    pub user: String,
    /// Tag and product id of the probe events.
    pub tag: String,
    /// Score one view adds to each of its tags.
    pub view_weight: i64,
    /// Time between two probe events.
    pub interval: Duration,
    /// Time between two Redis polls while probes are in flight.
    pub poll: Duration,
    /// Probes sent before this are not counted.
    pub warmup: Duration,
    /// How long counted probes are sent.
    pub duration: Duration,
    /// Most probes in flight.
    pub max_in_flight: usize,
    /// A probe not visible after this long is given up.
    pub timeout: Duration,
    /// linger.ms of the producer.
    pub linger_ms: u64,
}

/// What one run measured; latencies in milliseconds.
#[derive(Debug, Serialize)]
pub struct ProbeReport {
    /// The probe user.
    pub user: String,
    /// Milliseconds between probes.
    pub interval_ms: f64,
    /// Counted probes sent (after the warm-up).
    pub sent: u64,
    /// Counted probes seen in Redis.
    pub count: usize,
    /// Counted probes not seen within the timeout.
    pub timed_out: u64,
    /// Median latency.
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Largest latency.
    pub max_ms: Option<f64>,
    /// Mean latency.
    pub mean_ms: Option<f64>,
    /// The same probes from sending to Kafka's acknowledgement (`acks=all`):
    /// the part of the latency before the job can read them.
    pub kafka_acked: KafkaAcked,
}

/// Latencies from sending a counted probe to Kafka acknowledging it.
#[derive(Debug, Serialize)]
pub struct KafkaAcked {
    /// Counted probes acknowledged.
    pub count: usize,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Largest.
    pub max_ms: Option<f64>,
}

/// When a probe was sent, carried to its delivery report.
#[derive(Debug)]
struct Sent {
    at: Instant,
    counted: bool,
}

/// Counts failed deliveries (a lost probe would shift every later one) and
/// times acknowledged ones.
#[derive(Debug, Default)]
struct Deliveries {
    failed: AtomicU64,
    acked: Mutex<Latencies>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Sent>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Sent>) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        } else if sent.counted {
            self.acked.lock().unwrap_or_else(|e| e.into_inner()).push(sent.at.elapsed());
        }
    }
}

/// A probe sent and not yet seen.
#[derive(Debug)]
struct InFlight {
    /// 1 for the first probe: visible once the score reaches `seq × weight`.
    seq: u64,
    sent: Instant,
    counted: bool,
}

/// Runs the warm-up and the measurement, then waits for the probes in flight.
pub fn run(config: &ProbeConfig) -> anyhow::Result<ProbeReport> {
    let producer: BaseProducer<Deliveries> =
        simulator::producer::producer_config(&config.brokers, "none", config.timeout)
            .set("linger.ms", config.linger_ms.to_string())
            .create_with_context(Deliveries::default())
            .context("cannot create the Kafka producer")?;
    let client = redis::Client::open(config.redis.as_str()).context("bad Redis URL")?;
    let mut redis = client.get_connection().context("cannot connect to Redis")?;
    let key = keys::user_profile(&config.user);
    let start_score = score(&mut redis, &key, &config.tag)?;
    anyhow::ensure!(start_score == 0, "{key} already has {} = {start_score}", config.tag);
    let topics = Topics::with_prefix(&config.topic_prefix);
    let topic = topics.for_type(EventType::View);

    let start = Instant::now();
    let counted_from = start + config.warmup;
    let stop_sending = counted_from + config.duration;
    let give_up = stop_sending + config.timeout;
    let mut next_send = start;
    let mut seq = 0;
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut latencies = Latencies::default();
    let (mut sent, mut timed_out) = (0, 0);
    let mut payload = Vec::with_capacity(256);
    loop {
        let now = Instant::now();
        if now >= next_send && now < stop_sending && in_flight.len() < config.max_in_flight {
            seq += 1;
            let created = Instant::now();
            probe_event(config, seq, now_ms()).write_json(&mut payload);
            let counted = created >= counted_from;
            let record = BaseRecord::with_opaque_to(topic, Box::new(Sent { at: created, counted }))
                .key(config.user.as_bytes())
                .payload(&payload);
            producer.send(record).map_err(|(err, _)| err).context("cannot send a probe")?;
            sent += u64::from(counted);
            in_flight.push_back(InFlight { seq, sent: created, counted });
            // Keep the schedule through small delays (a busy machine wakes
            // the thread late), but do not burst after a long stall.
            next_send += config.interval;
            if next_send + config.interval < now {
                next_send = now;
            }
        }
        producer.poll(Duration::ZERO);
        let failed = producer.context().failed.load(Ordering::Relaxed);
        anyhow::ensure!(failed == 0, "{failed} probe events were not delivered");
        if !in_flight.is_empty() {
            let visible = score(&mut redis, &key, &config.tag)? / config.view_weight.max(1);
            let seen = Instant::now();
            while let Some(probe) = in_flight.front() {
                if probe.seq as i64 <= visible {
                    if probe.counted {
                        latencies.push(seen - probe.sent);
                    }
                } else if seen - probe.sent > config.timeout {
                    timed_out += u64::from(probe.counted);
                } else {
                    break;
                }
                in_flight.pop_front();
            }
        }
        let now = Instant::now();
        if (now >= stop_sending && in_flight.is_empty()) || now >= give_up {
            break;
        }
        let until_send = next_send.saturating_duration_since(now);
        std::thread::sleep(if in_flight.is_empty() {
            until_send
        } else {
            until_send.min(config.poll)
        });
    }
    let _ = producer.flush(config.timeout);
    let summary = latencies.summary();
    let acked = producer.context().acked.lock().unwrap_or_else(|e| e.into_inner());
    let acked_summary = acked.summary();
    let kafka_acked = KafkaAcked {
        count: acked.len(),
        p50_ms: acked_summary.map(|s| s.p50_ms),
        p99_ms: acked_summary.map(|s| s.p99_ms),
        max_ms: acked_summary.map(|s| s.max_ms),
    };
    Ok(ProbeReport {
        user: config.user.clone(),
        interval_ms: config.interval.as_secs_f64() * 1e3,
        sent,
        count: latencies.len(),
        timed_out: timed_out + in_flight.iter().filter(|p| p.counted).count() as u64,
        p50_ms: summary.map(|s| s.p50_ms),
        p99_ms: summary.map(|s| s.p99_ms),
        max_ms: summary.map(|s| s.max_ms),
        mean_ms: summary.map(|s| s.mean_ms),
        kafka_acked,
    })
}

/// Probe number `seq`: a view of the probe product by the probe user.
fn probe_event(config: &ProbeConfig, seq: u64, timestamp: i64) -> Event<'_> {
    Event {
        event_id: Cow::Owned(format!("{}-{seq}", config.user)),
        user_id: Cow::Borrowed(&config.user),
        product_id: Cow::Borrowed(&config.tag),
        event_type: EventType::View,
        timestamp,
        tags: [config.tag.as_str()].into_iter().collect::<TagList<'_>>(),
        price: None,
        quantity: None,
        session_id: None,
    }
}

/// The probe tag's score in the probe user's profile (0 while absent).
fn score(redis: &mut redis::Connection, key: &str, tag: &str) -> anyhow::Result<i64> {
    let value: Option<i64> =
        redis::cmd("HGET").arg(key).arg(tag).query(redis).context("Redis HGET failed")?;
    Ok(value.unwrap_or(0))
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
