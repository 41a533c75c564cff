//! Counts heap allocations made by one thread, so the report can say how many a verification
//! costs. The harness runs on the system allocator with this counter in front of it; the
//! functions being measured are separate processes and never see it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting each allocation (and reallocation) on the calling thread.
pub struct CountingAllocator;

thread_local! {
    // `const` and `Cell<u64>`: no lazy initialisation and no destructor, so the allocator can
    // touch it at any point of a thread's life without allocating itself.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with` fails only while the thread is being torn down; such an allocation is not ours.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s contract;
// the counter neither allocates nor touches the memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations per call of `operation`, averaged over `calls` calls on this thread.
pub fn per_call(calls: u32, operation: &mut dyn FnMut()) -> f64 {
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..calls {
        operation();
    }
    let after = ALLOCATIONS.with(Cell::get);
    (after - before) as f64 / f64::from(calls.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_an_operation_allocates_and_nothing_else() {
        assert_eq!(per_call(100, &mut || {}), 0.0);
        let mut two_boxes = || {
            std::hint::black_box((Box::new(1u64), Box::new(2u64)));
        };
        assert_eq!(per_call(100, &mut two_boxes), 2.0);
    }
}
