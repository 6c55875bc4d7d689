//! Per-distribution data (`playbooks/distros.yaml`, embedded): package and service names,
//! configuration paths, and how PostgreSQL is set up — resolved for a host's facts, with
//! a version override winning over its family's values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::facts::{Facts, Family};

const DISTROS: &str = include_str!("../../playbooks/distros.yaml");

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresData {
    pub version: String,
    pub needs_initdb: bool,
    pub conf_dir: String,
    pub data_dir: String,
    pub socket_dir: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DistroData {
    pub packages: BTreeMap<String, Vec<String>>,
    pub services: BTreeMap<String, String>,
    pub postgresql: PostgresData,
    pub redis_conf: String,
    pub nginx_sites: String,
    pub supervisor_conf_dir: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionOverride {
    distribution: String,
    version: String,
    #[serde(default)]
    postgresql_version: Option<String>,
    #[serde(default)]
    packages_postgresql: Option<Vec<String>>,
    #[serde(default)]
    packages_redis: Option<Vec<String>>,
    #[serde(default)]
    service_redis: Option<String>,
    #[serde(default)]
    redis_conf: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    families: BTreeMap<String, DistroData>,
    versions: Vec<VersionOverride>,
}

fn family_key(f: Family) -> &'static str {
    match f {
        Family::Debian => "debian",
        Family::RedHat => "redhat",
        Family::Alpine => "alpine",
        Family::Arch => "arch",
        Family::Suse => "suse",
        Family::MacOs => "macos",
    }
}

/// The data for a host. Placeholders `{version}` and `{brew}` are filled in.
pub fn for_host(facts: &Facts) -> DistroData {
    let file: File = serde_yaml_ng::from_str(DISTROS)
        .expect("playbooks/distros.yaml is valid (a unit test checks it)");
    let mut d = file.families[family_key(facts.family)].clone();
    // Versions match exactly or by major ("9.4" matches "9").
    let major = facts.version.split('.').next().unwrap_or("");
    if let Some(o) = file.versions.iter().find(|o| {
        o.distribution == facts.distribution && (o.version == facts.version || o.version == major)
    }) {
        if let Some(v) = &o.postgresql_version {
            d.postgresql.version = v.clone();
        }
        if let Some(p) = &o.packages_postgresql {
            d.packages.insert("postgresql".into(), p.clone());
        }
        if let Some(p) = &o.packages_redis {
            d.packages.insert("redis".into(), p.clone());
        }
        if let Some(s) = &o.service_redis {
            d.services.insert("redis".into(), s.clone());
        }
        if let Some(c) = &o.redis_conf {
            d.redis_conf = c.clone();
        }
    }
    let brew = facts
        .homebrew_prefix
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let fill = |s: &str| {
        s.replace("{version}", &d.postgresql.version)
            .replace("{brew}", &brew)
    };
    d.postgresql.conf_dir = fill(&d.postgresql.conf_dir);
    d.postgresql.data_dir = fill(&d.postgresql.data_dir);
    d.redis_conf = fill(&d.redis_conf);
    d.nginx_sites = fill(&d.nginx_sites);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::facts::{InitSystem, PackageManager};

    fn facts(distribution: &str, version: &str, family: Family) -> Facts {
        Facts {
            distribution: distribution.into(),
            version: version.into(),
            pretty_name: String::new(),
            family,
            package_manager: PackageManager::Apt,
            init: InitSystem::None,
            cpus: 2,
            memory_bytes: 1 << 30,
            listening: Vec::new(),
            homebrew_prefix: (family == Family::MacOs).then(|| "/opt/homebrew".into()),
        }
    }

    #[test]
    fn every_family_resolves_and_versions_override() {
        for fam in [
            Family::Debian,
            Family::RedHat,
            Family::Alpine,
            Family::Arch,
            Family::Suse,
            Family::MacOs,
        ] {
            let d = for_host(&facts("x", "1", fam));
            for key in ["postgresql", "redis", "nginx"] {
                assert!(!d.packages[key].is_empty(), "{fam:?} {key}");
                assert!(!d.services[key].is_empty(), "{fam:?} {key}");
            }
            assert!(!d.postgresql.conf_dir.contains('{'), "{fam:?}");
        }
        let bookworm = for_host(&facts("debian", "12", Family::Debian));
        assert_eq!(bookworm.postgresql.conf_dir, "/etc/postgresql/15/main");
        assert_eq!(bookworm.services["redis"], "redis-server");
        let bullseye = for_host(&facts("debian", "11", Family::Debian));
        assert_eq!(bullseye.postgresql.conf_dir, "/etc/postgresql/13/main");
        let noble = for_host(&facts("ubuntu", "24.04", Family::Debian));
        assert_eq!(noble.postgresql.version, "16");
        let amzn = for_host(&facts("amzn", "2023", Family::RedHat));
        assert_eq!(amzn.packages["redis"], vec!["redis6"]);
        assert!(amzn.postgresql.needs_initdb);
        let mac = for_host(&facts("macos", "14.5", Family::MacOs));
        assert_eq!(mac.nginx_sites, "/opt/homebrew/etc/nginx/servers");
    }
}
