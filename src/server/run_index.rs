//! `RunIndex`: every run's id, sorted, in the instance's memory, so an unfiltered runs
//! page (the dashboard's front page and its "older" links) finds its ids without
//! PostgreSQL; the runs themselves come from `LocalCache`'s run JSON.
//!
//! It is loaded in the background (one index-only scan) the first time an unfiltered page
//! is read, and loaded again ahead of its `server.local_cache_max_age_s` (runs removed
//! outside the server, by psql or a migration, are not announced) while the old one still
//! answers. New runs arrive as `run_created` events — the same stream, and the same
//! heartbeat bound, as the rest of the local cache — and events that arrive while a load
//! is in flight are merged into it, so a run committed after the load's snapshot is not
//! lost. A reconnected listener (events possibly missed) empties it. Above `capacity`
//! runs it stays empty and pages read their ids from PostgreSQL (8 bytes per run: 2M runs
//! are 16 MB per instance).

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    /// The ids and when their load read them.
    ready: Option<(Vec<i64>, Instant)>,
    /// The load in flight (its generation) and the ids created since it began.
    loading: Option<(u64, Vec<i64>)>,
    /// When a load found more runs than the capacity (not tried again for a max age).
    too_large: Option<Instant>,
    generation: u64,
}

pub struct RunIndex {
    state: Mutex<State>,
    capacity: usize,
    max_age: Duration,
}

/// The right to finish one load (see [`RunIndex::begin_load`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load(u64);

impl RunIndex {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        RunIndex {
            state: Mutex::new(State::default()),
            capacity,
            max_age,
        }
    }

    /// The ids of an unfiltered page: up to `n` of the largest ids below `before` (all
    /// when None), newest first; None when the index is not loaded or too old.
    pub fn page(&self, before: Option<i64>, n: usize) -> Option<Vec<i64>> {
        let state = self.state.lock().expect("run index lock");
        let (ids, at) = state.ready.as_ref()?;
        if at.elapsed() >= self.max_age {
            return None;
        }
        let end = match before {
            Some(b) => ids.partition_point(|&id| id < b),
            None => ids.len(),
        };
        Some(
            ids[end.saturating_sub(n)..end]
                .iter()
                .rev()
                .copied()
                .collect(),
        )
    }

    /// Whether a load should start now — nothing loaded, or what is loaded has lived three
    /// quarters of its max age, and no load in flight: the load's ticket if so.
    pub fn begin_load(&self) -> Option<Load> {
        let mut state = self.state.lock().expect("run index lock");
        let refresh = self.max_age * 3 / 4;
        let due = state.loading.is_none()
            && match (&state.ready, state.too_large) {
                (_, Some(at)) => at.elapsed() >= self.max_age,
                (Some((_, at)), None) => at.elapsed() >= refresh,
                (None, None) => true,
            };
        if !due {
            return None;
        }
        state.generation += 1;
        state.loading = Some((state.generation, Vec::new()));
        Some(Load(state.generation))
    }

    /// The capacity plus one: how many ids a load reads at most (one more than fits tells
    /// that the table is too large).
    pub fn read_limit(&self) -> i64 {
        self.capacity as i64 + 1
    }

    /// A load's ids (ascending, as read) arrived: kept with the runs created meanwhile,
    /// unless the index was emptied since the load began.
    pub fn finish_load(&self, load: Load, mut ids: Vec<i64>) {
        let mut state = self.state.lock().expect("run index lock");
        let Some((_, pending)) = state.loading.take_if(|(gen, _)| *gen == load.0) else {
            return;
        };
        if ids.len() > self.capacity {
            state.ready = None;
            state.too_large = Some(Instant::now());
            return;
        }
        for id in pending {
            insert(&mut ids, id);
        }
        state.ready = Some((ids, Instant::now()));
        state.too_large = None;
    }

    /// A load failed: the next unfiltered page starts another.
    pub fn fail_load(&self, load: Load) {
        let mut state = self.state.lock().expect("run index lock");
        state.loading.take_if(|(gen, _)| *gen == load.0);
    }

    /// Run `id` was created (its event, or the creating instance before it answers).
    pub fn created(&self, id: i64) {
        let mut state = self.state.lock().expect("run index lock");
        if let Some((_, pending)) = &mut state.loading {
            pending.push(id);
        }
        let full = match &mut state.ready {
            Some((ids, _)) if ids.len() < self.capacity => {
                insert(ids, id);
                false
            }
            Some(_) => true,
            None => false,
        };
        if full {
            state.ready = None;
            state.too_large = Some(Instant::now());
        }
    }

    /// Events may have been missed: nothing is known until the next load.
    pub fn reset(&self) {
        let mut state = self.state.lock().expect("run index lock");
        state.ready = None;
        state.loading = None;
        state.too_large = None;
    }
}

/// Inserts `id` into the sorted `ids` (a new run's id is almost always the largest).
fn insert(ids: &mut Vec<i64>, id: i64) {
    match ids.last() {
        Some(&last) if last < id => ids.push(id),
        None => ids.push(id),
        _ => {
            if let Err(at) = ids.binary_search(&id) {
                ids.insert(at, id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(ids: Vec<i64>) -> RunIndex {
        let index = RunIndex::new(10, Duration::from_secs(60));
        let load = index.begin_load().unwrap();
        index.finish_load(load, ids);
        index
    }

    #[test]
    fn a_page_is_the_largest_ids_below_the_cursor_newest_first() {
        let index = ready(vec![1, 2, 4, 7, 9]);
        assert_eq!(index.page(None, 3), Some(vec![9, 7, 4]));
        assert_eq!(index.page(Some(7), 3), Some(vec![4, 2, 1]));
        assert_eq!(index.page(Some(8), 2), Some(vec![7, 4]));
        assert_eq!(index.page(Some(2), 3), Some(vec![1]));
        assert_eq!(index.page(Some(1), 3), Some(vec![]));
        assert_eq!(index.page(Some(100), 9), Some(vec![9, 7, 4, 2, 1]));
    }

    #[test]
    fn runs_created_during_a_load_are_kept_and_in_order() {
        let index = RunIndex::new(10, Duration::from_secs(60));
        assert_eq!(index.page(None, 5), None, "not loaded");
        let load = index.begin_load().unwrap();
        assert_eq!(index.begin_load(), None, "one load at a time");
        index.created(12);
        index.created(11); // committed out of id order
        index.finish_load(load, vec![3, 5]);
        assert_eq!(index.page(None, 9), Some(vec![12, 11, 5, 3]));
        index.created(4);
        index.created(20);
        index.created(20);
        assert_eq!(index.page(None, 9), Some(vec![20, 12, 11, 5, 4, 3]));
    }

    #[test]
    fn an_aging_index_answers_while_the_next_load_runs() {
        let index = RunIndex::new(10, Duration::from_millis(80));
        let load = index.begin_load().unwrap();
        index.finish_load(load, vec![1, 2]);
        assert_eq!(index.begin_load(), None, "young");
        std::thread::sleep(Duration::from_millis(65));
        let next = index
            .begin_load()
            .expect("due at three quarters of its age");
        index.created(3);
        assert_eq!(index.page(None, 9), Some(vec![3, 2, 1]), "still answers");
        index.finish_load(next, vec![1, 2]);
        assert_eq!(
            index.page(None, 9),
            Some(vec![3, 2, 1]),
            "3 was created during the load"
        );
        std::thread::sleep(Duration::from_millis(65));
        assert!(index.page(None, 9).is_some(), "the new load is young");
    }

    #[test]
    fn a_load_begun_before_a_reset_is_not_kept() {
        let index = RunIndex::new(10, Duration::from_secs(60));
        let old = index.begin_load().unwrap();
        index.reset();
        let new = index.begin_load().unwrap();
        index.finish_load(old, vec![1]);
        assert_eq!(
            index.page(None, 9),
            None,
            "the old load's snapshot is not kept"
        );
        index.fail_load(old);
        index.finish_load(new, vec![1, 2]);
        assert_eq!(index.page(None, 9), Some(vec![2, 1]));
        index.reset();
        assert_eq!(index.page(None, 9), None);
    }

    #[test]
    fn too_many_runs_leave_it_empty_until_it_is_old() {
        let index = RunIndex::new(3, Duration::from_millis(30));
        let load = index.begin_load().unwrap();
        index.finish_load(load, vec![1, 2, 3, 4]);
        assert_eq!(index.page(None, 9), None);
        assert_eq!(index.begin_load(), None, "not tried again at once");
        std::thread::sleep(Duration::from_millis(40));
        let load = index.begin_load().expect("due again");
        index.finish_load(load, vec![1, 2]);
        index.created(3);
        assert_eq!(index.page(None, 9), Some(vec![3, 2, 1]));
        index.created(4);
        assert_eq!(index.page(None, 9), None, "grew past its capacity");
        std::thread::sleep(Duration::from_millis(40));
        assert!(index.begin_load().is_some(), "retried once old");
    }

    #[test]
    fn an_old_index_answers_nothing_and_is_loaded_again() {
        let index = RunIndex::new(10, Duration::from_millis(30));
        let load = index.begin_load().unwrap();
        index.finish_load(load, vec![1]);
        assert!(index.page(None, 1).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(index.page(None, 1), None);
        assert!(index.begin_load().is_some());
    }
}
