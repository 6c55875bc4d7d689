//! `provision restart [--rolling]`: prints each step as it happens (across the inventory's
//! hosts: `restart_hosts`).

use super::{fail, load_stack, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, RestartArgs};
use crate::ops::retire;
use crate::ops::rolling::{self, RestartError};

pub fn restart(global: &GlobalArgs, args: RestartArgs) -> Result<ExitStatus, CommandError> {
    if args.take_out.is_none() && !args.put_back && !args.retire {
        if let Some(inv) =
            crate::commands::hosts::several_hosts(global, args.hosts.inventory.as_deref())?
        {
            return super::restart_hosts::restart(global, &args, &inv);
        }
    }
    let stack = load_stack(global)?;
    let started = std::time::Instant::now();
    let quiet = global.quiet;
    let mut progress = |line: &str| {
        if !quiet {
            println!("{line}");
        }
    };
    // The controller's rolling restart across hosts, on a load balancer.
    let done = |r: Result<(), RestartError>| match r {
        Ok(()) => Ok(ExitStatus::Success),
        Err(e) => Err(fail(ExitStatus::Failure, e)),
    };
    if let Some(list) = &args.take_out {
        let targets: Vec<String> = list.split(',').map(str::to_string).collect();
        return done(if args.for_good {
            retire::retire_upstreams(&stack, &targets, &mut progress)
        } else {
            rolling::take_out_upstreams(&stack, &targets, &mut progress)
        });
    }
    if args.put_back {
        return done(rolling::put_back(&stack, &mut progress));
    }
    if args.retire {
        return done(retire::retire_instances(&stack, &mut progress));
    }
    match rolling::restart(&stack, args.rolling, &mut progress) {
        Ok(()) => {
            println!(
                "restarted {} instance(s){} in {:.1} s",
                stack.instances().len(),
                if args.rolling { ", one at a time" } else { "" },
                started.elapsed().as_secs_f64()
            );
            Ok(ExitStatus::Success)
        }
        Err(e @ RestartError::Refused(_)) => Err(fail(ExitStatus::Usage, e)),
        Err(e) => Err(fail(ExitStatus::Failure, e)),
    }
}
