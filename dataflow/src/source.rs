//! The Kafka source operator.
//!
//! Each worker polls its own partitions without blocking, at most
//! `max_batch` messages per activation, then re-activates itself (at once
//! if there is more to read, after a short delay otherwise). Timestamps are
//! epochs of `epoch` wall-clock length: the operator holds one capability
//! per output and downgrades all of them when an epoch ends, which is what
//! lets downstream operators write each epoch's results exactly once.
//!
//! Valid events become a [`ProfileEvent`] (views reach the unique-visitor
//! state through the profile operator, which interns their user); each
//! worker also keeps the epoch's newest events and emits them when the
//! epoch closes. Invalid messages go to the dead-letter topic.
//!
//! It also notes on the worker's [`WritePace`] how old the newest message
//! it read was (its Kafka timestamp), or that it is caught up, so that the
//! operators write out less often while the input is behind
//! (`write_pace.rs`).
//!
//! The source reads nothing while the dataflow's processing lags its
//! reading by more than `--read-ahead-epochs` ([`ReadAhead`]: two probes,
//! in-band), so a backlog waits in Kafka instead of in the operators'
//! stashes and channels. Epochs still advance with the clock meanwhile.
//!
//! A position Kafka deleted before the source read it (retention
//! overtaking a job that fell behind) is resolved by the reader under
//! `--on-data-loss`; under `fail` the source raises the job's [`InputLoss`]
//! and every source finishes (`kafka_reader/data_loss.rs`).
//!
//! When its epoch crosses a checkpoint boundary (a multiple of
//! `checkpoint_every`), the source emits its partitions' next offsets on its
//! positions stream *before* downgrading its capabilities: those offsets are
//! exactly the input of every epoch before the boundary. When it finishes,
//! it emits the offsets it stopped at, valid for every later boundary.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use model::Event;
use prometheus_client::metrics::counter::Counter;
use rdkafka::Message;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::{Scope, Stream};

use crate::aggregates::recent::events::RecentEvents;
use crate::checkpointing::{SourcePositions, unix_ms};
use crate::day::Calendar;
use crate::kafka_output::{KafkaOutput, Origin};
use crate::kafka_reader::{InputLoss, PartitionReader, ReaderError, is_out_of_range};
use crate::metrics::{JobMetrics, partition_labels};
use crate::read_ahead::ReadAhead;
use crate::records::{ProfileEvent, RecentEvent};
use crate::redis_loss::RedisLoss;
use crate::write_pace::WritePace;

/// How the source paces itself.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// Wall-clock length of an epoch.
    pub epoch: Duration,
    /// Most messages handled per activation.
    pub max_batch: usize,
    /// How often to look for new partitions and refresh lag metrics.
    pub discovery_interval: Duration,
    /// Size of the `events` list of recent events.
    pub recent_capacity: usize,
    /// Maps event times to calendar days.
    pub calendar: Calendar,
    /// Epochs between checkpoint boundaries.
    pub checkpoint_every: u64,
}

/// What the source hands to the rest of the dataflow.
#[derive(Debug)]
pub struct SourceStreams<'scope> {
    /// One record per valid event.
    pub profiles: Stream<'scope, u64, Vec<ProfileEvent>>,
    /// Each worker's newest events of each epoch.
    pub recent: Stream<'scope, u64, Vec<RecentEvent>>,
    /// The source's offsets at checkpoint boundaries (for the worker's
    /// checkpoint operator).
    pub positions: Stream<'scope, u64, Vec<SourcePositions>>,
}

/// Shared handles the source needs besides its settings.
#[derive(Debug, Clone)]
pub struct SourceHandles {
    /// Receives rejected messages.
    pub dead_letters: Rc<KafkaOutput>,
    /// The job's metrics.
    pub metrics: Arc<JobMetrics>,
    /// Set on SIGINT/SIGTERM: finish the epoch and stop.
    pub shutdown: Arc<AtomicBool>,
    /// Raised when Redis lost the job's writes: stop too, so that the job
    /// restarts the dataflow from the last checkpoint (`redis_loss.rs`).
    pub redis_lost: RedisLoss,
    /// Raised when Kafka deleted events a worker had not read, under
    /// `--on-data-loss fail`: stop too, and the job exits with that error.
    pub input_lost: InputLoss,
    /// Where the source notes how far behind its input is, for the
    /// operators' write-outs.
    pub pace: WritePace,
    /// Whether the dataflow's processing lags its reading too far.
    pub read_ahead: ReadAhead,
}

type Out<D> = OutputBuilder<u64, timely::container::CapacityContainerBuilder<Vec<D>>>;

/// Builds the source operator over `reader`.
pub fn kafka_source<'scope>(
    scope: Scope<'scope, u64>,
    mut reader: PartitionReader,
    settings: SourceSettings,
    handles: SourceHandles,
) -> SourceStreams<'scope> {
    let mut builder = OperatorBuilder::new("KafkaSource".to_owned(), scope);
    let activator = scope.activator_for(builder.operator_info().address);
    let (profiles_out, profiles) = builder.new_output::<Vec<ProfileEvent>>();
    let (recent_out, recent) = builder.new_output::<Vec<RecentEvent>>();
    let (positions_out, positions) = builder.new_output::<Vec<SourcePositions>>();
    let mut profiles_out: Out<ProfileEvent> = OutputBuilder::from(profiles_out);
    let mut recent_out: Out<RecentEvent> = OutputBuilder::from(recent_out);
    let mut positions_out: Out<SourcePositions> = OutputBuilder::from(positions_out);
    let worker = scope.index();

    builder.build(move |capabilities| {
        let mut capabilities: Option<Vec<Capability<u64>>> = Some(capabilities);
        let SourceSettings {
            epoch,
            max_batch,
            discovery_interval,
            recent_capacity,
            mut calendar,
            checkpoint_every,
        } = settings;
        let every = checkpoint_every.max(1);
        let epoch_ms = epoch.as_millis().max(1);
        let started = Instant::now();
        let mut current_epoch = 0_u64;
        let mut newest = RecentEvents::new(recent_capacity);
        let mut counters: Vec<Counter> = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        let mut last_discovery = Instant::now();
        // Since when the source has been waiting for the dataflow, if it is.
        let mut paused_since: Option<Instant> = None;
        let SourceHandles {
            dead_letters,
            metrics,
            shutdown,
            redis_lost,
            input_lost,
            pace,
            read_ahead,
        } = handles;

        move |_frontiers| {
            let Some(caps) = capabilities.as_mut() else { return };
            sync_counters(&reader, &metrics, &mut counters, &mut counts);

            let now_epoch = (started.elapsed().as_millis() / epoch_ms) as u64;
            if now_epoch > current_epoch {
                emit_recent(&mut recent_out, &caps[1], &mut newest);
                if now_epoch / every > current_epoch / every {
                    let offsets = reader.checkpoint_offsets();
                    let positions =
                        SourcePositions { after: current_epoch, upto: now_epoch, offsets };
                    positions_out.activate().session(&caps[2]).give(positions);
                }
                for cap in caps.iter_mut() {
                    cap.downgrade(&now_epoch);
                }
                current_epoch = now_epoch;
            }

            let mut handled = 0;
            let mut out_of_range = false;
            let mut newest_produced_ms: Option<i64> = None;
            let behind = read_ahead.behind();
            match (behind, paused_since) {
                (true, None) => paused_since = Some(Instant::now()),
                (false, Some(since)) => {
                    metrics.input_paused_seconds.inc_by(since.elapsed().as_secs_f64());
                    paused_since = None;
                }
                _ => {}
            }
            if !behind {
                let mut profiles_handle = profiles_out.activate();
                let mut profiles = profiles_handle.session(&caps[0]);
                while handled < max_batch {
                    let message = match reader.poll() {
                        None => break,
                        Some(Ok(message)) => message,
                        Some(Err(err)) => {
                            out_of_range |= is_out_of_range(&err);
                            tracing::warn!(worker, %err, "kafka consumer error");
                            break;
                        }
                    };
                    handled += 1;
                    let Some(slot) = reader.slot_of(&message) else { continue };
                    if reader.is_redelivered(slot, &message) {
                        let (topic, partition) = (message.topic(), message.partition());
                        let labels = partition_labels(topic, partition);
                        metrics.input_redelivered.get_or_create(&labels).inc();
                        continue;
                    }
                    counts[slot] += 1;
                    if let Some(produced) = message.timestamp().to_millis() {
                        newest_produced_ms = newest_produced_ms.max(Some(produced));
                    }
                    let payload = message.payload().unwrap_or_default();
                    match Event::parse(payload) {
                        Ok(event) => {
                            let day = calendar.day_of(event.timestamp);
                            profiles.give(ProfileEvent::from_event(&event, day));
                            newest.offer(event.timestamp, &event.event_id, payload);
                        }
                        Err(error) => {
                            let origin = Origin {
                                topic: message.topic(),
                                partition: message.partition(),
                                offset: message.offset(),
                            };
                            dead_letters.dead_letter(message.key(), payload, &error, origin);
                            metrics
                                .dead_lettered
                                .get_or_create(&vec![("reason", error.reason().to_owned())])
                                .inc();
                        }
                    }
                    let next = message.offset() + 1;
                    drop(message);
                    reader.set_next_offset(slot, next);
                }
            }
            if out_of_range {
                match reader.resolve_out_of_range() {
                    Ok(()) => {}
                    Err(lost @ ReaderError::DataLost { .. }) => {
                        tracing::error!(worker, %lost, "stopping the job");
                        input_lost.raise(lost);
                    }
                    Err(err) => tracing::warn!(
                        worker,
                        %err,
                        "cannot resolve a position out of range; will when it is reported again"
                    ),
                }
            }
            for (counter, count) in counters.iter().zip(counts.iter_mut()) {
                counter.inc_by(std::mem::take(count));
            }
            match newest_produced_ms {
                Some(produced) => pace.read_message_of(produced, now_ms()),
                // An empty poll alone does not say the source is caught
                // up: librdkafka's queue runs dry between fetches while
                // reading a backlog too.
                None if handled == 0 && reader.lags().all(|(_, lag)| lag == 0) => {
                    pace.caught_up();
                }
                None => {}
            }

            if last_discovery.elapsed() >= discovery_interval {
                last_discovery = Instant::now();
                if let Err(err) = reader.refresh() {
                    tracing::warn!(worker, %err, "partition assignment failed; will retry");
                }
                if let Err(err) = reader.restart_stalled() {
                    tracing::warn!(worker, %err, "assigning stalled partitions again failed; will retry");
                }
                for (position, lag) in reader.lags() {
                    let labels = partition_labels(&position.tp.topic, position.tp.partition);
                    metrics.consumer_lag.get_or_create(&labels).set(lag);
                }
                reader.publish_positions();
            }

            let finished = shutdown.load(Ordering::Relaxed)
                || redis_lost.is_raised()
                || input_lost.is_raised()
                || (reader.is_bounded() && reader.caught_up());
            if finished {
                emit_recent(&mut recent_out, &caps[1], &mut newest);
                let offsets = reader.checkpoint_offsets();
                let positions = SourcePositions { after: current_epoch, upto: u64::MAX, offsets };
                positions_out.activate().session(&caps[2]).give(positions);
                tracing::info!(worker, epoch = current_epoch, "source finished");
                capabilities = None;
            } else if handled == max_batch {
                activator.activate();
            } else {
                activator.activate_after(Duration::from_millis(2).min(epoch / 4));
            }
        }
    });

    SourceStreams { profiles, recent, positions }
}

/// Keeps one consumed-events counter per owned partition.
fn sync_counters(
    reader: &PartitionReader,
    metrics: &JobMetrics,
    counters: &mut Vec<Counter>,
    counts: &mut Vec<u64>,
) {
    for position in &reader.positions()[counters.len()..] {
        let labels = partition_labels(&position.tp.topic, position.tp.partition);
        counters.push(metrics.events_consumed.get_or_create(&labels).clone());
        counts.push(0);
    }
}

fn emit_recent(out: &mut Out<RecentEvent>, cap: &Capability<u64>, newest: &mut RecentEvents) {
    if newest.is_empty() {
        return;
    }
    let mut handle = out.activate();
    let mut session = handle.session(cap);
    for event in newest.drain() {
        session.give(event);
    }
}

/// Now, in ms since the Unix epoch (as Kafka's timestamps).
fn now_ms() -> i64 {
    i64::try_from(unix_ms()).unwrap_or(i64::MAX)
}
