//! JIT memory for Apple silicon: code pages mapped with `MAP_JIT` and
//! switched between writable and executable per thread.
//!
//! cranelift-jit 0.135's `SystemMemoryProvider` maps anonymous pages,
//! writes the code, then `mprotect`s them read+execute. macOS on arm64
//! allows that only to processes without the hardened runtime: a signed
//! application with the `com.apple.security.cs.allow-jit` entitlement must
//! put code in `MAP_JIT` pages, which are never writable and executable on
//! one thread at once — the thread writing code calls
//! `pthread_jit_write_protect_np(0)`, then `(1)` before anything runs, and
//! the instruction cache must be invalidated over the new code. Both
//! kinds of process work with this provider; other threads (the runtime's
//! workers) always see the pages as executable.
//!
//! Untested here (no Mac): it compiles for `aarch64-apple-darwin`
//! (`cargo check --target aarch64-apple-darwin -p pj-compiler`), and the
//! protocol is Apple's ("Porting just-in-time compilers to Apple silicon").

use cranelift_jit::{BranchProtection, JITMemoryKind, JITMemoryProvider, SystemMemoryProvider};
use cranelift_module::{ModuleError, ModuleResult};
use std::io;

unsafe extern "C" {
    fn pthread_jit_write_protect_np(enabled: libc::c_int);
    fn sys_icache_invalidate(start: *mut libc::c_void, len: libc::size_t);
}

/// Code in `MAP_JIT` regions; data through cranelift-jit's own provider.
pub struct MapJitMemory {
    /// Mapped code regions: (start, length).
    regions: Vec<(*mut u8, usize)>,
    /// Bytes used of the last region.
    used: usize,
    data: SystemMemoryProvider,
}

// SAFETY: the raw pointers are owned mappings, touched only through `&mut self`.
unsafe impl Send for MapJitMemory {}

const REGION: usize = 1 << 20;

impl MapJitMemory {
    /// An empty provider.
    pub fn new() -> MapJitMemory {
        MapJitMemory {
            regions: Vec::new(),
            used: 0,
            data: SystemMemoryProvider::new(),
        }
    }

    fn allocate_code(&mut self, size: usize, align: usize) -> io::Result<*mut u8> {
        let align = align.max(16);
        if let Some(&(start, len)) = self.regions.last() {
            let at = self.used.next_multiple_of(align);
            if at + size <= len {
                self.used = at + size;
                return Ok(unsafe { start.add(at) });
            }
        }
        let len = size.next_multiple_of(REGION).max(REGION);
        // SAFETY: a fresh anonymous mapping; checked for failure below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANON | libc::MAP_JIT,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        self.regions.push((p.cast(), len));
        self.used = size;
        Ok(p.cast())
    }
}

impl Default for MapJitMemory {
    fn default() -> MapJitMemory {
        MapJitMemory::new()
    }
}

impl JITMemoryProvider for MapJitMemory {
    fn allocate(&mut self, size: usize, align: u64, kind: JITMemoryKind) -> io::Result<*mut u8> {
        match kind {
            JITMemoryKind::Executable => {
                // this thread writes the code next
                unsafe { pthread_jit_write_protect_np(0) };
                self.allocate_code(size, align as usize)
            }
            other => self.data.allocate(size, align, other),
        }
    }

    unsafe fn free_memory(&mut self) {
        for &(start, len) in &self.regions {
            unsafe { libc::munmap(start.cast(), len) };
        }
        self.regions.clear();
        unsafe { self.data.free_memory() };
    }

    fn finalize(&mut self, branch_protection: BranchProtection) -> ModuleResult<()> {
        for &(start, len) in &self.regions {
            unsafe { sys_icache_invalidate(start.cast(), len) };
        }
        // executable (and no longer writable) on this thread again
        unsafe { pthread_jit_write_protect_np(1) };
        self.data
            .finalize(branch_protection)
            .map_err(|e| ModuleError::Backend(anyhow::anyhow!("JIT data pages: {e}")))
    }
}
