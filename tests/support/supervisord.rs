//! A private supervisord: its configuration in a directory of the test's own (socket, logs
//! and program files there), so tests never touch the machine's supervisord.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Writes `dir/supervisord.conf` (programs in `dir/conf.d/*.conf`) and returns its path.
pub fn private_config(dir: &Path) -> PathBuf {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    let conf = dir.join("supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[unix_http_server]\nfile={d}/supervisor.sock\n\
             [supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nchildlogdir={d}\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\
             [include]\nfiles = {d}/conf.d/*.conf\n"
        ),
    )
    .unwrap();
    conf
}
