//! Huge pages for the network's large arrays. Rows of synapses are
//! written (when drawn) and ring slots added into (at every spike) in an
//! order of their own: with 4 KiB pages, nearly every access into
//! gigabytes of them misses the TLB. At a million neurons, backing them
//! with 2 MiB pages makes the run about 10% faster.
//! `NEUROC_NO_HUGE=1` leaves them on small pages, for comparison.

/// Asks the kernel to back `array`'s pages that no one has touched yet
/// with huge pages (2 MiB, Linux), when it spans several. A hint:
/// nothing changes where it is not taken (other systems, or the kernel's
/// transparent huge pages off).
pub(super) fn huge<T>(array: &[T]) {
    advise(array.as_ptr(), size_of_val(array));
}

/// `n` copies of `value`, on huge pages where they span several (as
/// [`huge`], asked before the values touch the pages).
pub(super) fn filled<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    advise(v.as_ptr(), n * size_of::<T>());
    v.resize(n, value);
    v
}

/// [`huge`] over the `bytes` from `ptr`.
fn advise<T>(ptr: *const T, bytes: usize) {
    const HUGE: usize = 2 << 20;
    if bytes < 4 * HUGE || std::env::var_os("NEUROC_NO_HUGE").is_some() {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // the whole huge pages within the array
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: advice over pages of this allocation alone; it
            // changes no contents
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
}
