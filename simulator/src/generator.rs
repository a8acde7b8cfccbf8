//! The deterministic event generator: shoppers in sessions walking a funnel.
//!
//! A fixed pool of concurrent sessions is kept; each step picks one, and that
//! session's shopper does something: views a product (Zipf-popular), adds a
//! product they viewed in this session to the cart, or buys one from the
//! cart. Users are Zipf-skewed too. Event time starts at `start_time_ms` and
//! advances by exponential gaps, so it depends on the seed and flags only,
//! never on how fast events are sent.
//!
//! [`EventGenerator::next_event`] reuses internal buffers and borrows tags
//! from the catalog: it does not allocate per event.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use model::{Event, EventType, Product, TagList};

use crate::mix::Mix;
use crate::rng::Rng;
use crate::shard::Shard;
use crate::zipf::Zipf;

/// Random stream reserved for event generation (see [`Rng::fork`]).
const EVENT_STREAM: u64 = 0xE7E7_0001;
/// Products remembered per session, for the funnel.
const SESSION_MEMORY: usize = 4;
/// Probability that an add-to-cart follows a view in the same session.
const FUNNEL_FOLLOW: f64 = 0.9;

/// Everything that determines the event sequence.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of users across all shards.
    pub users: u64,
    /// Event time of the first event, ms since the Unix epoch.
    pub start_time_ms: i64,
    /// Events per second of event time (how fast the simulated clock runs).
    pub event_time_rate: f64,
    /// Share of each event type.
    pub mix: Mix,
    /// Which users this generator speaks for.
    pub shard: Shard,
    /// Zipf exponent of user popularity.
    pub user_skew: f64,
    /// Zipf exponent of product popularity.
    pub product_skew: f64,
    /// Mean number of events in a session.
    pub mean_session_events: f64,
}

/// A session: one shopper's recent views and cart.
#[derive(Debug, Clone, Copy, Default)]
struct Session {
    user: u64,
    id: u64,
    remaining: u32,
    opened: bool,
    viewed: Memory,
    cart: Memory,
}

/// A tiny ring of product indices.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    items: [u32; SESSION_MEMORY],
    len: usize,
    next: usize,
}

impl Memory {
    fn remember(&mut self, product: u32) {
        self.items[self.next] = product;
        self.next = (self.next + 1) % SESSION_MEMORY;
        self.len = (self.len + 1).min(SESSION_MEMORY);
    }

    fn pick(&self, rng: &mut Rng) -> Option<u32> {
        (self.len > 0).then(|| self.items[rng.below(self.len as u64) as usize])
    }

    fn take(&mut self, rng: &mut Rng) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let i = rng.below(self.len as u64) as usize;
        let product = self.items[i];
        self.items.copy_within(i + 1..self.len, i);
        self.len -= 1;
        self.next = self.len % SESSION_MEMORY;
        Some(product)
    }
}

/// Reused buffers for the string fields of the current event.
#[derive(Debug, Default)]
struct Scratch {
    event_id: String,
    user_id: String,
    session_id: String,
}

/// Produces the event sequence for one configuration, one event at a time.
#[derive(Debug)]
pub struct EventGenerator {
    config: GeneratorConfig,
    catalog: Vec<Product>,
    rng: Rng,
    users: Zipf,
    products: Zipf,
    in_session_mix: Mix,
    open_with_view: bool,
    sessions: Vec<Session>,
    sessions_started: u64,
    clock_ms: f64,
    sequence: u64,
    scratch: Scratch,
    wall_clock: bool,
}

impl EventGenerator {
    /// A generator over `catalog` (usually [`crate::catalog::generate`]).
    ///
    /// # Panics
    /// If the catalog is empty, the shard has no users or a rate is not positive.
    pub fn new(config: GeneratorConfig, catalog: Vec<Product>) -> Self {
        let shard_users = config.shard.users_in(config.users);
        assert!(!catalog.is_empty(), "the catalog needs at least one product");
        assert!(shard_users > 0, "shard {} of {} users is empty", config.shard, config.users);
        assert!(config.event_time_rate > 0.0, "event_time_rate must be positive");
        let pool = shard_users.clamp(1, 256) as usize;
        Self {
            rng: Rng::fork(config.seed, EVENT_STREAM ^ config.shard.index),
            users: Zipf::new(shard_users as usize, config.user_skew),
            products: Zipf::new(catalog.len(), config.product_skew),
            in_session_mix: config.mix.after_opening_view(config.mean_session_events),
            open_with_view: config.mix.opens_with_view(config.mean_session_events),
            sessions: vec![Session::default(); pool],
            sessions_started: 0,
            clock_ms: 0.0,
            sequence: 0,
            scratch: Scratch::default(),
            wall_clock: false,
            catalog,
            config,
        }
    }

    /// Stamps every event with the wall-clock time it is generated (ms since
    /// the epoch) instead of its generated event time, so that a consumer can
    /// measure latency from creation. The sequence is then no longer
    /// reproducible byte for byte; everything but the timestamps still is.
    pub fn with_wall_clock_timestamps(mut self) -> Self {
        self.wall_clock = true;
        self
    }

    /// The catalog events refer to.
    pub fn catalog(&self) -> &[Product] {
        &self.catalog
    }

    /// How many events have been generated so far.
    pub fn generated(&self) -> u64 {
        self.sequence
    }

    /// The next event. Its strings borrow the generator until the next call.
    pub fn next_event(&mut self) -> Event<'_> {
        self.clock_ms += self.rng.exponential(1000.0 / self.config.event_time_rate);
        let slot = self.rng.below(self.sessions.len() as u64) as usize;
        if self.sessions[slot].remaining == 0 {
            self.sessions[slot] = self.start_session();
        }
        let session = &mut self.sessions[slot];
        // Sessions open with a view; later events follow the adjusted mix.
        let event_type = match (session.opened, self.open_with_view) {
            (false, true) => EventType::View,
            (false, false) => self.config.mix.pick(self.rng.next_f64()),
            (true, _) => self.in_session_mix.pick(self.rng.next_f64()),
        };
        session.opened = true;
        session.remaining -= 1;
        let rng = &mut self.rng;
        let products = &self.products;
        let popular = |rng: &mut Rng| products.sample(rng) as u32;
        let product = match event_type {
            EventType::View => {
                let p = popular(rng);
                session.viewed.remember(p);
                p
            }
            EventType::AddToCart => {
                let followed =
                    if rng.chance(FUNNEL_FOLLOW) { session.viewed.pick(rng) } else { None };
                let p = followed.unwrap_or_else(|| popular(rng));
                session.cart.remember(p);
                p
            }
            EventType::Purchase => session
                .cart
                .take(rng)
                .or_else(|| session.viewed.pick(rng))
                .unwrap_or_else(|| popular(rng)),
        };
        let quantity = match event_type {
            EventType::View => None,
            _ => Some(if rng.chance(0.85) { 1 } else { 2 + rng.below(4) as u32 }),
        };
        let (user, session_id) = (session.user, session.id);
        self.sequence += 1;
        self.render(event_type, user, session_id, product as usize, quantity)
    }

    fn start_session(&mut self) -> Session {
        let rank = self.users.sample(&mut self.rng) as u64;
        // 1 + a geometric number of further events, so the mean length is
        // exactly `mean_session_events`: floor(Exp(mu)) is geometric with
        // mean (m - 1) when exp(-1/mu) = (m - 1) / m.
        let m = self.config.mean_session_events;
        let extra =
            if m > 1.0 { self.rng.exponential(-1.0 / ((m - 1.0) / m).ln()).floor() } else { 0.0 };
        self.sessions_started += 1;
        Session {
            user: self.config.shard.user_index(rank),
            id: self.sessions_started,
            remaining: 1 + extra.min(1000.0) as u32,
            ..Session::default()
        }
    }

    fn render(
        &mut self,
        event_type: EventType,
        user: u64,
        session: u64,
        product: usize,
        quantity: Option<u32>,
    ) -> Event<'_> {
        let Self { scratch, config, catalog, sequence, clock_ms, wall_clock, .. } = self;
        let shard = config.shard.index;
        scratch.event_id.clear();
        let _ = write!(scratch.event_id, "e{:x}-{shard}-{sequence}", config.seed);
        scratch.user_id.clear();
        let _ = write!(scratch.user_id, "u{user:07}");
        scratch.session_id.clear();
        let _ = write!(scratch.session_id, "s{shard}-{session}");
        let item = &catalog[product];
        Event {
            event_id: Cow::Borrowed(&scratch.event_id),
            user_id: Cow::Borrowed(&scratch.user_id),
            product_id: Cow::Borrowed(&item.product_id),
            event_type,
            timestamp: if *wall_clock { now_ms() } else { config.start_time_ms + *clock_ms as i64 },
            tags: item.tags.iter().map(String::as_str).collect::<TagList<'_>>(),
            price: Some(item.price),
            quantity,
            session_id: Some(Cow::Borrowed(&scratch.session_id)),
        }
    }
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn config(shard: Shard) -> GeneratorConfig {
        GeneratorConfig {
            seed: 11,
            users: 1_000,
            start_time_ms: 1_764_115_200_000,
            event_time_rate: 100.0,
            mix: Mix::default(),
            shard,
            user_skew: 0.8,
            product_skew: 1.0,
            mean_session_events: 8.0,
        }
    }

    fn events(shard: Shard, n: usize) -> Vec<Event<'static>> {
        let mut generator = EventGenerator::new(config(shard), catalog::generate(11, 200));
        (0..n).map(|_| generator.next_event().into_owned()).collect()
    }

    #[test]
    fn same_config_same_events() {
        assert_eq!(events(Shard::default(), 2_000), events(Shard::default(), 2_000));
    }

    #[test]
    fn wall_clock_timestamps_change_only_the_time() {
        let generated = events(Shard::default(), 100);
        let mut generator =
            EventGenerator::new(config(Shard::default()), catalog::generate(11, 200))
                .with_wall_clock_timestamps();
        let before = now_ms();
        let stamped: Vec<Event<'static>> =
            (0..100).map(|_| generator.next_event().into_owned()).collect();
        let after = now_ms();
        for (mut stamped, generated) in stamped.into_iter().zip(generated) {
            assert!((before..=after).contains(&stamped.timestamp), "{}", stamped.timestamp);
            stamped.timestamp = generated.timestamp;
            assert_eq!(stamped, generated);
        }
    }

    #[test]
    fn events_are_valid_unique_and_time_ordered() {
        let events = events(Shard::default(), 20_000);
        let mut ids: Vec<_> = events.iter().map(|e| e.event_id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), events.len());
        assert!(events.iter().all(|e| e.validate().is_ok()));
        assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        assert!(events[0].timestamp >= 1_764_115_200_000);
        // 20,000 events at 100 events per event-time second span about 200 s.
        let span = events.last().unwrap().timestamp - events[0].timestamp;
        assert!((150_000..250_000).contains(&span), "{span}");
    }

    #[test]
    fn mix_and_funnel_are_realistic() {
        let events = events(Shard::default(), 50_000);
        let share = |t| events.iter().filter(|e| e.event_type == t).count() as f64 / 50_000.0;
        assert!((share(EventType::View) - 0.80).abs() < 0.02);
        assert!((share(EventType::AddToCart) - 0.15).abs() < 0.02);
        assert!((share(EventType::Purchase) - 0.05).abs() < 0.01);
        // Most add-to-carts follow a view of the same product in the same session.
        let followed = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.event_type == EventType::AddToCart)
            .map(|(i, e)| {
                events[..i].iter().rev().take(5_000).any(|v| {
                    v.event_type == EventType::View
                        && v.session_id == e.session_id
                        && v.product_id == e.product_id
                })
            })
            .collect::<Vec<_>>();
        let rate = followed.iter().filter(|f| **f).count() as f64 / followed.len() as f64;
        assert!(rate > 0.8, "only {rate:.2} of add-to-carts follow a view");
    }

    #[test]
    fn shards_speak_for_disjoint_users() {
        let a = events(Shard { index: 0, count: 2 }, 5_000);
        let b = events(Shard { index: 1, count: 2 }, 5_000);
        let users_a: std::collections::HashSet<_> = a.iter().map(|e| e.user_id.clone()).collect();
        assert!(b.iter().all(|e| !users_a.contains(&e.user_id)));
        assert!(a.iter().all(|e| e.event_id.contains("-0-")));
    }
}
