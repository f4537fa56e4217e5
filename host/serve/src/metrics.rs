//! The service's metrics, in a registry of its own (no process-global
//! state: two services in one process count apart), encoded as
//! Prometheus/OpenMetrics text by `GET /metrics`.
//!
//! Counters and histograms are updated as things happen; the gauges that
//! mirror durable state (queue depth, pending callbacks, subscriptions)
//! are read from the state file at scrape time, so they are right after a
//! restart too.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::Counts;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CallLabels {
    pub(crate) app: String,
    pub(crate) method: String,
    pub(crate) outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DurationLabels {
    pub(crate) app: String,
    pub(crate) method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DeliveryLabels {
    /// `hook`, `callback` or `poll`.
    pub(crate) kind: String,
    /// `accepted`, `duplicate`, `refused` (received); `done`, `retry`,
    /// `dead`, `failed` (processed).
    pub(crate) outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) route: String,
    pub(crate) status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabels {
    pub(crate) kind: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn call_buckets() -> Histogram {
    // 5 ms to about 80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) calls: Family<CallLabels, Counter>,
    pub(crate) call_seconds: HistogramFamily<DurationLabels>,
    pub(crate) in_flight: Gauge<i64, AtomicI64>,
    pub(crate) deliveries: Family<DeliveryLabels, Counter>,
    pub(crate) requests: Family<RequestLabels, Counter>,
    pruned: Family<KindLabels, Counter>,
    queue_depth: Gauge<i64, AtomicI64>,
    dead_jobs: Gauge<i64, AtomicI64>,
    pending_callbacks: Gauge<i64, AtomicI64>,
    subscriptions: Family<KindLabels, Gauge<i64, AtomicI64>>,
    connections: Gauge<i64, AtomicI64>,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("zapwasm");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register("calls", "Guest calls run, by app, method path and outcome", calls.clone());
        let call_seconds: HistogramFamily<DurationLabels> = Family::new_with_constructor(call_buckets);
        registry.register("call_duration_seconds", "Wall-clock time of guest calls", call_seconds.clone());
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register("calls_in_flight", "Guest calls running now", in_flight.clone());
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Hook deliveries, callback POSTs and polls: received (accepted, duplicate, refused) and processed \
             (done, retry, dead, failed)",
            deliveries.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let pruned = Family::<KindLabels, Counter>::default();
        registry.register(
            "pruned",
            "Finished things removed by retention, by kind (jobs, invocations, callbacks, events, \
             idempotency_keys, authorizations, files)",
            pruned.clone(),
        );
        let queue_depth = Gauge::<i64, AtomicI64>::default();
        registry.register("queue_depth", "Received requests and polls queued or running", queue_depth.clone());
        let dead_jobs = Gauge::<i64, AtomicI64>::default();
        registry.register("queue_dead", "Queued work given up after its last attempt", dead_jobs.clone());
        let pending_callbacks = Gauge::<i64, AtomicI64>::default();
        registry.register("pending_callbacks", "Calls waiting for their callback", pending_callbacks.clone());
        let subscriptions = Family::<KindLabels, Gauge<i64, AtomicI64>>::default();
        registry.register("subscriptions", "Subscriptions, by kind (hook, polling)", subscriptions.clone());
        let connections = Gauge::<i64, AtomicI64>::default();
        registry.register("connections", "Connected accounts", connections.clone());
        Metrics {
            registry,
            calls,
            call_seconds,
            in_flight,
            deliveries,
            requests,
            pruned,
            queue_depth,
            dead_jobs,
            pending_callbacks,
            subscriptions,
            connections,
        }
    }

    /// Count a received or processed delivery.
    pub(crate) fn delivery(&self, kind: &str, outcome: &str) {
        self.deliveries.get_or_create(&DeliveryLabels { kind: kind.into(), outcome: outcome.into() }).inc();
    }

    /// Count what a pruning pass removed (every kind shows, 0 included).
    pub(crate) fn pruned(&self, kind: &str, count: u64) {
        self.pruned.get_or_create(&KindLabels { kind: kind.into() }).inc_by(count);
    }

    /// The text exposition, with the gauges of durable state set from `counts`.
    pub(crate) fn encode(&self, counts: &Counts) -> Result<String, std::fmt::Error> {
        self.queue_depth.set(counts.queue_depth);
        self.dead_jobs.set(counts.dead_jobs);
        self.pending_callbacks.set(counts.pending_callbacks);
        self.subscriptions.get_or_create(&KindLabels { kind: "hook".into() }).set(counts.hook_subscriptions);
        self.subscriptions.get_or_create(&KindLabels { kind: "polling".into() }).set(counts.polling_subscriptions);
        self.connections.set(counts.connections);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
