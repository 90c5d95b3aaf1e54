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
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(array);
    if bytes < 4 * HUGE || std::env::var_os("NEUROC_NO_HUGE").is_some() {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // the whole huge pages within the array
        let start = (array.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (array.as_ptr() as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: advice over pages of this array alone; it changes
            // no contents
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
}
