//! SQLite index expressions and partial-index `WHERE` clauses in PostgreSQL's words, for
//! the small language they share: column names, number and string literals, NULL,
//! comparisons, `IS [NOT] NULL`, `AND`/`OR`/`NOT`, arithmetic, `||`, parentheses, and calls
//! to the functions that mean the same in both (`lower`, `upper`, `abs`, `length`,
//! `coalesce`/`ifnull`, `nullif`, `trim`/`ltrim`/`rtrim`, `substr`). Anything else is
//! `None`: not translated, never guessed. A boolean column (0/1 in SQLite) compared with
//! 0 or 1 is compared with false or true. What comes out is still tried on the empty
//! staged table before it is trusted (types PostgreSQL refuses show up there).

use super::convert::Kind;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(String),
    Op(&'static str),
    Word(&'static str),
}

const WORDS: [&str; 9] = [
    "AND", "OR", "NOT", "IS", "NULL", "ASC", "DESC", "COLLATE", "WHERE",
];

const OPS: [&str; 16] = [
    "==", "!=", "<>", "<=", ">=", "||", "=", "<", ">", "+", "-", "*", "/", "(", ")", ",",
];

fn tokens(s: &str) -> Option<Vec<Token>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' || c == '[' {
            let close = if c == '[' { ']' } else { c };
            let mut text = String::new();
            i += 1;
            loop {
                let ch = *b.get(i)? as char;
                if ch == close {
                    if close != ']' && b.get(i + 1) == Some(&(close as u8)) {
                        text.push(close);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                let len = s[i..].chars().next()?.len_utf8();
                text.push_str(&s[i..i + len]);
                i += len;
            }
            out.push(if c == '\'' {
                Token::Str(text)
            } else {
                Token::Ident(text)
            });
        } else if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            let n = &s[start..i];
            n.parse::<f64>().ok()?;
            out.push(Token::Num(n.to_string()));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let w = &s[start..i];
            let upper = w.to_ascii_uppercase();
            match WORDS.iter().find(|k| **k == upper) {
                Some(k) => out.push(Token::Word(k)),
                None => out.push(Token::Ident(w.to_string())),
            }
        } else {
            let op = OPS.iter().find(|o| s[i..].starts_with(**o))?;
            i += op.len();
            out.push(Token::Op(op));
        }
    }
    Some(out)
}

/// SQLite's function → PostgreSQL's, where the meaning is the same.
fn function(name: &str, args: usize) -> Option<&'static str> {
    Some(match (name.to_ascii_lowercase().as_str(), args) {
        ("lower", 1) => "lower",
        ("upper", 1) => "upper",
        ("abs", 1) => "abs",
        ("length", 1) => "length",
        ("coalesce", n) if n >= 2 => "coalesce",
        ("ifnull", 2) => "coalesce",
        ("nullif", 2) => "nullif",
        ("trim", 1) => "btrim",
        ("trim", 2) => "btrim",
        ("ltrim", 1 | 2) => "ltrim",
        ("rtrim", 1 | 2) => "rtrim",
        ("substr", 2 | 3) => "substr",
        _ => return None,
    })
}

/// How many arguments the call whose `(` is at `open` has (top-level commas + 1).
fn arity(t: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut commas = 0;
    for (i, tok) in t.iter().enumerate().skip(open) {
        match tok {
            Token::Op("(") => depth += 1,
            Token::Op(")") => {
                depth -= 1;
                if depth == 0 {
                    return Some(if i == open + 1 { 0 } else { commas + 1 });
                }
            }
            Token::Op(",") if depth == 1 => commas += 1,
            _ => {}
        }
    }
    None
}

/// `expr` (a WHERE clause or one index key) in PostgreSQL, with `column` naming each
/// column's PostgreSQL name and type; None when something in it is not translated.
pub fn translate(expr: &str, column: &dyn Fn(&str) -> Option<(String, Kind)>) -> Option<String> {
    let t = tokens(expr)?;
    let mut out = String::new();
    let mut after_function = false;
    let is_bool = |tok: &Token| match tok {
        Token::Ident(n) => column(n).is_some_and(|(_, k)| k == Kind::Bool),
        _ => false,
    };
    let flag = |tok: Option<&Token>| match tok {
        Some(Token::Num(n)) if n == "0" => Some("false"),
        Some(Token::Num(n)) if n == "1" => Some("true"),
        _ => None,
    };
    let equality = |tok: Option<&Token>| matches!(tok, Some(Token::Op("=" | "==" | "!=" | "<>")));
    for (i, tok) in t.iter().enumerate() {
        let piece = match tok {
            Token::Ident(n) if t.get(i + 1) == Some(&Token::Op("(")) => {
                function(n, arity(&t, i + 1)?)?.to_string()
            }
            Token::Ident(n) => {
                let (pg, kind) = column(n)?;
                if kind == Kind::Bool {
                    // Only beside IS [NOT] NULL, or compared with 0/1 (made false/true).
                    let next_is = t.get(i + 1) == Some(&Token::Word("IS"));
                    let prev_is = i >= 1 && t.get(i - 1) == Some(&Token::Word("IS"));
                    let compared = (equality(t.get(i + 1)) && flag(t.get(i + 2)).is_some())
                        || (i >= 2 && equality(t.get(i - 1)) && flag(t.get(i - 2)).is_some());
                    if !(next_is || prev_is || compared) {
                        return None;
                    }
                }
                crate::migrate::ident::quote(&pg)
            }
            Token::Num(n) => {
                let beside_bool = (i >= 2 && equality(t.get(i - 1)) && is_bool(&t[i - 2]))
                    || (equality(t.get(i + 1)) && t.get(i + 2).is_some_and(is_bool));
                match flag(Some(tok)) {
                    Some(b) if beside_bool => b.to_string(),
                    _ if beside_bool => return None,
                    _ => n.clone(),
                }
            }
            Token::Str(s) => format!("'{}'", s.replace('\'', "''")),
            Token::Op("==") => "=".into(),
            Token::Op("!=") => "<>".into(),
            Token::Op(o) => o.to_string(),
            Token::Word("ASC" | "DESC" | "COLLATE" | "WHERE") => return None,
            Token::Word(w) => w.to_string(),
        };
        // Spaces between pieces, except inside parentheses' edges, before a comma and
        // between a function and its arguments.
        let glued = out.is_empty()
            || out.ends_with('(')
            || piece == ")"
            || piece == ","
            || (piece == "(" && after_function);
        if !glued {
            out.push(' ');
        }
        after_function = matches!(tok, Token::Ident(_)) && t.get(i + 1) == Some(&Token::Op("("));
        out.push_str(&piece);
    }
    Some(out)
}

/// An index's keys (each expression with whether it is DESC) and its WHERE clause.
pub type IndexParts = (Vec<(String, bool)>, Option<String>);

/// A `CREATE [UNIQUE] INDEX … ON table (keys) [WHERE expr]` statement's keys and WHERE
/// clause, as SQLite wrote them; None when it does not parse.
pub fn index_parts(sql: &str) -> Option<IndexParts> {
    let upper = sql.to_ascii_uppercase();
    let on = upper.find(" ON ")? + 4;
    let open = on + sql[on..].find('(')?;
    let mut depth = 0;
    let mut close = None;
    let mut starts = vec![open + 1];
    for (i, c) in sql[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => starts.push(open + i + 1),
            _ => {}
        }
    }
    let close = close?;
    let mut keys = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(close, |next| next - 1);
        let part = sql[*start..end].trim();
        let up = part.to_ascii_uppercase();
        let (expr, desc) = if up.ends_with(" DESC") {
            (&part[..part.len() - 5], true)
        } else if up.ends_with(" ASC") {
            (&part[..part.len() - 4], false)
        } else {
            (part, false)
        };
        keys.push((expr.trim().to_string(), desc));
    }
    let rest = sql[close + 1..].trim();
    let filter = if rest.is_empty() {
        None
    } else {
        let up = rest.to_ascii_uppercase();
        Some(
            up.strip_prefix("WHERE ")
                .map(|_| rest[6..].trim().to_string())?,
        )
    };
    Some((keys, filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(n: &str) -> Option<(String, Kind)> {
        match n {
            "name" | "Mixed Case" => Some((n.to_string(), Kind::Text)),
            "flag" => Some(("flag".into(), Kind::Bool)),
            "n" => Some(("n".into(), Kind::Int8)),
            _ => None,
        }
    }

    #[test]
    fn expressions_and_predicates_translate_or_refuse() {
        let cases: [(&str, Option<&str>); 12] = [
            ("lower(name)", Some("lower(\"name\")")),
            ("lower(\"Mixed Case\")", Some("lower(\"Mixed Case\")")),
            ("flag = 1", Some("\"flag\" = true")),
            ("0 == flag", Some("false = \"flag\"")),
            ("flag = 2", None),
            ("flag", None),
            (
                "n > -5 AND name IS NOT NULL",
                Some("\"n\" > - 5 AND \"name\" IS NOT NULL"),
            ),
            (
                "ifnull(name, 'x''y') != ''",
                Some("coalesce(\"name\", 'x''y') <> ''"),
            ),
            ("substr(name, 1, 3)", Some("substr(\"name\", 1, 3)")),
            ("random() > 0", None),
            ("missing = 1", None),
            ("name COLLATE NOCASE", None),
        ];
        for (sqlite, want) in cases {
            assert_eq!(translate(sqlite, &cols).as_deref(), want, "{sqlite}");
        }
    }

    #[test]
    fn index_statements_split_into_keys_and_filter() {
        let (keys, filter) = index_parts(
            "CREATE UNIQUE INDEX u ON \"t\" (lower(name), n DESC) WHERE flag = 1 AND (n > 0)",
        )
        .unwrap();
        assert_eq!(
            keys,
            [("lower(name)".to_string(), false), ("n".to_string(), true)]
        );
        assert_eq!(filter.as_deref(), Some("flag = 1 AND (n > 0)"));
        let (keys, filter) = index_parts("CREATE INDEX i ON t(a)").unwrap();
        assert_eq!(keys, [("a".to_string(), false)]);
        assert_eq!(filter, None);
    }
}
