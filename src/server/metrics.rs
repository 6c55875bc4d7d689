//! `Metrics`: this instance's Prometheus registry (one per instance, never global, so two
//! instances in one test process keep their own numbers), rendered at `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// How a cacheable read was answered: `local` (this instance's memory), `assembled` (put
/// together in memory), `hit` (Redis), `miss` (computed from PostgreSQL and stored),
/// `bypass` (from PostgreSQL, not stored: a writer's read, `no-cache`, or the cache
/// unavailable).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub route: &'static str,
    pub result: &'static str,
}

/// A streaming replica, by host:port.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplicaLabels {
    pub replica: String,
}

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs .. ~13 s, doubling.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0001, 2.0, 18,
    ))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<HttpLabels, Counter>,
    pub latency: HistogramFamily,
    pub pool_size: Gauge,
    pub pool_idle: Gauge,
    pub pool_waiting: Gauge,
    pub pool_waits: Counter,
    pub db_retries: Counter,
    pub db_uses: Counter,
    pub replica_reads: Counter,
    /// Each replica's lag in seconds (-1 when unknown) and whether it serves reads now.
    pub replica_lag: Family<ReplicaLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub replica_serving: Family<ReplicaLabels, Gauge>,
    pub replica_fallbacks: Counter,
    pub cache_lookups: Family<CacheLabels, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub cache_bypass: Counter,
    pub ws_clients: Gauge,
    pub events_published: Counter,
    pub events_delivered: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ld");
        let requests = Family::<HttpLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let m = Metrics {
            requests,
            latency,
            pool_size: Gauge::default(),
            pool_idle: Gauge::default(),
            pool_waiting: Gauge::default(),
            pool_waits: Counter::default(),
            db_retries: Counter::default(),
            db_uses: Counter::default(),
            replica_reads: Counter::default(),
            replica_lag: Family::default(),
            replica_serving: Family::default(),
            replica_fallbacks: Counter::default(),
            cache_lookups: Family::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_bypass: Counter::default(),
            ws_clients: Gauge::default(),
            events_published: Counter::default(),
            events_delivered: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            m.latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "PostgreSQL pool: open connections",
            m.pool_size.clone(),
        );
        registry.register(
            "db_pool_idle",
            "PostgreSQL pool: idle connections",
            m.pool_idle.clone(),
        );
        registry.register(
            "db_pool_waiting",
            "Requests waiting for a PostgreSQL connection",
            m.pool_waiting.clone(),
        );
        registry.register(
            "db_pool_waits",
            "Requests that found every PostgreSQL connection busy (pool at its limit) and waited",
            m.pool_waits.clone(),
        );
        registry.register(
            "db_retries",
            "Reads and write transactions retried on a fresh PostgreSQL connection after theirs was lost (a restart)",
            m.db_retries.clone(),
        );
        registry.register(
            "db_uses",
            "Requests' uses of PostgreSQL: a pooled connection taken for one step's statements",
            m.db_uses.clone(),
        );
        registry.register(
            "replica_reads",
            "Reads answered by a streaming replica",
            m.replica_reads.clone(),
        );
        registry.register(
            "replica_lag_seconds",
            "How far each streaming replica is behind the primary (-1: unknown)",
            m.replica_lag.clone(),
        );
        registry.register(
            "replica_serving",
            "Whether each streaming replica serves reads now (fresh within database.max_replica_lag_ms)",
            m.replica_serving.clone(),
        );
        registry.register(
            "replica_fallbacks",
            "Reads a replica failed, answered by the primary in the same request",
            m.replica_fallbacks.clone(),
        );
        registry.register(
            "cache_lookups",
            "Cacheable reads by route and how they were answered (local, hit, miss, bypass)",
            m.cache_lookups.clone(),
        );
        registry.register(
            "cache_hits",
            "Cached reads answered from Redis",
            m.cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Cached reads computed and stored",
            m.cache_misses.clone(),
        );
        registry.register(
            "cache_bypass",
            "Cached reads served without Redis",
            m.cache_bypass.clone(),
        );
        registry.register(
            "websocket_clients",
            "Connected WebSocket clients",
            m.ws_clients.clone(),
        );
        registry.register(
            "events_published",
            "Events this instance published (committed writes)",
            m.events_published.clone(),
        );
        registry.register(
            "events_delivered",
            "Events this instance received and sent to its WebSocket clients",
            m.events_delivered.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Counts one cacheable read of `route` answered as `result`.
    pub fn cache_lookup(&self, route: &'static str, result: &'static str) {
        self.cache_lookups
            .get_or_create(&CacheLabels { route, result })
            .inc();
    }

    pub fn observe(&self, labels: HttpLabels, seconds: f64) {
        self.latency.get_or_create(&labels).observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }
}
