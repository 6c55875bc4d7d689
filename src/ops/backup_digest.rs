//! A table's content as one number: its rows and the sum of each row's hash, counted in
//! one scan. The sum does not depend on the order the rows are read in, so the backup (in
//! pg_dump's snapshot) and the restore drill (on the restored copy) compare without a
//! sort, and a changed, lost or added row changes it.

use std::collections::BTreeMap;

use crate::host::psql::ident;

/// Rows and content digest of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSum {
    pub rows: i64,
    /// The sum of the first 64 bits of md5(row as text), as a decimal.
    pub digest: String,
}

/// Every user table (`schema.table`) in `conn`'s current snapshot, counted and digested.
/// The session's output settings are fixed first, so a row's text is the same on any
/// connection (dates in ISO, times in UTC, floats exact).
pub async fn digest_tables(
    conn: &mut sqlx::PgConnection,
) -> Result<BTreeMap<String, TableSum>, String> {
    for set in [
        "SET DateStyle = 'ISO, YMD'",
        "SET IntervalStyle = 'postgres'",
        "SET TimeZone = 'UTC'",
        "SET extra_float_digits = 1",
        "SET bytea_output = 'hex'",
    ] {
        sqlx::query(set)
            .execute(&mut *conn)
            .await
            .map_err(|e| format!("{set}: {e}"))?;
    }
    let mut out = BTreeMap::new();
    for (s, t) in user_tables(conn).await? {
        let (rows, digest): (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(sum(('x' || left(md5(r::text), 16))::bit(64)::bigint), 0)::text \
             FROM {}.{} AS r",
            ident(&s),
            ident(&t)
        ))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| format!("digesting {s}.{t}: {e}"))?;
        out.insert(format!("{s}.{t}"), TableSum { rows, digest });
    }
    Ok(out)
}

/// Every user table (schema, name), in order.
pub(super) async fn user_tables(
    conn: &mut sqlx::PgConnection,
) -> Result<Vec<(String, String)>, String> {
    sqlx::query_as(
        "SELECT schemaname::text, tablename::text FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| e.to_string())
}

/// The tables whose rows or digest differ between `want` (the manifest) and `got`, each
/// said in one line.
pub fn differences(
    want_rows: &BTreeMap<String, i64>,
    want_digests: &BTreeMap<String, String>,
    got: &BTreeMap<String, TableSum>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (t, rows) in want_rows {
        match got.get(t) {
            None => out.push(format!("{t}: in the backup's manifest, not in the restored copy")),
            Some(g) if g.rows != *rows => out.push(format!(
                "{t}: {rows} rows in the manifest, {} restored",
                g.rows
            )),
            Some(g) => match want_digests.get(t) {
                Some(d) if *d != g.digest => out.push(format!(
                    "{t}: the same {rows} rows, but their content digest is {} where the manifest says {d}",
                    g.digest
                )),
                _ => {}
            },
        }
    }
    for t in got.keys().filter(|t| !want_rows.contains_key(*t)) {
        out.push(format!("{t}: restored, but not in the backup's manifest"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_difference_is_named() {
        let rows: BTreeMap<String, i64> = [
            ("public.a".into(), 2),
            ("public.b".into(), 3),
            ("public.c".into(), 1),
        ]
        .into();
        let digests: BTreeMap<String, String> = [
            ("public.a".into(), "10".into()),
            ("public.b".into(), "20".into()),
        ]
        .into();
        let sum = |rows, d: &str| TableSum {
            rows,
            digest: d.into(),
        };
        let same: BTreeMap<String, TableSum> = [
            ("public.a".into(), sum(2, "10")),
            ("public.b".into(), sum(3, "20")),
            ("public.c".into(), sum(1, "99")),
        ]
        .into();
        assert!(
            differences(&rows, &digests, &same).is_empty(),
            "c has no digest to compare"
        );
        let got: BTreeMap<String, TableSum> = [
            ("public.a".into(), sum(2, "11")),
            ("public.b".into(), sum(4, "20")),
            ("public.d".into(), sum(0, "0")),
        ]
        .into();
        let d = differences(&rows, &digests, &got);
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(d[0].starts_with("public.a: the same 2 rows, but their content digest is 11"));
        assert!(d[1].contains("public.b: 3 rows in the manifest, 4 restored"));
        assert!(d[2].contains("public.c: in the backup's manifest, not in the restored copy"));
        assert!(d[3].contains("public.d: restored, but not in"));
    }
}
