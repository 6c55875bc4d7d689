//! How one request's reads are routed between the primary and streaming replicas: a
//! task-local set around each request (by the router's `observe` layer) that says whether
//! its reads must use the primary — a writer's request (bearer token) or one asking for a
//! fresh answer (`Cache-Control: no-cache`) — and remembers how fresh its replica reads
//! were, for the local cache to decide whether their answer may be kept.

tokio::task_local! {
    /// How the current request's reads are routed.
    static ROUTE: ReadRoute;
}

/// A request's reads: whether they must use the primary, and the oldest as-of stamp of
/// the replica reads it made (0: none).
pub struct ReadRoute {
    primary_only: bool,
    replica_as_of: std::cell::Cell<u64>,
}

/// Runs the request future `f` with its reads routed: on the primary only when
/// `primary_only` (a writer's request, or one asking for a fresh answer).
pub async fn routed<F: std::future::Future>(primary_only: bool, f: F) -> F::Output {
    let route = ReadRoute {
        primary_only,
        replica_as_of: std::cell::Cell::new(0),
    };
    ROUTE.scope(route, f).await
}

/// Whether reads here must use the primary (true outside a request).
pub fn primary_only() -> bool {
    ROUTE.try_with(|r| r.primary_only).unwrap_or(true)
}

/// The oldest as-of stamp of the current request's replica reads (None: all from the
/// primary).
pub fn replica_as_of() -> Option<u64> {
    ROUTE
        .try_with(|r| r.replica_as_of.get())
        .ok()
        .filter(|t| *t > 0)
}

/// Notes a read answered by a replica fresh as of `as_of`.
pub fn note_replica_read(as_of: u64) {
    let _ = ROUTE.try_with(|r| {
        let old = r.replica_as_of.get();
        r.replica_as_of
            .set(if old == 0 { as_of } else { old.min(as_of) });
    });
}
