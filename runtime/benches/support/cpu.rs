//! CPU time from Linux's `/proc`: the whole process (every thread, exited ones too) and single threads.

use std::time::Duration;

/// The kernel's clock tick for `/proc/*/stat` (`USER_HZ`, 100 on every Linux architecture we run).
const TICK: Duration = Duration::from_millis(10);

/// CPU time (user + system) of the whole process so far, exited threads included; 10 ms steps.
pub fn process() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may hold spaces): state is the 3rd field, utime the 14th.
    let fields: Vec<&str> =
        stat.rsplit_once(')').expect("the command name ends with ')'").1.split_whitespace().collect();
    let ticks = |index: usize| fields[index].parse::<u32>().expect("a tick count");
    TICK * (ticks(11) + ticks(12))
}

/// CPU time of one thread of this process so far, in ns (`/proc/self/task/<tid>/schedstat`); zero if
/// `tid` is 0 or gone.
pub fn thread(tid: u64) -> Duration {
    if tid == 0 {
        return Duration::ZERO;
    }
    schedstat(&format!("/proc/self/task/{tid}/schedstat"))
}

/// CPU time of the calling thread so far, in ns.
pub fn this_thread() -> Duration {
    schedstat("/proc/thread-self/schedstat")
}

fn schedstat(path: &str) -> Duration {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ns = text.split_whitespace().next().and_then(|ns| ns.parse().ok()).unwrap_or(0);
    Duration::from_nanos(ns)
}
