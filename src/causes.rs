//! An error and its causes as one line, each cause once: what every layer that reports an
//! error (the playbook engine's failed-step events, the commands' last line) prints.

use std::error::Error;

/// The error and its causes on one line, each cause once: a cause whose text the line
/// already holds (an error that quotes its source in its own message, as thiserror's
/// `{source}` does, or a library error that repeats its inner one) is not repeated.
pub fn line(e: &(dyn Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);
    #[derive(Debug, thiserror::Error)]
    #[error("middle: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn each_cause_once() {
        let e = Outer(Middle(std::io::Error::other("disk full")));
        assert_eq!(super::line(&e), "outer: middle: disk full");
    }
}
