//! Aligned memory for intermediate buffers. 64-byte alignment matches a
//! cache line and every vector width the backends use.

use std::alloc::{Layout, alloc, dealloc};

/// Alignment of every allocation.
pub const ALIGN: usize = 64;

/// Allocates `bytes` bytes aligned to [`ALIGN`]; NULL on failure. Zero bytes
/// give a non-null, aligned pointer that must not be dereferenced.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_alloc(bytes: usize) -> *mut u8 {
    if bytes == 0 {
        return ALIGN as *mut u8;
    }
    match Layout::from_size_align(bytes, ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// Frees memory from [`pj_rt_alloc`] of the same `bytes`.
///
/// # Safety
/// `ptr` must come from `pj_rt_alloc(bytes)` and not be freed twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pj_rt_free(ptr: *mut u8, bytes: usize) {
    if bytes == 0 || ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(bytes, ALIGN) {
        // SAFETY: allocated by `pj_rt_alloc` with this layout.
        unsafe { dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_and_huge_requests_fail_cleanly() {
        for bytes in [0, 1, 7, 4096] {
            let p = pj_rt_alloc(bytes);
            assert!(!p.is_null());
            assert_eq!(p as usize % ALIGN, 0);
            unsafe { pj_rt_free(p, bytes) };
        }
        assert!(pj_rt_alloc(usize::MAX - 8).is_null());
    }
}
