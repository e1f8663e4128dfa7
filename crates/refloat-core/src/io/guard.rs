//! Turning oxyroot's panics into errors.
//!
//! oxyroot 0.1.25 panics (`todo!`, `unimplemented!`, `unwrap`) on inputs it does not
//! understand (an unusual branch type, a corrupt basket). Every call into it from
//! [`crate::io`] goes through [`guarded`], which catches the panic and returns its message,
//! so the caller can build an [`Error::Root`](crate::Error::Root) that names the file, the
//! tree and the branch. While a guarded call runs, the panic message is not printed: a
//! process-wide panic hook is chained in front of the existing one the first time
//! [`guarded`] is called, and it stays silent only on a thread that is inside a guarded call,
//! or on one of rayon's workers while a guarded call runs (oxyroot decodes and compresses
//! records on them for the guarded call, see `RewriteOptions::threads`).

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};

thread_local! {
    /// Depth of guarded calls on this thread (the hook is silent while it is non-zero).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Where the last silenced panic happened (`file:line`).
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Guarded calls running, on any thread.
static GUARDED: AtomicU32 = AtomicU32::new(0);
/// Where the last panic silenced on a rayon worker happened.
static WORKER_LOCATION: Mutex<Option<String>> = Mutex::new(None);

fn install_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = || {
                info.location().map(|l| {
                    // Keep only the path below oxyroot's `src/`, the rest is machine-specific.
                    let file = l.file();
                    let short = file.rsplit_once("/src/").map_or(file, |(_, s)| s);
                    format!("{short}:{}", l.line())
                })
            };
            if DEPTH.with(|d| d.get()) > 0 {
                LOCATION.with(|loc| *loc.borrow_mut() = location());
            } else if GUARDED.load(Ordering::SeqCst) > 0 && rayon::current_thread_index().is_some()
            {
                if let Ok(mut loc) = WORKER_LOCATION.lock() {
                    *loc = location();
                }
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside it becomes `Err(message)` with the panic's text and location,
/// e.g. `"oxyroot failed internally: not yet implemented (rtree/branch/tbranch_element.rs:190)"`.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    GUARDED.fetch_add(1, Ordering::SeqCst);
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.fetch_sub(1, Ordering::SeqCst);
    DEPTH.with(|d| d.set(d.get() - 1));
    result.map_err(|payload| {
        let message = crate::stats::panic_message(payload.as_ref());
        let here = LOCATION.with(|loc| loc.borrow_mut().take());
        let on_worker = || WORKER_LOCATION.lock().ok().and_then(|mut l| l.take());
        match here.or_else(on_worker) {
            Some(at) => format!("oxyroot failed internally: {message} ({at})"),
            None => format!("oxyroot failed internally: {message}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_becomes_message_and_ok_passes_through() {
        assert_eq!(guarded(|| 3).unwrap(), 3);
        let e = guarded(|| -> u32 { panic!("boom {}", 7) }).unwrap_err();
        assert!(e.contains("boom 7"), "{e}");
        assert!(e.contains("guard.rs"), "{e}");
        let e = guarded(|| -> u32 { todo!() }).unwrap_err();
        assert!(e.contains("not yet implemented"), "{e}");
    }
}
