//! JSON by meaning: a validating parser that writes a canonical form (keys sorted,
//! strings unescaped, numbers as exact normalized decimals) and refuses what jsonb would
//! alter or reject (duplicate keys, `\u0000`, unpaired surrogates).

use super::numeric::normalize_decimal;

/// Why a text is not JSON that jsonb would keep exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonProblem(pub String);

/// Checks that `text` is JSON that jsonb stores without losing anything: valid syntax,
/// no duplicate object keys (jsonb keeps only the last), no `\u0000` and no unpaired
/// surrogate escapes (jsonb refuses them).
pub fn check_json(text: &str) -> Result<(), JsonProblem> {
    let mut sink = Vec::new();
    canonical_json(text, &mut sink)
}

/// Writes the canonical form of JSON `text` into `out`: objects with keys sorted
/// bytewise, strings unescaped, numbers as exact normalized decimals.
pub fn canonical_json(text: &str, out: &mut Vec<u8>) -> Result<(), JsonProblem> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    p.value(out)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing characters after the JSON value"));
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> JsonProblem {
        JsonProblem(format!("{what} at byte {}", self.i))
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn lit(&mut self, word: &[u8], out: &mut Vec<u8>, tag: u8) -> Result<(), JsonProblem> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            out.push(tag);
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, out: &mut Vec<u8>) -> Result<(), JsonProblem> {
        self.depth += 1;
        if self.depth > 512 {
            return Err(self.err("nested too deeply"));
        }
        let r = match self.peek() {
            Some(b'{') => self.object(out),
            Some(b'[') => self.array(out),
            Some(b'"') => {
                let s = self.string()?;
                out.push(b's');
                out.extend_from_slice(&(s.len() as u64).to_le_bytes());
                out.extend_from_slice(&s);
                Ok(())
            }
            Some(b't') => self.lit(b"true", out, b't'),
            Some(b'f') => self.lit(b"false", out, b'f'),
            Some(b'n') => self.lit(b"null", out, b'z'),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            _ => Err(self.err("expected a JSON value")),
        };
        self.depth -= 1;
        r
    }

    fn object(&mut self, out: &mut Vec<u8>) -> Result<(), JsonProblem> {
        self.i += 1;
        let mut members: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err(self.err("expected an object key"));
                }
                let key = self.string()?;
                self.ws();
                if self.peek() != Some(b':') {
                    return Err(self.err("expected ':'"));
                }
                self.i += 1;
                self.ws();
                let mut v = Vec::new();
                self.value(&mut v)?;
                members.push((key, v));
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or '}'")),
                }
            }
        }
        members.sort_by(|a, b| a.0.cmp(&b.0));
        if members.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(self.err("duplicate object key (jsonb would keep only the last)"));
        }
        out.push(b'o');
        out.extend_from_slice(&(members.len() as u64).to_le_bytes());
        for (k, v) in members {
            out.extend_from_slice(&(k.len() as u64).to_le_bytes());
            out.extend_from_slice(&k);
            out.extend_from_slice(&v);
        }
        Ok(())
    }

    fn array(&mut self, out: &mut Vec<u8>) -> Result<(), JsonProblem> {
        self.i += 1;
        let mut items = Vec::new();
        let mut n: u64 = 0;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                self.value(&mut items)?;
                n += 1;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or ']'")),
                }
            }
        }
        out.push(b'a');
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&items);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonProblem> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("short \\u escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<Vec<u8>, JsonProblem> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if cp == 0 {
                                return Err(self.err("\\u0000 (jsonb cannot hold NUL)"));
                            }
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(self.err("unpaired surrogate escape"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("unpaired surrogate escape"));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return Err(self.err("unpaired surrogate escape"));
                            }
                            let ch = char::from_u32(cp).ok_or_else(|| self.err("bad escape"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                0..=0x1f => return Err(self.err("control character in a string")),
                _ => out.push(c),
            }
        }
    }

    /// Numbers become `[-]DIGITSeEXP` with no leading or trailing zeros (zero is `0`),
    /// so `1.50`, `1.5` and `15e-1` compare equal, exactly, at any size.
    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), JsonProblem> {
        let start = self.i;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        let int_start = self.i;
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return Err(self.err("invalid number")),
        }
        let int_digits = &self.s[int_start..self.i];
        let mut frac_digits: &[u8] = &[];
        if self.peek() == Some(b'.') {
            self.i += 1;
            let fs = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if self.i == fs {
                return Err(self.err("invalid number"));
            }
            frac_digits = &self.s[fs..self.i];
        }
        let mut exp: i64 = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            let eneg = match self.peek() {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let es = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if self.i == es || self.i - es > 9 {
                return Err(JsonProblem(format!(
                    "invalid or huge exponent at byte {start}"
                )));
            }
            let e: i64 = std::str::from_utf8(&self.s[es..self.i])
                .unwrap()
                .parse()
                .unwrap();
            exp = if eneg { -e } else { e };
        }
        let (neg, digits, exp) = normalize_decimal(neg, int_digits, frac_digits, exp);
        out.push(b'n');
        if digits == "0" {
            out.push(b'0');
        } else {
            if neg {
                out.push(b'-');
            }
            out.extend_from_slice(digits.as_bytes());
            out.push(b'e');
            out.extend_from_slice(exp.to_string().as_bytes());
        }
        out.push(b';');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        canonical_json(s, &mut v).unwrap();
        v
    }

    #[test]
    fn equal_by_meaning() {
        assert_eq!(
            canon(r#"{"b": 1, "a": [1.50, "x"]}"#),
            canon(r#"{"a":[15e-1,"x"],"b":1.0}"#)
        );
        assert_eq!(canon("0"), canon("-0.000"));
        assert_eq!(canon(r#""\u00e9\/""#), canon("\"é/\""));
        assert_eq!(canon(r#""\ud83d\ude00""#), canon("\"😀\""));
        assert_ne!(canon("1"), canon("\"1\""));
        assert_ne!(canon("[1,2]"), canon("[2,1]"));
        assert_ne!(canon("12345678901234567890"), canon("12345678901234567891"));
    }

    #[test]
    fn refuses_what_jsonb_would_alter_or_reject() {
        for bad in [
            r#"{"a": 1, "a": 2}"#,
            r#""\u0000""#,
            r#""\ud800""#,
            "{broken",
            "commit=abc",
            "[1,]",
            "01",
            "1.",
            "",
            "\"a\u{1}\"",
            "nul",
            "1 2",
        ] {
            assert!(check_json(bad).is_err(), "{bad}");
        }
        assert!(check_json(r#" {"k": [true, false, null, -1.5e+3]} "#).is_ok());
    }
}
