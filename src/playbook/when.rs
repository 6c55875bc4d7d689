//! `when:` conditions over facts and vars: `name == 'value'`, `name != 'value'`,
//! `name in ['a', 'b']`, `name` (non-empty and not "false"/"0"), `not name`, joined by
//! `and`. Deliberately small; an unknown name or a malformed condition is an error that
//! quotes it.

use std::collections::BTreeMap;

/// Evaluates `cond` against `values` (facts and vars, flattened to strings).
pub fn eval(cond: &str, values: &BTreeMap<String, String>) -> Result<bool, String> {
    let mut result = true;
    for clause in cond.split(" and ") {
        result &= clause_true(clause.trim(), values).map_err(|e| format!("when {cond:?}: {e}"))?;
    }
    Ok(result)
}

fn lookup<'a>(name: &str, values: &'a BTreeMap<String, String>) -> Result<&'a str, String> {
    values.get(name).map(String::as_str).ok_or_else(|| {
        format!(
            "unknown name {name:?} (known: {})",
            values.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

fn literal(s: &str) -> Result<String, String> {
    let s = s.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return Ok(inner.to_string());
        }
    }
    Err(format!("{s:?} is not a quoted string"))
}

fn clause_true(c: &str, values: &BTreeMap<String, String>) -> Result<bool, String> {
    if let Some((l, r)) = c.split_once("!=") {
        return Ok(lookup(l.trim(), values)? != literal(r)?);
    }
    if let Some((l, r)) = c.split_once("==") {
        return Ok(lookup(l.trim(), values)? == literal(r)?);
    }
    if let Some((l, r)) = c.split_once(" in ") {
        let list = r
            .trim()
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .ok_or("expected [ ... ] after in")?;
        let v = lookup(l.trim(), values)?;
        for item in list.split(',').filter(|i| !i.trim().is_empty()) {
            if literal(item)? == v {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    let (neg, name) = match c.strip_prefix("not ") {
        Some(n) => (true, n.trim()),
        None => (false, c),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("cannot read {c:?}"));
    }
    let v = lookup(name, values)?;
    let truthy = !(v.is_empty() || v == "false" || v == "0" || v == "no");
    Ok(truthy != neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let v: BTreeMap<String, String> = [("family", "debian"), ("tls", "false"), ("n", "2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(eval("family == 'debian'", &v).unwrap());
        assert!(!eval("family != \"debian\"", &v).unwrap());
        assert!(eval("family in ['redhat', 'debian']", &v).unwrap());
        assert!(eval("not tls and n == '2'", &v).unwrap());
        assert!(!eval("tls", &v).unwrap());
        assert!(eval("nope == 'x'", &v)
            .unwrap_err()
            .contains("unknown name \"nope\""));
        assert!(eval("family == debian", &v).is_err());
    }
}
