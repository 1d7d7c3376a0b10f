//! Raising the open-file limit for many connections.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft limit on open files to the hard limit; returns the new soft limit. Explains
/// on stderr when the hard limit is below `wanted`.
pub fn raise_to_hard_limit(wanted: u64) -> u64 {
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum;
    let raised = Rlimit { current: hard, maximum: hard };
    let soft = match setrlimit(Resource::Nofile, raised) {
        Ok(()) => hard.unwrap_or(u64::MAX),
        Err(e) => {
            eprintln!("could not raise the open-file limit: {e}");
            limit.current.unwrap_or(u64::MAX)
        }
    };
    if soft < wanted {
        eprintln!(
            "the open-file limit is {soft}, below the {wanted} this run needs; raise the hard limit \
             (`ulimit -Hn`, /etc/security/limits.conf, or LimitNOFILE= for a service) or use fewer connections"
        );
    }
    soft
}
