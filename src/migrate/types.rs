//! Type inference for a SQLite column: what its values were seen to be ([`Seen`]) and
//! the PostgreSQL type that holds every one of them exactly ([`decide`]).

use rusqlite::types::ValueRef;

use super::convert::{parse_timestamp, text_bool, Kind};
use super::json::check_json;

#[derive(Default, Debug)]
pub struct Seen {
    pub ints: u64,
    pub reals: u64,
    pub texts: u64,
    pub blobs: u64,
    pub nulls: u64,
    pub all_01: bool,
    pub ints_exact_in_double: bool,
    /// Every integer has 13 digits: epoch milliseconds (from 2001-09 to 2286-11), not
    /// seconds, in a timestamp column.
    pub ints_epoch_ms: bool,
    pub texts_utf8: bool,
    pub texts_timestamps: bool,
    pub texts_json: bool,
    /// Every text is a boolean word (`true`/`false`/`t`/`f`/`yes`/`no`/`1`/`0`, any case).
    pub texts_bool: bool,
    pub reals_integral_epoch_ok: bool,
}

impl Seen {
    /// Nothing seen yet: every "all values are …" flag holds until a value breaks it.
    pub fn new() -> Self {
        Seen {
            all_01: true,
            ints_exact_in_double: true,
            ints_epoch_ms: true,
            texts_utf8: true,
            texts_timestamps: true,
            texts_json: true,
            texts_bool: true,
            reals_integral_epoch_ok: true,
            ..Default::default()
        }
    }

    /// Takes one value of the column into account.
    pub fn see(&mut self, value: ValueRef<'_>) {
        match value {
            ValueRef::Null => self.nulls += 1,
            ValueRef::Integer(v) => {
                self.ints += 1;
                self.all_01 &= v == 0 || v == 1;
                self.ints_exact_in_double &= v.unsigned_abs() <= 1 << 53;
                self.ints_epoch_ms &= (1_000_000_000_000..10_000_000_000_000).contains(&v);
            }
            ValueRef::Real(f) => {
                self.reals += 1;
                let micros = (f * 1e6).round();
                self.reals_integral_epoch_ok &= micros.is_finite() && micros / 1e6 == f;
            }
            ValueRef::Text(b) => {
                self.texts += 1;
                match std::str::from_utf8(b) {
                    Ok(t) if !t.contains('\0') => {
                        if self.texts_timestamps && parse_timestamp(t).is_err() {
                            self.texts_timestamps = false;
                        }
                        if self.texts_json && check_json(t).is_err() {
                            self.texts_json = false;
                        }
                        self.texts_bool &= text_bool(t).is_some();
                    }
                    _ => self.texts_utf8 = false,
                }
            }
            ValueRef::Blob(_) => self.blobs += 1,
        }
    }
}

fn affinity(declared: &str) -> String {
    declared.to_ascii_uppercase()
}

/// The type that holds every value of a column exactly, and whether numbers are widened.
pub fn decide(declared: &str, s: &Seen) -> (Kind, Option<String>) {
    let d = affinity(declared);
    let timeish = d.contains("DATE") || d.contains("TIME");
    let boolish = d.contains("BOOL");
    let jsonish = d.contains("JSON");
    let numbers = s.ints + s.reals;
    if s.blobs > 0 || (s.texts > 0 && !s.texts_utf8) {
        let why = if numbers > 0 {
            Some("bytea: it holds BLOBs or non-UTF-8 text beside numbers (numbers kept as their text)".into())
        } else if s.texts > 0 {
            Some("bytea: it holds BLOBs or text that is not valid UTF-8".into())
        } else {
            None
        };
        return (Kind::Bytea, why);
    }
    if s.texts > 0 {
        // A BOOLEAN column of words (and 0/1): boolean, when every value maps.
        if boolish && s.texts_bool && s.reals == 0 && s.all_01 {
            return (Kind::Bool, None);
        }
        if timeish && s.texts_timestamps && (s.reals == 0 || s.reals_integral_epoch_ok) {
            return (Kind::Timestamptz, None);
        }
        if numbers == 0 && jsonish && s.texts_json {
            return (Kind::Jsonb, None);
        }
        let why = (numbers > 0).then(|| {
            "text: it holds numbers beside text (numbers kept as their exact text)".to_string()
        });
        return (Kind::Text, why);
    }
    if numbers == 0 {
        // Only NULLs: the declared type decides.
        let k = if d.contains("INT") {
            Kind::Int8
        } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
            Kind::Float8
        } else if boolish {
            Kind::Bool
        } else if timeish {
            Kind::Timestamptz
        } else if jsonish {
            Kind::Jsonb
        } else if d.contains("BLOB") {
            Kind::Bytea
        } else if d.contains("NUM") || d.contains("DEC") {
            Kind::Numeric
        } else {
            Kind::Text
        };
        return (k, None);
    }
    if timeish && (s.reals == 0 || s.reals_integral_epoch_ok) {
        return (Kind::Timestamptz, None);
    }
    if s.reals == 0 {
        if boolish && s.all_01 {
            return (Kind::Bool, None);
        }
        return (Kind::Int8, None);
    }
    if s.ints == 0 || s.ints_exact_in_double {
        let why = (s.ints > 0 && d.contains("INT"))
            .then(|| "double precision: declared INTEGER but holds REAL values".to_string());
        return (Kind::Float8, why);
    }
    (
        Kind::Numeric,
        Some("numeric: integers beyond 2^53 beside REAL values (exact decimals)".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_hold_every_value() {
        type Case = (&'static str, fn(&mut Seen), Kind);
        let cases: [Case; 12] = [
            ("INTEGER", |x| x.ints = 3, Kind::Int8),
            ("BOOLEAN", |x| x.ints = 3, Kind::Bool),
            ("BOOLEAN", |x| (x.ints, x.all_01) = (3, false), Kind::Int8),
            ("REAL", |x| (x.ints, x.reals) = (1, 2), Kind::Float8),
            (
                "",
                |x| (x.ints, x.reals, x.ints_exact_in_double) = (1, 2, false),
                Kind::Numeric,
            ),
            (
                "DATETIME",
                |x| (x.texts, x.ints) = (2, 1),
                Kind::Timestamptz,
            ),
            ("TEXT", |x| (x.texts, x.ints) = (2, 1), Kind::Text),
            ("JSON", |x| x.texts = 2, Kind::Jsonb),
            (
                "TEXT",
                |x| (x.texts, x.texts_utf8) = (2, false),
                Kind::Bytea,
            ),
            ("DOUBLE", |_| {}, Kind::Float8),
            ("BOOLEAN", |x| (x.texts, x.ints) = (2, 1), Kind::Bool),
            (
                "BOOLEAN",
                |x| (x.texts, x.texts_bool) = (2, false),
                Kind::Text,
            ),
        ];
        for (declared, set, want) in cases {
            let mut seen = Seen::new();
            set(&mut seen);
            assert_eq!(decide(declared, &seen).0, want, "{declared} {seen:?}");
        }
    }
}
