//! Keeps a long export from holding on to memory it has freed.
//!
//! glibc's malloc serves a request of 128 KiB or more from a mapping of its own, returned to
//! the system when freed, but each time such a block is freed it raises that threshold to
//! the block's size (up to 32 MiB), and the heap's trim threshold to twice that. From then
//! on the pipeline's large short-lived blocks (a sink's batch, a page's response body, each
//! about 0.5–1 MiB, allocated and freed at every page by several threads) come from the
//! per-thread arenas, where what is freed stays resident and fragments. A threshold set
//! once stops both raises: blocks above it are mappings again, and the heap's free top is
//! given back from 128 KiB as at the start. Measured with
//! `auditbridge bench` (docs/performance.md), `all four` with the pipelined Kafka sink:
//! peak RSS 63–65 MiB without, 58–60 at 1 MiB, 53–55 at 256 KiB; 256 KiB also cost the
//! `file` row about a sixth more CPU (each page's body mapped and faulted in anew), 1 MiB
//! nothing measurable.
//!
//! An operator's own setting (`MALLOC_MMAP_THRESHOLD_` or `GLIBC_TUNABLES`) is left alone.
//!
//! What is freed inside an arena, below its top, stays resident until malloc needs it
//! again; with a dozen threads each drawing on its own arena, that adds up. A thread of
//! its own gives it back (`malloc_trim`) every [`TRIM_EVERY`]. `all four` with both sinks
//! that send ahead (Kafka, HEC): peak RSS 57.3 and 57.5 MiB with it against 60.7 and 61.9
//! without, CPU no higher.

/// Blocks at least this large are mapped on their own and given back when freed.
pub const MMAP_THRESHOLD: usize = 1024 * 1024;
// glibc refuses thresholds above HEAP_MAX_SIZE / 2 (32 MiB on 64-bit); mallopt takes an i32.
const _: () = assert!(MMAP_THRESHOLD <= 32 * 1024 * 1024 && MMAP_THRESHOLD <= i32::MAX as usize);

/// How often freed arena memory is given back to the system.
pub const TRIM_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Applies [`MMAP_THRESHOLD`] unless the environment sets malloc's tuning, and starts the
/// thread that trims the arenas every [`TRIM_EVERY`]; call it first thing in `main`,
/// before any other thread starts. Does nothing where malloc is not glibc's.
pub fn bound() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tuned =
            std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() || std::env::var_os("GLIBC_TUNABLES").is_some();
        if !tuned {
            // SAFETY: mallopt only sets a malloc parameter (under malloc's own lock); it is
            // called before any other thread exists. The constant fits an i32.
            let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as i32) };
            if set != 1 {
                tracing::debug!("malloc refused M_MMAP_THRESHOLD = {MMAP_THRESHOLD}");
            }
        }
        let trimmer = std::thread::Builder::new().name("malloc-trim".into()).spawn(|| loop {
            std::thread::sleep(TRIM_EVERY);
            // SAFETY: malloc_trim only returns free memory of malloc's arenas to the
            // system, under each arena's lock; it touches nothing that is allocated.
            unsafe { libc::malloc_trim(0) };
        });
        if let Err(e) = trimmer {
            tracing::debug!("cannot start the malloc trimmer: {e}");
        }
    }
}
