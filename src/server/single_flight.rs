//! `SingleFlight`: one computation per cache key at a time within an instance. When a
//! popular entry is invalidated, the readers that miss together wait for the first one
//! instead of all running the same query (a thundering herd against PostgreSQL).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct SingleFlight {
    keys: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

/// Held while computing `key`; dropping it lets the next waiter in and forgets the key
/// when nobody else waits.
pub struct Flight<'a> {
    owner: &'a SingleFlight,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl SingleFlight {
    /// Waits until no other task of this instance computes `key`, then holds it.
    /// Returns whether this caller waited for another (it should re-check the cache).
    pub async fn enter(&self, key: &str) -> (Flight<'_>, bool) {
        let lock = {
            let mut keys = self.keys.lock().expect("single-flight lock");
            Arc::clone(keys.entry(key.to_string()).or_default())
        };
        let (guard, waited) = match Arc::clone(&lock).try_lock_owned() {
            Ok(g) => (g, false),
            Err(_) => (lock.lock_owned().await, true),
        };
        (
            Flight {
                owner: self,
                key: key.to_string(),
                guard: Some(guard),
            },
            waited,
        )
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.lock().unwrap().len()
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut keys = self.owner.keys.lock().expect("single-flight lock");
        drop(self.guard.take());
        // Only this map and this flight's lock clone hold it: nobody else waits.
        if keys
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            keys.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_run_one_at_a_time_and_the_map_empties() {
        let sf = Arc::new(SingleFlight::default());
        let running = Arc::new(AtomicUsize::new(0));
        let waited = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (sf, running, waited) = (sf.clone(), running.clone(), waited.clone());
            tasks.push(tokio::spawn(async move {
                let (_flight, w) = sf.enter("k").await;
                if w {
                    waited.fetch_add(1, Ordering::SeqCst);
                }
                assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "two at once");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                running.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(waited.load(Ordering::SeqCst) >= 1);
        assert_eq!(sf.len(), 0);
    }
}
