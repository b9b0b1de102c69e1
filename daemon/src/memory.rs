//! Giving memory back to the system during and after big pieces of work.
//!
//! A sync of the whole catalog, a rebuild of the search index and the snapshot import
//! allocate and free gigabytes in pieces of every size, on tokio's blocking threads and the
//! index writer's threads. glibc's malloc keeps what is freed inside its arenas unless it
//! lies at their very top, so after a 1M-record sync the daemon held 1.2 GiB resident, of
//! which 0.35 GiB was live. [`release_freed`] hands the free pages of every arena back.
//! See "Memory" in the README for the measurements.

/// Returns the memory freed by a bulk piece of work (a sync walk, a rebuild, the snapshot
/// import) to the system. It walks glibc's free lists, a few milliseconds for a heap of a
/// gigabyte, so call it between pages of work, not per record.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn release_freed() {
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointers and is thread-safe: it locks each arena in turn.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Elsewhere the allocator returns freed memory on its own terms.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_freed() {}
