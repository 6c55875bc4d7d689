//! The keyset-paged list queries of runs and results, built from their filters: the routes
//! run them, and the plan test EXPLAINs exactly these (so an index the pages rely on cannot
//! drift from the SQL they send).

use sqlx::{Postgres, QueryBuilder};

use super::model::{RESULT_COLUMNS, RUN_COLUMNS, RUN_FROM};

/// `GET /api/runs`: newest first, below `before`; `limit + 1` rows are read to know
/// whether another page follows.
#[derive(Debug, Clone, Default)]
pub struct RunsPage {
    pub suite: Option<i64>,
    pub status: Option<String>,
    pub env: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

impl RunsPage {
    /// Whether the page has no filter (only a cursor): its ids are the run index's.
    pub fn is_unfiltered(&self) -> bool {
        self.suite.is_none() && self.status.is_none() && self.env.is_none()
    }

    /// Appends the page's SELECT to `qb`, its values bound by move (a route starts from an empty builder, the plan
    /// test from `EXPLAIN `).
    pub fn push_select(self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push(format!("SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE true"));
        self.push_filters(qb);
    }

    /// The same page's ids only (an index-only scan): the runs come from the instance's
    /// memory when it holds them.
    pub fn push_ids(self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push("SELECT r.id FROM validation_runs r WHERE true");
        self.push_filters(qb);
    }

    fn push_filters(self, qb: &mut QueryBuilder<'_, Postgres>) {
        if let Some(suite) = self.suite {
            qb.push(" AND r.suite_id = ").push_bind(suite);
        }
        if let Some(status) = self.status {
            qb.push(" AND r.status = ").push_bind(status);
        }
        if let Some(env) = self.env {
            qb.push(" AND r.environment = ").push_bind(env);
        }
        if let Some(before) = self.before {
            qb.push(" AND r.id < ").push_bind(before);
        }
        qb.push(" ORDER BY r.id DESC LIMIT ")
            .push_bind(self.limit + 1);
    }
}

/// `GET /api/runs/{id}/results`: in id order, above `after`; `limit + 1` rows are read.
#[derive(Debug, Clone)]
pub struct ResultsPage {
    pub run_id: i64,
    pub status: Option<String>,
    pub after: Option<i64>,
    pub limit: i64,
}

impl ResultsPage {
    /// Appends the page's SELECT to `qb`.
    pub fn push_select(self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push(format!(
            "SELECT {RESULT_COLUMNS} FROM validation_results WHERE run_id = "
        ));
        qb.push_bind(self.run_id);
        if let Some(status) = self.status {
            qb.push(" AND status = ").push_bind(status);
        }
        if let Some(after) = self.after {
            qb.push(" AND id > ").push_bind(after);
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(self.limit + 1);
    }
}
