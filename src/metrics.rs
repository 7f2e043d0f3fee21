//! Metrics in Prometheus' text format: HTTP requests by route and status, deliveries by
//! channel and outcome, and how long deliveries took (counted in this process), plus the
//! outbox's depth by state and the age of the oldest due delivery (read from the database by
//! the caller, so every instance reports the shared queue).
//!
//! Every label is bounded: routes are the table's patterns, never raw paths.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the delivery latency histogram: due time to sent.
const LATENCY_BUCKETS: [f64; 10] = [
    1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0,
];

/// Counters keyed by static labels: a read lock and an atomic add on the hot path.
struct Counters<K>(RwLock<HashMap<K, AtomicU64>>);

impl<K: std::hash::Hash + Eq + Copy> Counters<K> {
    fn new() -> Self {
        Self(RwLock::new(HashMap::new()))
    }

    fn add(&self, key: K) {
        if let Some(counter) = self.0.read().expect("metrics lock").get(&key) {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.0
            .write()
            .expect("metrics lock")
            .entry(key)
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Vec<(K, u64)> {
        let map = self.0.read().expect("metrics lock");
        map.iter()
            .map(|(k, v)| (*k, v.load(Ordering::Relaxed)))
            .collect()
    }
}

struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    /// In milliseconds, to keep an integer.
    sum_ms: AtomicU64,
}

pub struct Metrics {
    /// (route pattern, method, status).
    http: Counters<(&'static str, &'static str, u16)>,
    /// (channel, outcome).
    deliveries: Counters<(&'static str, &'static str)>,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http: Counters::new(),
            deliveries: Counters::new(),
            latency: Histogram {
                buckets: Default::default(),
                count: AtomicU64::new(0),
                sum_ms: AtomicU64::new(0),
            },
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &'static str, method: &http::Method, status: u16) {
        self.http.add((route, method_label(method), status));
    }

    /// One attempt's outcome (`sent`, `transient`, `permanent`, `deferred`).
    pub fn attempt(&self, channel: &'static str, outcome: &'static str) {
        self.deliveries.add((channel, outcome));
    }

    /// A delivery sent `seconds` after it was due.
    pub fn delivered_after(&self, seconds: f64) {
        let h = &self.latency;
        for (bucket, bound) in h.buckets.iter().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_ms
            .fetch_add((seconds.max(0.0) * 1000.0) as u64, Ordering::Relaxed);
    }

    /// The whole exposition, with the shared queue as read from the database.
    pub fn render(&self, queue: &Queue) -> String {
        let mut out = String::new();
        self.render_http(&mut out);
        self.render_deliveries(&mut out);
        render_queue(&mut out, queue);
        out
    }

    fn render_http(&self, out: &mut String) {
        out.push_str(
            "# HELP herald_http_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE herald_http_requests_total counter\n");
        let mut rows = self.http.snapshot();
        rows.sort();
        for ((route, method, status), n) in rows {
            let _ = writeln!(
                out,
                "herald_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
    }

    fn render_deliveries(&self, out: &mut String) {
        out.push_str(
            "# HELP herald_delivery_attempts_total Delivery attempts, by channel and outcome.\n",
        );
        out.push_str("# TYPE herald_delivery_attempts_total counter\n");
        let mut rows = self.deliveries.snapshot();
        rows.sort();
        for ((channel, outcome), n) in rows {
            let _ = writeln!(
                out,
                "herald_delivery_attempts_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let h = &self.latency;
        out.push_str("# HELP herald_delivery_latency_seconds From due to sent, per delivery.\n");
        out.push_str("# TYPE herald_delivery_latency_seconds histogram\n");
        for (bucket, bound) in h.buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(
                out,
                "herald_delivery_latency_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "herald_delivery_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = h.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(out, "herald_delivery_latency_seconds_sum {sum}");
        let _ = writeln!(out, "herald_delivery_latency_seconds_count {count}");
    }
}

/// The outbox's depth by state and the oldest due delivery's age, as the store reports them.
pub struct Queue {
    pub depth: Vec<(&'static str, i64)>,
    pub oldest_due_secs: i64,
}

fn render_queue(out: &mut String, queue: &Queue) {
    out.push_str("# HELP herald_deliveries Deliveries in the outbox, by state.\n");
    out.push_str("# TYPE herald_deliveries gauge\n");
    for (state, n) in &queue.depth {
        let _ = writeln!(out, "herald_deliveries{{state=\"{state}\"}} {n}");
    }
    out.push_str("# HELP herald_oldest_due_seconds How long the oldest due delivery has waited.\n");
    out.push_str("# TYPE herald_oldest_due_seconds gauge\n");
    let _ = writeln!(out, "herald_oldest_due_seconds {}", queue.oldest_due_secs);
}

fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
