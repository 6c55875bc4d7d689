//! Exact decimals: their normal form (how two decimals compare equal, and how the hashes
//! see them), and PostgreSQL's binary `numeric` format (base-10000 digit groups) for binary
//! COPY and for reading them back.

/// `±int.frac × 10^exp` as (negative, digits without leading or trailing zeros, power of
/// ten); zero is (false, "0", 0). Two decimals are equal exactly when these are.
pub fn normalize_decimal(neg: bool, int: &[u8], frac: &[u8], exp: i64) -> (bool, String, i64) {
    let mut digits: Vec<u8> = int.iter().chain(frac).copied().collect();
    let mut exp = exp - frac.len() as i64;
    let lead = digits.iter().take_while(|d| **d == b'0').count();
    digits.drain(..lead);
    while digits.last() == Some(&b'0') {
        digits.pop();
        exp += 1;
    }
    if digits.is_empty() {
        return (false, "0".into(), 0);
    }
    (neg, String::from_utf8(digits).expect("ASCII digits"), exp)
}

/// Encodes `signed_digits × 10^exp` (`-` optional, digits normalized) as a COPY field body.
pub fn encode(signed_digits: &str, exp: i64) -> Vec<u8> {
    let (neg, digits) = match signed_digits.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, signed_digits),
    };
    let mut out = Vec::new();
    if digits == "0" || digits.is_empty() {
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        return out;
    }
    let len = digits.len() as i64;
    let point = len + exp;
    let (int, frac): (String, String) = if exp >= 0 {
        (
            format!("{digits}{}", "0".repeat(exp as usize)),
            String::new(),
        )
    } else if point > 0 {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    } else {
        (
            String::new(),
            format!("{}{digits}", "0".repeat((-point) as usize)),
        )
    };
    let dscale = frac.len() as u16;
    let int_padded = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
    let frac_padded = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    let mut groups: Vec<i16> = int_padded
        .as_bytes()
        .chunks(4)
        .chain(frac_padded.as_bytes().chunks(4))
        .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
        .collect();
    let mut weight = (int_padded.len() / 4) as i64 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&(if neg { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    out
}

/// Decodes a binary numeric into normalized (negative, digits, power of ten).
pub fn decode(b: &[u8]) -> Result<(bool, String, i64), String> {
    if b.len() < 8 {
        return Err("short numeric".into());
    }
    let n = i16::from_be_bytes([b[0], b[1]]) as usize;
    let weight = i16::from_be_bytes([b[2], b[3]]) as i64;
    let sign = u16::from_be_bytes([b[4], b[5]]);
    if b.len() != 8 + 2 * n {
        return Err("numeric length does not match its digit count".into());
    }
    let neg = match sign {
        0 => false,
        0x4000 => true,
        _ => return Err("NaN or infinity in a numeric".into()),
    };
    let mut digits = String::with_capacity(n * 4);
    for i in 0..n {
        let g = i16::from_be_bytes([b[8 + 2 * i], b[9 + 2 * i]]);
        digits.push_str(&format!("{g:04}"));
    }
    let exp = (weight - n as i64 + 1) * 4;
    Ok(normalize_decimal(neg, digits.as_bytes(), b"", exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(d: &str, e: i64) {
        let (neg, digits, exp) = decode(&encode(d, e)).unwrap();
        let signed = format!("{}{digits}", if neg { "-" } else { "" });
        let (n2, d2, e2) = normalize_decimal(
            d.starts_with('-'),
            d.trim_start_matches('-').as_bytes(),
            b"",
            e,
        );
        assert_eq!(
            (neg, digits.clone(), exp),
            (n2, d2, e2),
            "{d}e{e} -> {signed}e{exp}"
        );
    }

    #[test]
    fn round_trips() {
        for (d, e) in [
            ("1", 0),
            ("12345", 0),
            ("-9223372036854775808", 0),
            ("1", 20),
            ("15", -1),
            ("1", -7),
            ("123456789", -4),
            ("-5", -1100),
            ("0", 0),
            ("99999", 3),
        ] {
            round(d, e);
        }
        // 1.5 = digits 15, exp -1: one integer group [1], one fraction group [5000], dscale 1.
        assert_eq!(
            encode("15", -1),
            vec![0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88]
        );
    }
}
