//! Long container scenarios in named stages that do not hide each other's failures.

/// A scenario's stages on one container, in order. A failed stage is recorded and the next
/// ones still run (each starts from what the previous left on the host), so an early
/// failure does not hide the rest; the test fails at the end naming every failed stage. A
/// caller stops early itself where nothing after a stage could mean anything without it.
#[derive(Default)]
pub struct Stages {
    failed: Vec<String>,
}

impl Stages {
    pub fn run(&mut self, name: &str, stage: impl FnOnce()) -> bool {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(stage)) {
            Ok(()) => true,
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                let first_line = why.lines().next().unwrap_or_default();
                self.failed.push(format!("{name}: {first_line}"));
                false
            }
        }
    }

    pub fn finish(self) {
        assert!(
            self.failed.is_empty(),
            "{} stage(s) failed (each one's whole message is above):\n{}",
            self.failed.len(),
            self.failed.join("\n")
        );
    }
}
