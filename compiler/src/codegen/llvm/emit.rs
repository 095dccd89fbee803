//! A thin layer over LLVM's C API for building instructions: values are
//! `LLVMValueRef`s whatever their type, so one method serves an `f32`, an
//! `i8` and a `<16 x float>` alike (inkwell's typed values would need a
//! match per operand kind in every lowering). inkwell owns the context,
//! module and builder; this only borrows their raw handles.
//!
//! Every method builds at the builder's position; the lowering keeps the
//! invariants LLVM's verifier checks (operand types agree, blocks end in
//! one terminator), and `lower.rs` runs the verifier on each function in
//! debug builds.

use inkwell::llvm_sys::core::*;
use inkwell::llvm_sys::prelude::*;
use inkwell::llvm_sys::{LLVMIntPredicate, LLVMLinkage, LLVMRealPredicate, LLVMTypeKind};
use std::ffi::CString;

/// A value.
pub type V = LLVMValueRef;
/// A type.
pub type T = LLVMTypeRef;
/// A basic block.
pub type B = LLVMBasicBlockRef;

pub use inkwell::llvm_sys::LLVMIntPredicate as IntPred;
pub use inkwell::llvm_sys::LLVMRealPredicate as FloatPred;

/// The empty name: LLVM numbers unnamed values itself.
const NONAME: *const std::ffi::c_char = c"".as_ptr();

/// Instruction building in one module.
pub struct Emitter {
    pub ctx: LLVMContextRef,
    pub module: LLVMModuleRef,
    pub b: LLVMBuilderRef,
    /// Message strings made so far: one global per distinct text.
    pub strings: std::cell::RefCell<std::collections::HashMap<String, V>>,
}

impl Emitter {
    /// An emitter building with `builder` into `module`.
    pub fn new(
        ctx: &inkwell::context::Context,
        module: &inkwell::module::Module<'_>,
        builder: &inkwell::builder::Builder<'_>,
    ) -> Emitter {
        Emitter {
            ctx: ctx.raw(),
            module: module.as_mut_ptr(),
            b: builder.as_mut_ptr(),
            strings: Default::default(),
        }
    }
}

// All methods are thin wrappers: the raw handles come from inkwell objects
// that outlive the emitter (see `lower.rs`), and each call passes values
// built in the same context.
impl Emitter {
    // ----- types

    pub fn int_ty(&self, bits: u32) -> T {
        unsafe { LLVMIntTypeInContext(self.ctx, bits) }
    }
    pub fn i1(&self) -> T {
        self.int_ty(1)
    }
    pub fn i8(&self) -> T {
        self.int_ty(8)
    }
    pub fn i32(&self) -> T {
        self.int_ty(32)
    }
    pub fn i64(&self) -> T {
        self.int_ty(64)
    }
    pub fn f32(&self) -> T {
        unsafe { LLVMFloatTypeInContext(self.ctx) }
    }
    pub fn f16(&self) -> T {
        unsafe { LLVMHalfTypeInContext(self.ctx) }
    }
    pub fn f64(&self) -> T {
        unsafe { LLVMDoubleTypeInContext(self.ctx) }
    }
    pub fn ptr(&self) -> T {
        unsafe { LLVMPointerTypeInContext(self.ctx, 0) }
    }
    pub fn void(&self) -> T {
        unsafe { LLVMVoidTypeInContext(self.ctx) }
    }
    pub fn vec_ty(&self, elem: T, lanes: u32) -> T {
        unsafe { LLVMVectorType(elem, lanes) }
    }
    pub fn array_ty(&self, elem: T, n: u32) -> T {
        unsafe { LLVMArrayType2(elem, u64::from(n)) }
    }
    pub fn fn_ty(&self, params: &[T], ret: T) -> T {
        let mut p = params.to_vec();
        unsafe { LLVMFunctionType(ret, p.as_mut_ptr(), p.len() as u32, 0) }
    }
    pub fn type_of(&self, v: V) -> T {
        unsafe { LLVMTypeOf(v) }
    }
    /// The lane count of a vector type, `None` for a scalar.
    pub fn lanes_of(&self, t: T) -> Option<u32> {
        unsafe {
            (LLVMGetTypeKind(t) == LLVMTypeKind::LLVMVectorTypeKind).then(|| LLVMGetVectorSize(t))
        }
    }
    /// The element type of a vector type, or the type itself.
    pub fn scalar_of(&self, t: T) -> T {
        match self.lanes_of(t) {
            Some(_) => unsafe { LLVMGetElementType(t) },
            None => t,
        }
    }
    pub fn is_float_ty(&self, t: T) -> bool {
        let t = self.scalar_of(t);
        unsafe {
            matches!(
                LLVMGetTypeKind(t),
                LLVMTypeKind::LLVMFloatTypeKind | LLVMTypeKind::LLVMDoubleTypeKind
            )
        }
    }
    /// Bits of an integer (or integer vector's lane) type.
    pub fn int_bits(&self, t: T) -> u32 {
        unsafe { LLVMGetIntTypeWidth(self.scalar_of(t)) }
    }

    // ----- constants

    /// An integer constant of type `t` (a vector type: every lane), from the
    /// low bits of `v`.
    pub fn int(&self, t: T, v: i64) -> V {
        match self.lanes_of(t) {
            Some(n) => {
                let s = self.int(self.scalar_of(t), v);
                self.const_splat(s, n)
            }
            None => unsafe { LLVMConstInt(t, v as u64, 0) },
        }
    }
    pub fn i64c(&self, v: i64) -> V {
        self.int(self.i64(), v)
    }
    pub fn i32c(&self, v: i32) -> V {
        self.int(self.i32(), i64::from(v))
    }
    /// An `f32` constant with exactly these bits (a NaN's payload too),
    /// or a vector type's every lane.
    pub fn f32_bits(&self, t: T, v: f32) -> V {
        let it = match self.lanes_of(t) {
            Some(n) => self.vec_ty(self.i32(), n),
            None => self.i32(),
        };
        let bits = self.int(it, i64::from(v.to_bits() as i32));
        unsafe { LLVMConstBitCast(bits, t) }
    }
    /// An `f64` constant with exactly these bits.
    pub fn f64_bits(&self, v: f64) -> V {
        let bits = self.int(self.i64(), v.to_bits() as i64);
        unsafe { LLVMConstBitCast(bits, self.f64()) }
    }
    pub fn zero(&self, t: T) -> V {
        unsafe { LLVMConstNull(t) }
    }
    pub fn null_ptr(&self) -> V {
        unsafe { LLVMConstPointerNull(self.ptr()) }
    }
    fn const_splat(&self, s: V, n: u32) -> V {
        let mut lanes = vec![s; n as usize];
        unsafe { LLVMConstVector(lanes.as_mut_ptr(), n) }
    }
    /// A private constant string; returns a pointer to its first byte.
    pub fn string(&self, text: &str) -> V {
        if let Some(&g) = self.strings.borrow().get(text) {
            return g;
        }
        let g = unsafe {
            let init = LLVMConstStringInContext2(
                self.ctx,
                text.as_ptr().cast(),
                text.len(),
                1, // no terminating NUL: the length travels with it
            );
            let g = LLVMAddGlobal(self.module, LLVMTypeOf(init), c"pj.msg".as_ptr());
            LLVMSetInitializer(g, init);
            LLVMSetGlobalConstant(g, 1);
            LLVMSetLinkage(g, LLVMLinkage::LLVMPrivateLinkage);
            LLVMSetUnnamedAddress(g, inkwell::llvm_sys::LLVMUnnamedAddr::LLVMGlobalUnnamedAddr);
            g
        };
        self.strings.borrow_mut().insert(text.to_string(), g);
        g
    }

    // ----- arithmetic (scalars and vectors alike)

    pub fn add(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildAdd(self.b, a, b, NONAME) }
    }
    pub fn sub(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildSub(self.b, a, b, NONAME) }
    }
    pub fn mul(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildMul(self.b, a, b, NONAME) }
    }
    pub fn neg(&self, a: V) -> V {
        unsafe { LLVMBuildNeg(self.b, a, NONAME) }
    }
    pub fn sdiv(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildSDiv(self.b, a, b, NONAME) }
    }
    pub fn udiv(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildUDiv(self.b, a, b, NONAME) }
    }
    pub fn srem(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildSRem(self.b, a, b, NONAME) }
    }
    pub fn urem(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildURem(self.b, a, b, NONAME) }
    }
    pub fn and(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildAnd(self.b, a, b, NONAME) }
    }
    pub fn or(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildOr(self.b, a, b, NONAME) }
    }
    pub fn xor(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildXor(self.b, a, b, NONAME) }
    }
    pub fn shl(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildShl(self.b, a, b, NONAME) }
    }
    pub fn ashr(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildAShr(self.b, a, b, NONAME) }
    }
    pub fn lshr(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildLShr(self.b, a, b, NONAME) }
    }
    pub fn fadd(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildFAdd(self.b, a, b, NONAME) }
    }
    pub fn fsub(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildFSub(self.b, a, b, NONAME) }
    }
    pub fn fmul(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildFMul(self.b, a, b, NONAME) }
    }
    pub fn fdiv(&self, a: V, b: V) -> V {
        unsafe { LLVMBuildFDiv(self.b, a, b, NONAME) }
    }
    pub fn fneg(&self, a: V) -> V {
        unsafe { LLVMBuildFNeg(self.b, a, NONAME) }
    }
    pub fn icmp(&self, p: LLVMIntPredicate, a: V, b: V) -> V {
        unsafe { LLVMBuildICmp(self.b, p, a, b, NONAME) }
    }
    pub fn fcmp(&self, p: LLVMRealPredicate, a: V, b: V) -> V {
        unsafe { LLVMBuildFCmp(self.b, p, a, b, NONAME) }
    }
    pub fn select(&self, c: V, a: V, b: V) -> V {
        unsafe { LLVMBuildSelect(self.b, c, a, b, NONAME) }
    }

    // ----- conversions

    pub fn zext(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildZExt(self.b, v, t, NONAME) }
    }
    pub fn sext(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildSExt(self.b, v, t, NONAME) }
    }
    pub fn trunc(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildTrunc(self.b, v, t, NONAME) }
    }
    pub fn fpext(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildFPExt(self.b, v, t, NONAME) }
    }
    pub fn fptrunc(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildFPTrunc(self.b, v, t, NONAME) }
    }
    pub fn sitofp(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildSIToFP(self.b, v, t, NONAME) }
    }
    pub fn uitofp(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildUIToFP(self.b, v, t, NONAME) }
    }
    /// Float to signed integer, truncating; poison out of range: callers
    /// clamp first.
    pub fn fptosi(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildFPToSI(self.b, v, t, NONAME) }
    }
    pub fn bitcast(&self, v: V, t: T) -> V {
        unsafe { LLVMBuildBitCast(self.b, v, t, NONAME) }
    }
    /// An `i1` (or vector of them) as `0`/`1` in `i8`: how `bool` is held.
    pub fn bool_byte(&self, c: V) -> V {
        let t = match self.lanes_of(self.type_of(c)) {
            Some(n) => self.vec_ty(self.i8(), n),
            None => self.i8(),
        };
        self.zext(c, t)
    }
    /// A `bool` byte (or any integer) as `i1`: non-zero.
    pub fn truth(&self, v: V) -> V {
        let z = self.zero(self.type_of(v));
        self.icmp(IntPred::LLVMIntNE, v, z)
    }

    /// Field `i` of an aggregate (`{ i64, i1 }` of `llvm.*.with.overflow`).
    pub fn extract_value(&self, agg: V, i: u32) -> V {
        unsafe { LLVMBuildExtractValue(self.b, agg, i, NONAME) }
    }

    // ----- vectors

    pub fn extract(&self, v: V, lane: u32) -> V {
        unsafe { LLVMBuildExtractElement(self.b, v, self.i32c(lane as i32), NONAME) }
    }
    pub fn insert(&self, v: V, x: V, lane: u32) -> V {
        unsafe { LLVMBuildInsertElement(self.b, v, x, self.i32c(lane as i32), NONAME) }
    }
    /// `<0, 1, ..., n - 1>` in `i64` lanes.
    pub fn lane_steps(&self, n: u32) -> V {
        let mut v: Vec<V> = (0..n).map(|k| self.i64c(i64::from(k))).collect();
        unsafe { LLVMConstVector(v.as_mut_ptr(), n) }
    }

    /// `<n x i64>` addresses `p + i[k] * sizeof(t)` (a vector GEP).
    pub fn gep_lanes(&self, t: T, p: V, i: V) -> V {
        self.gep(t, p, i)
    }

    /// The number of parameters intrinsic `name` overloaded on `types`
    /// takes (LLVM versions differ: masked loads lost their alignment
    /// argument to an attribute).
    fn intrinsic_arity(&self, name: &str, types: &[T]) -> u32 {
        unsafe {
            let id = LLVMLookupIntrinsicID(name.as_ptr().cast(), name.len());
            assert!(id != 0, "LLVM has no intrinsic {name}");
            let mut ts = types.to_vec();
            let fty = LLVMIntrinsicGetType(self.ctx, id, ts.as_mut_ptr(), ts.len());
            LLVMCountParamTypes(fty)
        }
    }

    /// The lanes of `vt` at `p` where `mask` is set, zero elsewhere; masked
    /// lanes are never read (their addresses may be outside any array).
    pub fn masked_load(&self, vt: T, p: V, align: u32, mask: V) -> V {
        self.masked("llvm.masked.load", vt, p, align, mask)
    }

    /// The lanes at addresses `ptrs` where `mask` is set, zero elsewhere.
    pub fn masked_gather(&self, vt: T, ptrs: V, align: u32, mask: V) -> V {
        self.masked("llvm.masked.gather", vt, ptrs, align, mask)
    }

    /// Stores the lanes of `x` where `mask` is set at addresses `ptrs`,
    /// in lane order (a later lane wins where two addresses are one).
    pub fn masked_scatter(&self, x: V, ptrs: V, align: u32, mask: V) {
        let name = "llvm.masked.scatter";
        let types = [self.type_of(x), self.type_of(ptrs)];
        if self.intrinsic_arity(name, &types) == 4 {
            self.intrinsic(name, &types, &[x, ptrs, self.i32c(align as i32), mask]);
        } else {
            self.intrinsic(name, &types, &[x, ptrs, mask]);
        }
    }

    /// A mask of `lanes` lanes, every one set.
    pub fn all_lanes(&self, lanes: u32) -> V {
        let mut v: Vec<V> = (0..lanes).map(|_| self.int(self.i1(), 1)).collect();
        unsafe { LLVMConstVector(v.as_mut_ptr(), lanes) }
    }

    fn masked(&self, name: &str, vt: T, p: V, align: u32, mask: V) -> V {
        let types = [vt, self.type_of(p)];
        let zero = self.zero(vt);
        if self.intrinsic_arity(name, &types) == 4 {
            self.intrinsic(name, &types, &[p, self.i32c(align as i32), mask, zero])
        } else {
            self.intrinsic(name, &types, &[p, mask, zero])
        }
    }

    /// Lanes `mask[k]` of `a` and `b` side by side (`b`'s from `a`'s
    /// length on).
    pub fn shuffle(&self, a: V, b: V, mask: &[u32]) -> V {
        let mut m: Vec<V> = mask.iter().map(|&k| self.i32c(k as i32)).collect();
        unsafe {
            let mask = LLVMConstVector(m.as_mut_ptr(), m.len() as u32);
            LLVMBuildShuffleVector(self.b, a, b, mask, NONAME)
        }
    }

    /// Every lane `x`.
    pub fn splat(&self, x: V, lanes: u32) -> V {
        let t = self.vec_ty(self.type_of(x), lanes);
        let one = self.insert(unsafe { LLVMGetPoison(t) }, x, 0);
        let mask = self.zero(self.vec_ty(self.i32(), lanes));
        unsafe { LLVMBuildShuffleVector(self.b, one, LLVMGetPoison(t), mask, NONAME) }
    }

    // ----- memory

    pub fn load(&self, t: T, p: V, align: u32) -> V {
        unsafe {
            let l = LLVMBuildLoad2(self.b, t, p, NONAME);
            LLVMSetAlignment(l, align);
            l
        }
    }
    pub fn store(&self, v: V, p: V, align: u32) {
        unsafe {
            let s = LLVMBuildStore(self.b, v, p);
            LLVMSetAlignment(s, align);
        }
    }
    /// A store marked `!nontemporal` (write-combining, past the caches),
    /// at an address aligned to `align`.
    pub fn store_nontemporal(&self, v: V, p: V, align: u32) {
        unsafe {
            let s = LLVMBuildStore(self.b, v, p);
            LLVMSetAlignment(s, align);
            let kind = LLVMGetMDKindIDInContext(self.ctx, c"nontemporal".as_ptr(), 11);
            let one = LLVMValueAsMetadata(LLVMConstInt(LLVMInt32TypeInContext(self.ctx), 1, 0));
            let mut ops = [one];
            let node = LLVMMDNodeInContext2(self.ctx, ops.as_mut_ptr(), 1);
            LLVMSetMetadata(s, kind, LLVMMetadataAsValue(self.ctx, node));
        }
    }
    /// `p + i * sizeof(t)`.
    pub fn gep(&self, t: T, p: V, i: V) -> V {
        let mut idx = [i];
        unsafe { LLVMBuildGEP2(self.b, t, p, idx.as_mut_ptr(), 1, NONAME) }
    }
    /// `p + bytes`.
    pub fn byte_offset(&self, p: V, bytes: i64) -> V {
        self.gep(self.i8(), p, self.i64c(bytes))
    }
    pub fn alloca(&self, t: T, align: u32) -> V {
        unsafe {
            let a = LLVMBuildAlloca(self.b, t, NONAME);
            LLVMSetAlignment(a, align);
            a
        }
    }
    pub fn memset(&self, p: V, byte: V, n: V) {
        unsafe {
            LLVMBuildMemSet(self.b, p, byte, n, 1);
        }
    }
    pub fn ptr_to_int(&self, p: V) -> V {
        unsafe { LLVMBuildPtrToInt(self.b, p, self.i64(), NONAME) }
    }

    // ----- control flow

    pub fn block(&self, f: V, name: &str) -> B {
        let name = CString::new(name).expect("no NUL in block names");
        unsafe { LLVMAppendBasicBlockInContext(self.ctx, f, name.as_ptr()) }
    }
    pub fn at_end(&self, bb: B) {
        unsafe { LLVMPositionBuilderAtEnd(self.b, bb) }
    }
    pub fn current(&self) -> B {
        unsafe { LLVMGetInsertBlock(self.b) }
    }
    pub fn br(&self, to: B) {
        unsafe {
            LLVMBuildBr(self.b, to);
        }
    }
    pub fn cond_br(&self, c: V, yes: B, no: B) {
        unsafe {
            LLVMBuildCondBr(self.b, c, yes, no);
        }
    }
    pub fn ret(&self, v: V) {
        unsafe {
            LLVMBuildRet(self.b, v);
        }
    }
    pub fn phi(&self, t: T) -> V {
        unsafe { LLVMBuildPhi(self.b, t, NONAME) }
    }
    pub fn incoming(&self, phi: V, v: V, from: B) {
        let (mut vs, mut bs) = ([v], [from]);
        unsafe { LLVMAddIncoming(phi, vs.as_mut_ptr(), bs.as_mut_ptr(), 1) }
    }

    // ----- functions and calls

    pub fn add_function(&self, name: &str, ty: T, linkage: LLVMLinkage) -> V {
        let name = CString::new(name).expect("no NUL in symbol names");
        unsafe {
            let f = LLVMAddFunction(self.module, name.as_ptr(), ty);
            LLVMSetLinkage(f, linkage);
            f
        }
    }
    /// The name of function (or any global) `f`.
    pub fn name_of(&self, f: V) -> String {
        let mut len = 0usize;
        unsafe {
            let p = LLVMGetValueName2(f, &mut len);
            String::from_utf8_lossy(std::slice::from_raw_parts(p.cast::<u8>(), len)).into_owned()
        }
    }
    pub fn param(&self, f: V, i: u32) -> V {
        unsafe { LLVMGetParam(f, i) }
    }
    pub fn call(&self, fn_ty: T, f: V, args: &[V]) -> V {
        let mut a = args.to_vec();
        unsafe { LLVMBuildCall2(self.b, fn_ty, f, a.as_mut_ptr(), a.len() as u32, NONAME) }
    }
    /// A call of intrinsic `name` overloaded on `types` (`llvm.fma` on
    /// `[<4 x float>]`).
    pub fn intrinsic(&self, name: &str, types: &[T], args: &[V]) -> V {
        unsafe {
            let id = LLVMLookupIntrinsicID(name.as_ptr().cast(), name.len());
            assert!(id != 0, "LLVM has no intrinsic {name}");
            let mut ts = types.to_vec();
            let f = LLVMGetIntrinsicDeclaration(self.module, id, ts.as_mut_ptr(), ts.len());
            let fty = LLVMIntrinsicGetType(self.ctx, id, ts.as_mut_ptr(), ts.len());
            // a vector argument of another lane type but the same bits (the
            // x86 dot products took `<16 x i32>` for bytes before LLVM 21)
            let n = LLVMCountParamTypes(fty) as usize;
            let mut params: Vec<T> = vec![std::ptr::null_mut(); n];
            LLVMGetParamTypes(fty, params.as_mut_ptr());
            let args: Vec<V> = args
                .iter()
                .zip(
                    params
                        .iter()
                        .chain(std::iter::repeat(&std::ptr::null_mut())),
                )
                .map(|(&a, &p)| {
                    let at = self.type_of(a);
                    if !p.is_null()
                        && at != p
                        && self.lanes_of(at).is_some()
                        && self.lanes_of(p).is_some()
                    {
                        self.bitcast(a, p)
                    } else {
                        a
                    }
                })
                .collect();
            self.call(fty, f, &args)
        }
    }
    /// A string attribute (`"target-cpu"="znver5"`) on function `f`.
    pub fn fn_string_attr(&self, f: V, key: &str, value: &str) {
        unsafe {
            let a = LLVMCreateStringAttribute(
                self.ctx,
                key.as_ptr().cast(),
                key.len() as u32,
                value.as_ptr().cast(),
                value.len() as u32,
            );
            LLVMAddAttributeAtIndex(f, inkwell::llvm_sys::LLVMAttributeFunctionIndex, a);
        }
    }
    /// An enum attribute (`noalias`, `nounwind`) at `index` of `f`
    /// (`LLVMAttributeFunctionIndex`, `LLVMAttributeReturnIndex`, or a
    /// parameter's 1-based index).
    pub fn attr(&self, f: V, index: u32, name: &str) {
        unsafe {
            let kind = LLVMGetEnumAttributeKindForName(name.as_ptr().cast(), name.len());
            assert!(kind != 0, "LLVM has no attribute {name}");
            let a = LLVMCreateEnumAttribute(self.ctx, kind, 0);
            LLVMAddAttributeAtIndex(f, index, a);
        }
    }
    /// Marks a load as reading memory nothing writes while the function
    /// runs (`!invariant.load`): LLVM may then move and merge it freely.
    pub fn invariant(&self, load: V) {
        unsafe {
            let kind = LLVMGetMDKindIDInContext(self.ctx, c"invariant.load".as_ptr(), 14);
            let node = LLVMMDNodeInContext2(self.ctx, std::ptr::null_mut(), 0);
            LLVMSetMetadata(load, kind, LLVMMetadataAsValue(self.ctx, node));
        }
    }
}
