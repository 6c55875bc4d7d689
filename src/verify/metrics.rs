//! Reading every instance's `/metrics` (Prometheus text) before and after the measured
//! load, so targets can be judged on what the servers saw: the cache hit ratio (answers
//! from an instance's memory and from Redis), the uses of PostgreSQL per request, and
//! requests that had to wait for a database connection.

use serde::Serialize;

/// The sum of every sample of metric `name` (any labels) in a Prometheus text
/// exposition; None when it has none.
pub fn sum(text: &str, name: &str) -> Option<f64> {
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if key.split('{').next() == Some(name) {
            if let Ok(v) = value.parse::<f64>() {
                *total.get_or_insert(0.0) += v;
            }
        }
    }
    total
}

/// The counters verify reads, summed over every instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counters {
    /// Cacheable reads answered from an instance's memory.
    pub cache_local: f64,
    /// … from Redis.
    pub cache_hits: f64,
    pub cache_misses: f64,
    pub cache_bypass: f64,
    pub pool_waits: f64,
    /// Requests' uses of PostgreSQL, and HTTP requests answered.
    pub db_uses: f64,
    pub requests: f64,
}

impl Counters {
    /// Sums the samples of the counters in a Prometheus text exposition.
    pub fn parse(text: &str) -> Counters {
        let mut c = Counters::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let Ok(v) = value.parse::<f64>() else {
                continue;
            };
            match name {
                "ld_cache_lookups_total" => {
                    let result = labels
                        .split(',')
                        .find_map(|l| l.strip_prefix("result=\""))
                        .map(|r| r.trim_end_matches(['"', '}']));
                    match result {
                        Some("local" | "assembled") => c.cache_local += v,
                        Some("hit") => c.cache_hits += v,
                        Some("miss") => c.cache_misses += v,
                        Some("bypass") => c.cache_bypass += v,
                        _ => {}
                    }
                }
                "ld_db_pool_waits_total" => c.pool_waits += v,
                "ld_db_uses_total" => c.db_uses += v,
                "ld_http_requests_total" => c.requests += v,
                _ => {}
            }
        }
        c
    }

    /// Both counts added.
    pub fn plus(mut self, o: &Counters) -> Counters {
        self.add(o);
        self
    }

    fn add(&mut self, o: &Counters) {
        self.cache_local += o.cache_local;
        self.cache_hits += o.cache_hits;
        self.cache_misses += o.cache_misses;
        self.cache_bypass += o.cache_bypass;
        self.pool_waits += o.pool_waits;
        self.db_uses += o.db_uses;
        self.requests += o.requests;
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            cache_local: self.cache_local - before.cache_local,
            cache_hits: self.cache_hits - before.cache_hits,
            cache_misses: self.cache_misses - before.cache_misses,
            cache_bypass: self.cache_bypass - before.cache_bypass,
            pool_waits: self.pool_waits - before.pool_waits,
            db_uses: self.db_uses - before.db_uses,
            requests: self.requests - before.requests,
        }
    }

    /// Answers from memory or Redis over all cacheable reads (bypassed reads count as
    /// misses); None without reads.
    pub fn hit_ratio(&self) -> Option<f64> {
        let hits = self.cache_local + self.cache_hits;
        let all = hits + self.cache_misses + self.cache_bypass;
        (all > 0.0).then(|| hits / all)
    }

    /// Uses of PostgreSQL per HTTP request; None without requests.
    pub fn db_uses_per_request(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.db_uses / self.requests)
    }
}

/// The counters of every instance at `/metrics` on loopback, summed.
pub async fn scrape(client: &reqwest::Client, addrs: &[String]) -> Result<Counters, String> {
    let mut total = Counters::default();
    for addr in addrs {
        let url = format!("http://{addr}/metrics");
        let resp = super::http::get(client, &url).await?;
        if !resp.status().is_success() {
            return Err(format!("{url} answered {}", resp.status()));
        }
        total.add(&Counters::parse(&resp.text().await.unwrap_or_default()));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_from_the_exposition() {
        let text = "# HELP ld_cache_lookups Cacheable reads\n# TYPE ld_cache_lookups counter\n\
                    ld_cache_lookups_total{route=\"/api/runs\",result=\"local\"} 20\n\
                    ld_cache_lookups_total{route=\"/api/summary\",result=\"hit\"} 10\n\
                    ld_cache_lookups_total{route=\"/api/runs\",result=\"miss\"} 8\n\
                    ld_cache_lookups_total{route=\"/api/suites\",result=\"bypass\"} 2\n\
                    ld_db_pool_waits_total 2\nld_db_uses_total 12\n\
                    ld_http_requests_total{route=\"/\",status=\"200\"} 5\n\
                    ld_http_requests_total{route=\"/api/runs\",status=\"200\"} 35\n";
        let c = Counters::parse(text);
        assert_eq!(
            (c.cache_local, c.cache_hits, c.cache_misses, c.cache_bypass),
            (20.0, 10.0, 8.0, 2.0)
        );
        assert_eq!(c.pool_waits, 2.0);
        assert_eq!(c.hit_ratio(), Some(0.75));
        assert_eq!(c.db_uses_per_request(), Some(0.3));
        assert_eq!(c.since(&c).hit_ratio(), None);
        assert_eq!(c.since(&c).db_uses_per_request(), None);
    }
}
