//! `provision restore --phase …`: one phase of a restore across hosts, run on a host by
//! the controller (`restore_hosts`), its answer one JSON line. On the database host:
//! `stage` (the backup checked and loaded beside the live database), `swap`, `discard`;
//! on the app hosts: `stop-instances`, `start-instances` (each waited for) and, on one,
//! `invalidate-cache`.

use super::{fail, load_stack, runtime, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, RestoreArgs, RestorePhase};
use crate::ops::backup::BackupError;
use crate::ops::restore;

pub fn run(
    global: &GlobalArgs,
    args: &RestoreArgs,
    phase: RestorePhase,
) -> Result<ExitStatus, CommandError> {
    let stack = load_stack(global)?;
    let staging = || {
        args.staging
            .as_deref()
            .ok_or_else(|| fail(ExitStatus::Usage, "this phase needs --staging DATABASE"))
    };
    let answer = match phase {
        RestorePhase::Stage => {
            let file = args
                .file
                .as_deref()
                .ok_or_else(|| fail(ExitStatus::Usage, "--phase stage needs FILE"))?;
            let (staging, counts) = runtime()?
                .block_on(restore::stage_file(&stack, file, args.no_checksum))
                .map_err(restore_failed)?;
            serde_json::json!({
                "staging": staging,
                "tables": counts.len(),
                "rows": counts.values().sum::<i64>(),
            })
        }
        RestorePhase::Swap => {
            let kept = restore::swap_in(&stack, staging()?).map_err(restore_failed)?;
            serde_json::json!({ "kept_as": kept })
        }
        RestorePhase::Discard => {
            restore::discard(&stack, staging()?).map_err(restore_failed)?;
            serde_json::json!({ "discarded": staging()? })
        }
        RestorePhase::StopInstances => {
            restore::stop_instances(&stack).map_err(restore_failed)?;
            serde_json::json!({ "stopped": stack.instances().len() })
        }
        RestorePhase::StartInstances => {
            restore::start_instances(&stack).map_err(restore_failed)?;
            serde_json::json!({ "started": stack.instances().len() })
        }
        RestorePhase::InvalidateCache => {
            runtime()?
                .block_on(restore::invalidate_cache(&stack))
                .map_err(|e| fail(ExitStatus::Failure, format!("the cache: {e}")))?;
            serde_json::json!({ "invalidated": true })
        }
    };
    println!("{answer}");
    Ok(ExitStatus::Success)
}

/// A restore's error as the exit code the README gives: 2 a missing file, 3 a backup that
/// does not match its checksum or manifest, 1 anything else (the live database untouched).
pub(super) fn restore_failed(e: BackupError) -> CommandError {
    match e {
        BackupError::Missing { .. } => fail(ExitStatus::Usage, e),
        BackupError::Corrupt { .. } => fail(ExitStatus::Code(3), e),
        e => fail(ExitStatus::Failure, e),
    }
}
