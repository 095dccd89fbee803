//! Aligned memory for intermediate buffers. 64-byte alignment matches a
//! cache line and every vector width the backends use.
//!
//! A kernel fused into tiles allocates its scratch at the start of each
//! tile and frees it at the end: thousands of allocations of the same few
//! sizes per call (softmax's tiles of two rows: three per tile). Each
//! thread keeps the last few blocks it freed and hands them back to its
//! next allocation of the same size, so a tile's scratch comes back warm
//! in cache and the system allocator is not asked at all (its frees of
//! such blocks cost softmax 11% of its time).

use std::alloc::{Layout, alloc, dealloc};
use std::cell::RefCell;

/// Blocks a thread keeps at most.
const CACHED_BLOCKS: usize = 8;
/// Bytes a thread keeps at most; larger blocks go back at once (and the
/// system allocator maps them fresh on the next call: the energy model
/// charges their first touch).
pub const CACHED_BYTES: usize = 32 << 20;

/// The blocks this thread freed last, each with its size.
struct FreedBlocks {
    blocks: Vec<(usize, *mut u8)>,
    bytes: usize,
}

impl Drop for FreedBlocks {
    fn drop(&mut self) {
        for (bytes, ptr) in self.blocks.drain(..) {
            // SAFETY: kept by `pj_rt_free`, allocated with this layout.
            unsafe { dealloc(ptr, layout(bytes).expect("a valid layout when cached")) }
        }
    }
}

thread_local! {
    static FREED: RefCell<FreedBlocks> = const {
        RefCell::new(FreedBlocks { blocks: Vec::new(), bytes: 0 })
    };
}

fn layout(bytes: usize) -> Option<Layout> {
    Layout::from_size_align(bytes, ALIGN).ok()
}

/// Alignment of every allocation.
pub const ALIGN: usize = 64;

/// Allocates `bytes` bytes aligned to [`ALIGN`]; NULL on failure. Zero bytes
/// give a non-null, aligned pointer that must not be dereferenced.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_alloc(bytes: usize) -> *mut u8 {
    if bytes == 0 {
        return ALIGN as *mut u8;
    }
    let reused = FREED
        .try_with(|f| {
            let mut f = f.borrow_mut();
            let i = f.blocks.iter().rposition(|&(b, _)| b == bytes)?;
            f.bytes -= bytes;
            Some(f.blocks.swap_remove(i).1)
        })
        .ok()
        .flatten();
    if let Some(ptr) = reused {
        return ptr;
    }
    match layout(bytes) {
        // SAFETY: the layout has a non-zero size.
        Some(layout) => unsafe { alloc(layout) },
        None => std::ptr::null_mut(),
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
    let Some(layout) = layout(bytes) else {
        return;
    };
    if bytes <= CACHED_BYTES {
        // keep it; give back the oldest kept blocks beyond the limits
        let evicted = FREED.try_with(|f| {
            let mut f = f.borrow_mut();
            f.blocks.push((bytes, ptr));
            f.bytes += bytes;
            let mut out = Vec::new();
            while f.blocks.len() > CACHED_BLOCKS || f.bytes > CACHED_BYTES {
                let (b, p) = f.blocks.remove(0);
                f.bytes -= b;
                out.push((b, p));
            }
            out
        });
        if let Ok(evicted) = evicted {
            for (b, p) in evicted {
                // SAFETY: allocated by `pj_rt_alloc(b)`.
                unsafe { dealloc(p, layout_of(b)) }
            }
            return;
        }
    }
    // SAFETY: allocated by `pj_rt_alloc` with this layout.
    unsafe { dealloc(ptr, layout) }
}

fn layout_of(bytes: usize) -> Layout {
    layout(bytes).expect("a size pj_rt_alloc accepted")
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

    #[test]
    fn a_freed_block_comes_back_to_the_next_allocation_of_its_size() {
        std::thread::spawn(|| {
            let a = pj_rt_alloc(1000);
            unsafe { pj_rt_free(a, 1000) };
            let other = pj_rt_alloc(999);
            assert_ne!(other, a, "a different size gets a different block");
            let b = pj_rt_alloc(1000);
            assert_eq!(b, a, "the same size gets the freed block");
            // writable, aligned, and not handed out twice
            unsafe { std::ptr::write_bytes(b, 7, 1000) };
            let c = pj_rt_alloc(1000);
            assert_ne!(c, b);
            unsafe {
                pj_rt_free(c, 1000);
                pj_rt_free(b, 1000);
                pj_rt_free(other, 999);
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_blocks_kept_stay_within_their_limits() {
        std::thread::spawn(|| {
            let blocks: Vec<*mut u8> = (1..=20).map(|i| pj_rt_alloc(i * 64)).collect();
            for (i, &p) in blocks.iter().enumerate() {
                unsafe { pj_rt_free(p, (i + 1) * 64) };
            }
            FREED.with(|f| {
                let f = f.borrow();
                assert_eq!(f.blocks.len(), CACHED_BLOCKS);
                // the last ones freed are kept
                assert!(f.blocks.iter().all(|&(b, _)| b > (20 - CACHED_BLOCKS) * 64));
                assert_eq!(f.bytes, f.blocks.iter().map(|&(b, _)| b).sum::<usize>());
            });
            let big = pj_rt_alloc(CACHED_BYTES + 64);
            unsafe { pj_rt_free(big, CACHED_BYTES + 64) };
            FREED.with(|f| assert!(f.borrow().bytes <= CACHED_BYTES));
        })
        .join()
        .unwrap();
    }
}
