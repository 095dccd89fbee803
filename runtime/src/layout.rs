//! Row-major copies of strided arrays.
//!
//! A kernel's optimized code reads and writes rows as vectors, which needs
//! the elements of a row to be neighbours in memory (a last stride of 1).
//! When a caller passes a view whose rows are not (a transposed matrix, a
//! Fortran-ordered array, `x[:, ::2]`), the kernel's entry copies it into
//! a row-major temporary, runs on that, and copies results back: one pass
//! over the view, where reading it lane by lane in every loop would cost
//! a gather per vector (XLA and IREE copy such arguments the same way).
//! A view whose last stride is 1 is used as it is, whatever its other
//! strides.

use crate::abi::{ElemType, MAX_RANK, PjBuffer};
use crate::alloc::{pj_rt_alloc, pj_rt_free};

/// Whether `b`'s rows are contiguous: rank 0, or a last stride of 1.
fn rows_contiguous(b: &PjBuffer) -> bool {
    match b.rank {
        r if r <= 0 => true,
        r => b.strides[r as usize - 1] == 1,
    }
}

/// The rank, the element size and the number of elements of a checked
/// descriptor (`None` for what the kernel's entry checks refuse).
fn extent(b: &PjBuffer) -> Option<(usize, usize, usize)> {
    let rank = usize::try_from(b.rank).ok().filter(|&r| r <= MAX_RANK)?;
    let size = ElemType::from_code(b.elem_type)?.size();
    let mut n = 1usize;
    for &s in &b.shape[..rank] {
        n = n.checked_mul(usize::try_from(s).ok()?)?;
    }
    Some((rank, size, n))
}

/// `int64_t pj_rt_contiguous(pj_buffer* dst, const pj_buffer* src, int32_t
/// copy)`: fills `dst` with `src`'s type and shape. When `src`'s rows are
/// contiguous, `dst` is `src` and 0 is returned. Otherwise `dst` gets
/// row-major strides and memory of its own from `pj_rt_alloc`, into which
/// `src`'s elements are copied when `copy` is non-zero, and the number of
/// bytes allocated is returned (for `pj_rt_free`); -1 when the memory
/// cannot be had (`dst` is then `src`, owning nothing).
///
/// # Safety
/// `dst` must be writable; `src` must be a descriptor the kernel's entry
/// checks have accepted (type, rank, shape, a span that fits in memory).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pj_rt_contiguous(
    dst: *mut PjBuffer,
    src: *const PjBuffer,
    copy: i32,
) -> i64 {
    // SAFETY: valid descriptors, as the caller promises
    let (dst, src) = unsafe { (&mut *dst, &*src) };
    *dst = *src;
    if rows_contiguous(src) {
        return 0;
    }
    let (Some((rank, size, n)), Some(elem)) = (extent(src), ElemType::from_code(src.elem_type))
    else {
        return -1;
    };
    let Some(bytes) = n.checked_mul(size) else {
        return -1;
    };
    let data = pj_rt_alloc(bytes);
    if data.is_null() {
        return -1;
    }
    *dst = PjBuffer::row_major(data, elem, &src.shape[..rank]);
    if copy != 0 && n > 0 {
        // SAFETY: `dst` is a fresh row-major buffer of src's shape;
        // src's span was checked by the kernel's entry
        unsafe { copy_elements(dst, src, rank, size) };
    }
    bytes as i64
}

/// `void pj_rt_copy_back(const pj_buffer* dst, const pj_buffer* tmp)`:
/// copies the elements of `tmp` (made by `pj_rt_contiguous` for `dst`)
/// into `dst`; nothing when `tmp` is `dst` itself.
///
/// # Safety
/// `tmp` must come from `pj_rt_contiguous(tmp, dst, ...)` and still own
/// its memory; `dst` must be writable over its span.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pj_rt_copy_back(dst: *const PjBuffer, tmp: *const PjBuffer) {
    // SAFETY: valid descriptors, as the caller promises
    let (dst, tmp) = unsafe { (&*dst, &*tmp) };
    if dst.data == tmp.data {
        return;
    }
    if let Some((rank, size, n)) = extent(dst)
        && n > 0
    {
        // SAFETY: as promised; both have dst's shape
        unsafe { copy_elements(dst, tmp, rank, size) };
    }
}

/// Copies every element of `src` to the same index in `dst` (same shape,
/// any strides, at least one element).
///
/// # Safety
/// Both spans must be valid for their shapes and strides, and must not
/// overlap.
unsafe fn copy_elements(dst: &PjBuffer, src: &PjBuffer, rank: usize, size: usize) {
    if rank == 0 {
        // SAFETY: one element each
        unsafe { std::ptr::copy_nonoverlapping(src.data, dst.data, size) };
        return;
    }
    let inner = rank - 1;
    let len = src.shape[inner] as usize;
    let (ds, ss) = (dst.strides[inner] as isize, src.strides[inner] as isize);
    let mut index = [0i64; MAX_RANK];
    loop {
        let (mut d, mut s) = (0isize, 0isize);
        for ((&i, &dk), &sk) in index[..inner].iter().zip(&dst.strides).zip(&src.strides) {
            d += i as isize * dk as isize;
            s += i as isize * sk as isize;
        }
        // SAFETY: every index is inside the shape, so every address is
        // inside the spans the caller vouched for
        unsafe {
            let dp = dst.data.offset(d * size as isize);
            let sp = src.data.offset(s * size as isize);
            match size {
                1 => copy_row::<u8>(dp, sp, len, ds, ss),
                2 => copy_row::<u16>(dp, sp, len, ds, ss),
                4 => copy_row::<u32>(dp, sp, len, ds, ss),
                _ => copy_row::<u64>(dp, sp, len, ds, ss),
            }
        }
        // the next row, odometer-style over the outer dims
        let mut k = inner;
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            index[k] += 1;
            if index[k] < src.shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
}

/// One row of `len` elements of type `T`, `ds` and `ss` elements apart
/// (unaligned accesses: NumPy arrays need not be aligned).
///
/// # Safety
/// Every one of the `len` addresses on each side must be valid for a `T`.
unsafe fn copy_row<T: Copy>(dst: *mut u8, src: *const u8, len: usize, ds: isize, ss: isize) {
    let (dst, src) = (dst.cast::<T>(), src.cast::<T>());
    for i in 0..len as isize {
        // SAFETY: as promised
        unsafe {
            dst.offset(i * ds)
                .write_unaligned(src.offset(i * ss).read_unaligned())
        };
    }
}

/// Frees what [`pj_rt_contiguous`] allocated: a convenience for Rust
/// callers and tests (generated code calls `pj_rt_free` with the bytes).
///
/// # Safety
/// As for `pj_rt_free(tmp.data, bytes)`.
pub unsafe fn release(tmp: &PjBuffer, bytes: i64) {
    if bytes > 0 {
        // SAFETY: as promised
        unsafe { pj_rt_free(tmp.data, bytes as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(data: *mut u8, elem: ElemType, shape: &[i64], strides: &[i64]) -> PjBuffer {
        PjBuffer::new(data, elem, shape, strides)
    }

    #[test]
    fn a_transposed_view_is_copied_row_major_and_back() {
        // a 3x4 matrix, viewed as its 4x3 transpose
        let mut m: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let t = view(m.as_mut_ptr().cast(), ElemType::F32, &[4, 3], &[1, 4]);
        let mut tmp = t;
        let bytes = unsafe { pj_rt_contiguous(&mut tmp, &t, 1) };
        assert_eq!(bytes, 48);
        assert_eq!(&tmp.strides[..2], &[3, 1]);
        let got = unsafe { std::slice::from_raw_parts(tmp.data.cast::<f32>(), 12) }.to_vec();
        let want: Vec<f32> = (0..4)
            .flat_map(|i| (0..3).map(move |j| (j * 4 + i) as f32))
            .collect();
        assert_eq!(got, want);
        // written through the temporary, back into the view
        unsafe { std::slice::from_raw_parts_mut(tmp.data.cast::<f32>(), 12) }
            .iter_mut()
            .for_each(|x| *x = -*x);
        unsafe { pj_rt_copy_back(&t, &tmp) };
        unsafe { release(&tmp, bytes) };
        assert_eq!(m, (0..12).map(|x| -(x as f32)).collect::<Vec<_>>());
    }

    #[test]
    fn contiguous_rows_are_used_in_place_whatever_the_other_strides() {
        let mut m = [0u8; 40];
        // every other row of a 4x10 matrix, its first 5 columns
        let v = view(m.as_mut_ptr(), ElemType::U8, &[2, 5], &[20, 1]);
        let mut tmp = v;
        tmp.data = std::ptr::null_mut();
        assert_eq!(unsafe { pj_rt_contiguous(&mut tmp, &v, 1) }, 0);
        assert_eq!(tmp.data, v.data);
        assert_eq!(tmp.strides, v.strides);
    }

    #[test]
    fn an_empty_strided_view_gets_memory_of_no_bytes() {
        let v = view(std::ptr::null_mut(), ElemType::I64, &[0, 3], &[1, 7]);
        let mut tmp = v;
        assert_eq!(unsafe { pj_rt_contiguous(&mut tmp, &v, 1) }, 0);
        assert!(!tmp.data.is_null());
        unsafe { pj_rt_copy_back(&v, &tmp) };
    }

    #[test]
    fn a_reversed_rank_three_view_round_trips() {
        // shape 2x3x4 of u16, the last dim reversed
        let mut m: Vec<u16> = (0..24).collect();
        let base = unsafe { m.as_mut_ptr().add(3) }.cast::<u8>();
        let v = view(base, ElemType::U16, &[2, 3, 4], &[12, 4, -1]);
        let mut tmp = v;
        let bytes = unsafe { pj_rt_contiguous(&mut tmp, &v, 1) };
        assert_eq!(bytes, 48);
        let got = unsafe { std::slice::from_raw_parts(tmp.data.cast::<u16>(), 24) }.to_vec();
        let want: Vec<u16> = (0..6)
            .flat_map(|r| (0..4).map(move |c| r * 4 + 3 - c))
            .collect();
        assert_eq!(got, want);
        unsafe { release(&tmp, bytes) };
    }
}
