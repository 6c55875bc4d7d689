//! postgres_role / postgres_database / wait_for steps against the throwaway cluster of
//! scripts/test: created once, unchanged the second time, and a password changed outside
//! provision is restored — only that step changes.

use crate::helpers::provision_command;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_databases_converge_and_heal() {
    let admin_url = env("PROVISION_TEST_PG");
    let socket = env("PROVISION_TEST_PG_SOCKET");
    let port = url::Url::parse(&admin_url).unwrap().port().unwrap();
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let (role, db) = (format!("pbrole_{suffix}"), format!("pbdb_{suffix}"));
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("pg.yml");
    std::fs::write(
        &site,
        format!(
            r#"name: pg
vars:
  db_password: first-Pass-0123456789
secrets: [db_password]
steps:
  - name: postgres answers
    wait_for: {{port: "127.0.0.1:{port}", timeout_s: 10}}
  - name: role
    postgres_role: {{name: {role}, password_var: db_password, socket_dir: "{socket}", port: {port}}}
  - name: database
    postgres_database: {{name: {db}, owner: {role}, socket_dir: "{socket}", port: {port}}}
"#
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let run = || {
        let out = provision_command()
            .args([
                "--json",
                "play",
                site.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let changed: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["status"] == "changed")
            .map(|v| v["step"].as_str().unwrap().to_string())
            .collect();
        (
            out.status.code(),
            changed,
            text + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, changed, text) = run();
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(changed, vec!["role", "database"], "{text}");
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_username(&role).unwrap();
    url.set_password(Some("first-Pass-0123456789")).unwrap();
    url.set_path(&format!("/{db}"));
    let pool = sqlx::PgPool::connect(url.as_str())
        .await
        .expect("the role logs in to its database");
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(owner, role);
    pool.close().await;

    let (code, changed, text) = run();
    assert_eq!((code, changed.len()), (Some(0), 0), "{text}");

    // The password changed outside provision: only the role step changes, and it heals.
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("ALTER ROLE {role} PASSWORD 'changed-outside'"))
        .execute(&admin)
        .await
        .unwrap();
    let (code, changed, text) = run();
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(changed, vec!["role"], "{text}");
    sqlx::PgPool::connect(url.as_str())
        .await
        .expect("the configured password works again")
        .close()
        .await;
    for entry in std::fs::read_dir(state.join("logs")).unwrap() {
        let log = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!log.contains("first-Pass"), "password in the log: {log}");
    }
    sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&admin)
        .await
        .unwrap();
}
