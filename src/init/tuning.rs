//! Sizing from the host's facts: PostgreSQL's memory settings (shared_buffers ≈ 25 % of
//! RAM, effective_cache_size ≈ 75 %, work_mem from what is left per connection),
//! max_connections from the pools of every instance plus headroom, worker counts from the
//! CPUs, Redis's maxmemory, and each instance's memory limit.

use serde::Serialize;

/// Connections kept free beyond the instances' pools: migrate, verify, psql, backups.
pub const HEADROOM: u32 = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tuning {
    pub max_connections: u32,
    pub shared_buffers_mb: u64,
    pub effective_cache_size_mb: u64,
    pub work_mem_mb: u64,
    pub maintenance_work_mem_mb: u64,
    pub max_worker_processes: usize,
    pub max_parallel_workers_per_gather: usize,
    pub redis_maxmemory_mb: u64,
    /// systemd `MemoryMax=` per instance.
    pub instance_memory_max_mb: u64,
    pub pool_size: u32,
}

/// Several hosts: max_connections is sized for the instances rounded up to a multiple of
/// this, so the inventory can grow or shrink within it without restarting PostgreSQL.
pub const INSTANCE_STEP: u32 = 8;

/// The sizing for a host with `cpus` and `memory_mb`, running `instances` servers.
/// PostgreSQL's connections for `instances` instances on hosts of any size: the largest
/// pool each, plus the headroom.
pub fn max_connections_for(instances: u32) -> u32 {
    crate::settings::MAX_POOL_SIZE * instances.max(1) + HEADROOM
}

pub fn tune(cpus: usize, memory_mb: u64, instances: u32) -> Tuning {
    let cpus = cpus.max(1);
    let memory_mb = memory_mb.max(512);
    let pool_size = crate::settings::default_pool_size(cpus);
    let max_connections = pool_size * instances.max(1) + HEADROOM;
    let shared_buffers_mb = (memory_mb / 4).clamp(128, 32 * 1024);
    let effective_cache_size_mb = memory_mb * 3 / 4;
    // What is left after shared_buffers, spread over the connections, with room for a few
    // sorts per query: at least 4 MB, at most 256 MB.
    let work_mem_mb =
        ((memory_mb - shared_buffers_mb) / (u64::from(max_connections) * 3)).clamp(4, 256);
    Tuning {
        max_connections,
        shared_buffers_mb,
        effective_cache_size_mb,
        work_mem_mb,
        maintenance_work_mem_mb: (memory_mb / 16).clamp(64, 2048),
        max_worker_processes: cpus.max(8),
        max_parallel_workers_per_gather: (cpus / 2).clamp(1, 4),
        redis_maxmemory_mb: (memory_mb / 16).clamp(64, 4096),
        instance_memory_max_mb: (memory_mb / 8).clamp(256, 4096),
        pool_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_hosts() {
        let small = tune(1, 2048, 2);
        assert_eq!(small.shared_buffers_mb, 512);
        assert_eq!(small.max_connections, 4 * 2 + HEADROOM);
        assert_eq!(small.work_mem_mb, 1536 / (28 * 3));
        assert_eq!(small.max_parallel_workers_per_gather, 1);
        let large = tune(8, 64 * 1024, 4);
        assert_eq!(large.shared_buffers_mb, 16 * 1024);
        assert_eq!(large.effective_cache_size_mb, 48 * 1024);
        assert_eq!(large.max_connections, 32 * 4 + HEADROOM);
        assert_eq!(large.max_parallel_workers_per_gather, 4);
        assert_eq!(large.redis_maxmemory_mb, 4096);
    }
}
