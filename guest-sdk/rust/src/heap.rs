//! The guest's heap: `malloc` and friends of the C library, replaced by an
//! allocator made for an instance that serves one call and is thrown away.
//!
//! Everything in a component allocates through the C library's `malloc`:
//! Rust's global allocator (`System`) calls it, and so does the C library
//! itself (the environment, stdio). wasi-libc's is dlmalloc, which coalesces
//! free chunks and keeps bins sorted so a long-running program does not
//! fragment; an instance that lives for one call gains nothing from that,
//! and pays for it on every allocation. Replacing the Rust global allocator
//! alone is not possible (the standard library's `cabi_realloc` allocates
//! what the host writes into the instance through it, and wasi-libc frees
//! some of those blocks with its own `free`), so this module defines the C
//! functions themselves, and the linker takes them instead of wasi-libc's
//! (which it then leaves out: defining every symbol of its `dlmalloc.o`
//! keeps that object from being linked at all, so there is never a second
//! heap).
//!
//! The rules:
//!
//! - A block is a 4-byte header (its total size) followed by the memory
//!   handed out, 16-byte aligned as C requires of `malloc`; total sizes are
//!   size classes: multiples of 16 bytes up to 1 KiB, then eight classes per
//!   power of two (at most 12.5% rounding).
//! - A block comes from its class's free list, else from the top of the heap
//!   (memory never used before, grown 64 KiB at a time with `memory.grow`).
//! - `free` puts a block on its class's free list, or gives it back to the
//!   top when it is the last block; `realloc` grows the last block in place,
//!   and keeps a block whose class already fits the new size. Blocks are
//!   never split or merged.
//! - The heap starts at the linker's `__heap_base`. Nothing else grows the
//!   memory (wasi-libc's `sbrk` has no other user); if something did, the
//!   heap would go on from the new end.
//!
//! So an allocation is a few dozen instructions, and memory freed during a
//! call is reused by later allocations of the same class; memory is never
//! given back to the host, which reclaims the instance's memory whole when
//! the call ends. Only `wasm32` builds use it; elsewhere (an integration's
//! native tests) the platform's allocator stays.

// The size classes are tested natively; only wasm32 allocates with them.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

/// What `malloc` aligns to: C's `max_align_t` on wasm32.
const ALIGN: usize = 16;
/// The header before each block's memory: its total size, a `u32`.
const HEADER: usize = 4;
/// Class sizes up to this are multiples of [`ALIGN`].
const SMALL_MAX: usize = 1024;
/// Classes of multiples of [`ALIGN`].
const SMALL_CLASSES: usize = SMALL_MAX / ALIGN;
/// Classes per power of two above [`SMALL_MAX`].
const SPLITS: usize = 8;
/// Powers of two above [`SMALL_MAX`] a class can be in (up to 4 GiB).
const OCTAVES: usize = 32 - 10;
/// Free lists: one per class.
const CLASSES: usize = SMALL_CLASSES + OCTAVES * SPLITS;
/// The largest block: a wasm32 memory is at most 4 GiB.
const MAX_TOTAL: usize = 1 << 31;
/// A wasm page.
const PAGE: usize = 65536;

/// The class of a block holding `size` bytes, and its total size; `None`
/// when no block can be that large.
#[inline]
fn class_of(size: usize) -> Option<(usize, usize)> {
    let need = size.checked_add(HEADER)?;
    if need <= SMALL_MAX {
        let total = (need + ALIGN - 1) & !(ALIGN - 1);
        return Some((total / ALIGN - 1, total));
    }
    if need > MAX_TOTAL {
        return None;
    }
    // need is in (2^octave, 2^(octave+1)]; classes split that range in
    // SPLITS steps of 2^octave / SPLITS.
    let octave = (usize::BITS - 1 - (need - 1).leading_zeros()) as usize;
    let step = 1usize << (octave - SPLITS.trailing_zeros() as usize);
    let split = (need - (1 << octave)).div_ceil(step);
    let total = (1 << octave) + split * step;
    Some((SMALL_CLASSES + (octave - 10) * SPLITS + split - 1, total))
}

/// The largest class whose blocks fit in `total` bytes (a block's total
/// is always one class's size, except the rare over-aligned one).
#[inline]
fn class_within(total: usize) -> usize {
    match class_of(total - HEADER) {
        Some((class, size)) if size == total => class,
        Some((class, _)) => class - 1,
        None => CLASSES - 1,
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use core::arch::wasm32;
    use core::cell::UnsafeCell;
    use core::ffi::c_void;
    use core::ptr;

    use super::*;

    struct Heap {
        /// Where the next block's header goes (`HEADER` below an aligned
        /// address), 0 before the first allocation.
        top: usize,
        /// The end of the memory the heap owns.
        end: usize,
        /// The highest `top` so far: the memory above it has never been
        /// written since the instance started, so it is zero.
        fresh: usize,
        /// The first free block of each class (its memory's address), 0 for none.
        free: [usize; CLASSES],
    }

    /// The heap of this instance. A wasm32 component has one thread.
    struct Single(UnsafeCell<Heap>);
    // SAFETY: wasm32 guests run on one thread; nothing shares the heap.
    unsafe impl Sync for Single {}

    static HEAP: Single = Single(UnsafeCell::new(Heap { top: 0, end: 0, fresh: 0, free: [0; CLASSES] }));

    unsafe extern "C" {
        /// Where the linker put the end of the data and stack: the heap's start.
        static __heap_base: u8;
    }

    #[inline]
    unsafe fn header(memory: usize) -> usize {
        // SAFETY: every block's memory has its header just before it.
        unsafe { ptr::read((memory - HEADER) as *const u32) as usize }
    }

    #[inline]
    unsafe fn set_header(memory: usize, total: usize) {
        // SAFETY: as `header`.
        unsafe { ptr::write((memory - HEADER) as *mut u32, total as u32) }
    }

    impl Heap {
        /// Makes `top + total` part of the heap; false when memory cannot grow.
        fn reserve(&mut self, total: usize) -> bool {
            if self.top == 0 {
                let base = ptr::addr_of!(__heap_base) as usize;
                self.top = ((base + HEADER + ALIGN - 1) & !(ALIGN - 1)) - HEADER;
                self.fresh = self.top;
                self.end = wasm32::memory_size(0) * PAGE;
            }
            let Some(wanted) = self.top.checked_add(total) else { return false };
            if wanted <= self.end {
                return true;
            }
            let pages = (wanted - self.end).div_ceil(PAGE).max(1);
            let old = wasm32::memory_grow(0, pages);
            if old == usize::MAX {
                return false;
            }
            if old * PAGE != self.end {
                // Something else grew the memory: go on from its new end.
                self.top = old * PAGE + ALIGN - HEADER;
                self.fresh = self.top;
                self.end = (old + pages) * PAGE;
                return self.reserve(total);
            }
            self.end = (old + pages) * PAGE;
            true
        }

        fn malloc(&mut self, size: usize) -> *mut c_void {
            let Some((class, total)) = class_of(size) else { return ptr::null_mut() };
            let head = self.free[class];
            if head != 0 {
                // SAFETY: a free block's memory starts with the next free block's address.
                self.free[class] = unsafe { ptr::read(head as *const usize) };
                return head as *mut c_void;
            }
            if !self.reserve(total) {
                return ptr::null_mut();
            }
            let memory = self.top + HEADER;
            // SAFETY: `reserve` made `top..top + total` part of the heap.
            unsafe { set_header(memory, total) };
            self.top += total;
            self.fresh = self.fresh.max(self.top);
            memory as *mut c_void
        }

        unsafe fn free(&mut self, memory: usize) {
            // SAFETY: `memory` was handed out by this heap.
            let total = unsafe { header(memory) };
            if memory - HEADER + total == self.top {
                self.top -= total;
                return;
            }
            let class = class_within(total);
            // SAFETY: the block is free; its memory holds the list's link.
            unsafe { ptr::write(memory as *mut usize, self.free[class]) };
            self.free[class] = memory;
        }

        unsafe fn realloc(&mut self, memory: usize, size: usize) -> *mut c_void {
            let Some((_, total)) = class_of(size) else { return ptr::null_mut() };
            // SAFETY: `memory` was handed out by this heap.
            let old = unsafe { header(memory) };
            let start = memory - HEADER;
            if start + old == self.top {
                // The last block grows or shrinks in place, when the memory
                // after it can be the heap's.
                self.top = start;
                let reserved = self.reserve(total);
                if reserved && self.top == start {
                    self.top += total;
                    self.fresh = self.fresh.max(self.top);
                    // SAFETY: the block is `total` bytes now.
                    unsafe { set_header(memory, total) };
                    return memory as *mut c_void;
                }
                if self.top == start {
                    self.top = start + old;
                }
            } else if total <= old {
                return memory as *mut c_void;
            }
            let moved = self.malloc(size);
            if !moved.is_null() {
                // SAFETY: both blocks hold at least `min(old, total) - HEADER`
                // bytes and do not overlap.
                unsafe {
                    ptr::copy_nonoverlapping(memory as *const u8, moved as *mut u8, old.min(total) - HEADER);
                    self.free(memory);
                }
            }
            moved
        }

        fn aligned(&mut self, align: usize, size: usize) -> *mut c_void {
            if align <= ALIGN {
                return self.malloc(size);
            }
            if !align.is_power_of_two() {
                return ptr::null_mut();
            }
            // A block with room to move its start to `align`; the bytes
            // skipped are not used again.
            let Some(padded) = size.checked_add(align) else { return ptr::null_mut() };
            let block = self.malloc(padded) as usize;
            if block == 0 {
                return ptr::null_mut();
            }
            let aligned = (block + align - 1) & !(align - 1);
            if aligned != block {
                // SAFETY: `aligned - HEADER` is inside the block.
                unsafe { set_header(aligned, header(block) - (aligned - block)) };
            }
            aligned as *mut c_void
        }
    }

    fn heap() -> &'static mut Heap {
        // SAFETY: one thread, and no function here calls another while it
        // holds the reference.
        unsafe { &mut *HEAP.0.get() }
    }

    #[unsafe(no_mangle)]
    extern "C" fn malloc(size: usize) -> *mut c_void {
        heap().malloc(size)
    }

    #[unsafe(no_mangle)]
    extern "C" fn __libc_malloc(size: usize) -> *mut c_void {
        heap().malloc(size)
    }

    #[unsafe(no_mangle)]
    unsafe extern "C" fn free(memory: *mut c_void) {
        if !memory.is_null() {
            // SAFETY: C's contract: `memory` came from this heap and is freed once.
            unsafe { heap().free(memory as usize) }
        }
    }

    #[unsafe(no_mangle)]
    unsafe extern "C" fn __libc_free(memory: *mut c_void) {
        // SAFETY: as `free`.
        unsafe { free(memory) }
    }

    #[unsafe(no_mangle)]
    extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
        let Some(bytes) = count.checked_mul(size) else { return ptr::null_mut() };
        let heap = heap();
        let clean_from = heap.fresh;
        let memory = heap.malloc(bytes);
        if !memory.is_null() {
            // Only what lies below the old high mark can have been written:
            // a reused block, or the top after a free.
            let dirty = clean_from.saturating_sub(memory as usize).min(bytes);
            // SAFETY: the block holds `bytes` bytes.
            unsafe { ptr::write_bytes(memory as *mut u8, 0, dirty) };
        }
        memory
    }

    #[unsafe(no_mangle)]
    extern "C" fn __libc_calloc(count: usize, size: usize) -> *mut c_void {
        calloc(count, size)
    }

    #[unsafe(no_mangle)]
    unsafe extern "C" fn realloc(memory: *mut c_void, size: usize) -> *mut c_void {
        if memory.is_null() {
            return heap().malloc(size);
        }
        // SAFETY: C's contract: `memory` came from this heap.
        unsafe { heap().realloc(memory as usize, size) }
    }

    #[unsafe(no_mangle)]
    extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
        heap().aligned(align, size)
    }

    #[unsafe(no_mangle)]
    unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> i32 {
        const EINVAL: i32 = 28;
        const ENOMEM: i32 = 48;
        if align < size_of::<usize>() || !align.is_power_of_two() {
            return EINVAL;
        }
        let memory = heap().aligned(align, size);
        if memory.is_null() {
            return ENOMEM;
        }
        // SAFETY: C's contract: `out` is writable.
        unsafe { ptr::write(out, memory) };
        0
    }

    #[unsafe(no_mangle)]
    unsafe extern "C" fn malloc_usable_size(memory: *mut c_void) -> usize {
        if memory.is_null() {
            return 0;
        }
        // SAFETY: C's contract: `memory` came from this heap.
        unsafe { header(memory as usize) - HEADER }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_has_an_aligned_class_at_most_an_eighth_too_large() {
        let mut last = class_of(0).unwrap();
        for size in (0..70_000).chain([(1 << 20) - 1, 1 << 20, (1 << 30) + 1, MAX_TOTAL - HEADER]) {
            let (class, total) = class_of(size).unwrap();
            let need = size + HEADER;
            assert!(total >= need, "{size}");
            assert_eq!(total % ALIGN, 0, "{size}");
            assert!(need <= SMALL_MAX || total - need <= need / SPLITS, "{size}: {total}");
            assert!(class < CLASSES, "{size}");
            // Classes grow with the size, and a class has one total.
            assert!(class >= last.0, "{size}");
            if class == last.0 {
                assert_eq!(total, last.1, "{size}");
            }
            last = (class, total);
            // A block of a class goes back on that class's list.
            assert_eq!(class_within(total), class, "{size}");
        }
        assert_eq!(class_of(MAX_TOTAL), None);
        assert_eq!(class_of(usize::MAX), None);
    }

    #[test]
    fn a_block_between_classes_goes_on_the_list_of_the_class_below() {
        // Over-aligned blocks lose their first bytes: any total of 20 bytes
        // or more serves the largest class it holds.
        for total in (20..5000).step_by(4) {
            let class = class_within(total);
            let (_, size) = class_of(class_size_payload(class)).unwrap();
            assert!(size <= total, "{total}");
            let (_, next) = class_of(class_size_payload(class + 1)).unwrap();
            assert!(next > total, "{total}");
        }
    }

    /// The largest payload of `class`.
    fn class_size_payload(class: usize) -> usize {
        (0..).find(|&size| class_of(size).unwrap().0 > class).unwrap() - 1
    }
}
