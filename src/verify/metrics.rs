//! Reading every instance's `/metrics` (Prometheus text) before and after the measured
//! load, so targets can be judged on what the servers saw: the cache hit ratio and
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
    pub cache_hits: f64,
    pub cache_misses: f64,
    pub cache_bypass: f64,
    pub pool_waits: f64,
}

impl Counters {
    /// Sums the samples of the counters in a Prometheus text exposition.
    pub fn parse(text: &str) -> Counters {
        let mut c = Counters::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let name = name.split('{').next().unwrap_or(name);
            let Ok(v) = value.parse::<f64>() else {
                continue;
            };
            match name {
                "ld_cache_hits_total" => c.cache_hits += v,
                "ld_cache_misses_total" => c.cache_misses += v,
                "ld_cache_bypass_total" => c.cache_bypass += v,
                "ld_db_pool_waits_total" => c.pool_waits += v,
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
        self.cache_hits += o.cache_hits;
        self.cache_misses += o.cache_misses;
        self.cache_bypass += o.cache_bypass;
        self.pool_waits += o.pool_waits;
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            cache_hits: self.cache_hits - before.cache_hits,
            cache_misses: self.cache_misses - before.cache_misses,
            cache_bypass: self.cache_bypass - before.cache_bypass,
            pool_waits: self.pool_waits - before.pool_waits,
        }
    }

    /// Hits over all cached reads (bypassed reads count as misses); None without reads.
    pub fn hit_ratio(&self) -> Option<f64> {
        let all = self.cache_hits + self.cache_misses + self.cache_bypass;
        (all > 0.0).then(|| self.cache_hits / all)
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
        let text = "# HELP ld_cache_hits Cached reads\n# TYPE ld_cache_hits counter\n\
                    ld_cache_hits_total 30\nld_cache_misses_total 10\nld_cache_bypass_total 0\n\
                    ld_db_pool_waits_total 2\nld_http_requests_total{route=\"/\",status=\"200\"} 5\n";
        let c = Counters::parse(text);
        assert_eq!(c.cache_hits, 30.0);
        assert_eq!(c.pool_waits, 2.0);
        assert_eq!(c.hit_ratio(), Some(0.75));
        assert_eq!(c.since(&c).hit_ratio(), None);
    }
}
