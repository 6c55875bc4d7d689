//! Where a host or one of its fields sits in the inventory's text, so that a rule broken
//! after parsing (two hosts with one address, an unknown role) names its line. serde
//! gives locations only for syntax errors; the inventory's layout is simple enough to find
//! a key by its indentation under `hosts:`.

/// The 1-based lines of an inventory's text.
pub struct Lines<'a> {
    lines: Vec<&'a str>,
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

fn blank(l: &str) -> bool {
    let t = l.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// Whether `l` (already trimmed) opens the mapping key `key`, quoted or not.
fn opens_key(t: &str, key: &str) -> bool {
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .any(|k| {
        t.strip_prefix(k.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        Lines {
            lines: text.lines().collect(),
        }
    }

    /// The line of the top-level key `key`, if any.
    pub fn top(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| indent(l) == 0 && opens_key(l, key))
            .map(|i| i + 1)
    }

    /// The line of host `name` under `hosts:` (0 when it cannot be found).
    pub fn host(&self, name: &str) -> usize {
        let Some(start) = self.top("hosts") else {
            return 0;
        };
        let mut child = None;
        for (i, l) in self.lines.iter().enumerate().skip(start) {
            if blank(l) {
                continue;
            }
            let n = indent(l);
            if n == 0 {
                break;
            }
            let child = *child.get_or_insert(n);
            if n == child && opens_key(l.trim_start(), name) {
                return i + 1;
            }
        }
        0
    }

    /// The line of `field` inside the block of the host on `host_line`; the host's own
    /// line when the field is not on a line of its own (flow style, or absent).
    pub fn field(&self, host_line: usize, field: &str) -> usize {
        if host_line == 0 {
            return 0;
        }
        let own = indent(self.lines[host_line - 1]);
        for (i, l) in self.lines.iter().enumerate().skip(host_line) {
            if blank(l) {
                continue;
            }
            if indent(l) <= own {
                break;
            }
            if opens_key(l.trim_start(), field) {
                return i + 1;
            }
        }
        host_line
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn hosts_and_fields() {
        let text = "ssh:\n  user: root\nhosts:\n  # the database\n  db1:\n    address: 192.0.2.10\n    roles: [postgres]\n  'app1':\n    roles:\n      - app\n  lb1: {address: 192.0.2.30, roles: [nginx]}\nextra: 1\n";
        let l = Lines::new(text);
        assert_eq!(l.top("hosts"), Some(3));
        assert_eq!(l.host("db1"), 5);
        assert_eq!(l.field(5, "address"), 6);
        assert_eq!(l.field(5, "roles"), 7);
        assert_eq!(l.host("app1"), 8);
        assert_eq!(l.field(8, "roles"), 9);
        // Not db1's: app1's block ends db1's.
        assert_eq!(l.field(8, "address"), 8);
        assert_eq!(l.host("lb1"), 11);
        assert_eq!(l.field(11, "roles"), 11);
        assert_eq!(l.host("address"), 0);
        assert_eq!(l.host("extra"), 0);
    }
}
