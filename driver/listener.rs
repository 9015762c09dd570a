// SPDX-License-Identifier: GPL-2.0

//! The listener interface: other modules register a callback, with their owning module, that
//! runs on every edu interrupt event (in hard-IRQ context, with the raised status bits).
//!
//! Dispatch follows the rule of Rusty Russell's "Writing Modules and the Interfaces To Be Used By
//! Them", in one of two ways chosen by the `listener_guard` module parameter:
//!
//! * `0`, module: the owner is pinned with `try_module_get` around each call and a module on its
//!   way out is skipped as if it had never registered ([`Slot`]: the per-CPU [`CpuGate`] plus
//!   [`ModuleOwner`] as the owner). While a call holds the reference, `rmmod` of the owner fails
//!   with `EAGAIN`.
//! * `1`, rcu (the default): the rule's Exception #1, made sound with RCU. Calls run in hard-IRQ
//!   context, with interrupts off, which RCU treats as a read-side critical section: the call
//!   runs inside that section (no `rcu_read_lock()` of its own, [`IrqContext`] proves it), and
//!   only if the owner is live (`module_is_live`); unregister waits for an expedited grace
//!   period ([`DomainSlot`] over [`Rcu`]). A module's exit runs after its state became `GOING` and
//!   unregisters before it returns, so every call that saw it live has returned by then, and
//!   none starts later. No reference is taken, so `rmmod` is never refused because of a call.
//!
//! The protocols are `callback-core/src/dispatch.rs`, included verbatim: the VFIO rig and the
//! host benchmarks run the very same code, and loom checks it. What is kernel specific lives
//! here: [`ModuleOwner`] (both owners), [`CpuGate`] (per-CPU counters, the scalable gate),
//! [`Rcu`] (the kernel's RCU as a read domain) and the C entry points exported by
//! `edu_export.c`.

// Shared with userspace (crate `callback-core`), where every item is public API.
#[allow(unreachable_pub, dead_code, missing_docs)]
#[path = "../callback-core/src/dispatch.rs"]
pub(crate) mod dispatch;

/// The atomics and the cell `dispatch.rs` takes from its sibling `atomics`, on the kernel's
/// atomics (the Linux kernel memory model); userspace has the same shape on std's, and on loom's
/// under `cfg(loom)` (`callback-core`'s `atomics.rs`), so the one protocol file is what the model
/// checker verifies and what runs here.
///
/// Why the mapping is sound: `dispatch.rs` is written against the C++/Rust model and asks for
/// three orderings only, each of which the kernel's atomics give as strongly.
///
/// * `load_acquire` is `Atomic::load(Acquire)` (`smp_load_acquire`) and `store_release` is
///   `Atomic::store(Release)` (`smp_store_release`): in the LKMM a release store read by an
///   acquire load orders everything before the store before everything after the load, which is
///   the C++ synchronizes-with edge the protocol's arguments use (publish the registration cell,
///   hand the slot from one generation to the next). Both are single-copy atomic on a `usize`.
/// * `cmpxchg_acquire` on success is `cmpxchg(.., Acquire)` (`atomic_long_cmpxchg_acquire`):
///   an acquire RMW, as in C++. A failed cmpxchg is unordered in the kernel, where std's
///   `compare_exchange` may be told to acquire on failure; so on failure this one reads the
///   value again with acquire and returns that. The protocol only uses a failure to learn that
///   the slot was not in the expected state at the cmpxchg: a later value read with acquire
///   tells it the same (coherence: the state never returns to a value it left without a new
///   acquire CAS) and orders what follows after it.
/// * `RaceCell` is a plain `UnsafeCell`: the protocol only reads and writes it when those
///   orderings put every conflicting access in happens-before order (the loom tests check that
///   claim on the same file), and plain accesses ordered that way are race free in the LKMM too.
///
/// Nothing here is SeqCst: the protocol's store-buffering (the gate) is the gate's business, and
/// [`CpuGate`] argues it with `Full` and `smp_mb()`.
mod atomics {
    use kernel::sync::atomic::{
        Acquire,
        Atomic,
        Release, //
    };

    /// A `usize` with the three operations of the slot state machine.
    pub(crate) struct AtomicUsize(Atomic<usize>);

    impl AtomicUsize {
        /// A new atomic holding `v`.
        pub(crate) const fn new(v: usize) -> Self {
            Self(Atomic::new(v))
        }

        /// Load-acquire.
        pub(crate) fn load_acquire(&self) -> usize {
            self.0.load(Acquire)
        }

        /// Store-release.
        pub(crate) fn store_release(&self, v: usize) {
            self.0.store(v, Release)
        }

        /// Compare-and-exchange, acquire on success; on failure the value read again with
        /// acquire.
        pub(crate) fn cmpxchg_acquire(&self, old: usize, new: usize) -> Result<usize, usize> {
            self.0
                .cmpxchg(old, new, Acquire)
                .map_err(|_| self.0.load(Acquire))
        }
    }

    /// Data handed from thread to thread by the protocol (the registration), with plain
    /// accesses.
    pub(crate) struct RaceCell<T>(core::cell::UnsafeCell<T>);

    impl<T: Copy> RaceCell<T> {
        /// A new cell holding `v`.
        pub(crate) const fn new(v: T) -> Self {
            Self(core::cell::UnsafeCell::new(v))
        }

        /// Reads the value.
        ///
        /// # Safety
        ///
        /// No write to the cell may race with this read.
        pub(crate) unsafe fn read(&self) -> T {
            // SAFETY: No racing write, by the function's safety requirements.
            unsafe { *self.0.get() }
        }

        /// Writes `v`.
        ///
        /// # Safety
        ///
        /// No other access to the cell may race with this write.
        pub(crate) unsafe fn write(&self, v: T) {
            // SAFETY: No racing access, by the function's safety requirements.
            unsafe { *self.0.get() = v }
        }
    }
}

use crate::cshim::{
    self,
    IrqContext, //
};
pub(crate) use dispatch::{
    DomainSlot,
    Gate,
    Liveness,
    Owner,
    ReadDomain,
    Slot,
    UnregisterError,
    WouldDeadlock, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Full,
            Relaxed,
            Release, //
        },
        barrier::smp_mb,
        rcu,
    },
    task::might_sleep,
    time::{
        delay::fsleep,
        Delta, //
    }, //
};

/// How many listeners can be registered at once.
pub(crate) const MAX_LISTENERS: usize = 4;

/// A module as an owner: `try_module_get`/`module_put` for a [`Slot`], `module_is_live` for a
/// [`DomainSlot`] over [`Rcu`].
///
/// # Invariants
///
/// While a slot holding this owner is active, `module` is a module that has not finished its
/// exit (the registering module unregisters before its exit returns).
pub(crate) struct ModuleOwner {
    module: Atomic<*mut bindings::module>,
}

impl ModuleOwner {
    /// An owner with no module yet; [`ModuleOwner::set`] gives it one.
    pub(crate) const fn new() -> Self {
        Self {
            module: Atomic::new(core::ptr::null_mut()),
        }
    }

    /// Makes `module` the owner. It must stay loaded while a slot holds this owner.
    pub(crate) fn set(&self, module: *mut bindings::module) {
        self.module.store(module, Relaxed);
    }
}

// SAFETY: `try_module_get` takes a reference that keeps the module's code and data alive until
// `module_put`, and fails once the module is going; `module_put` balances it.
unsafe impl Owner for ModuleOwner {
    fn try_get(&self) -> bool {
        // SAFETY: By the type invariant the module has not finished exiting.
        unsafe { bindings::try_module_get(self.module.load(Relaxed)) }
    }

    fn put(&self) {
        // SAFETY: Balances a successful `try_get`.
        unsafe { bindings::module_put(self.module.load(Relaxed)) }
    }
}

// SAFETY: A module is made not live (`MODULE_STATE_GOING`, stored by `delete_module` before the
// exit function runs) before anything it protects goes away; its exit unregisters, and
// unregistering a `DomainSlot<Rcu, ..>` waits for an RCU grace period, which ends every
// critical section that saw it live. Its code is freed after a further `synchronize_rcu()` in
// `free_module`. A module whose init fails goes `GOING` the same way before it is freed.
unsafe impl Liveness for ModuleOwner {
    #[inline]
    fn is_live(&self) -> bool {
        #[cfg(edu_guard_break)]
        if broken(GuardBreak::IgnoreLive) {
            return true;
        }
        module_is_live(self.module.load(Relaxed))
    }
}

/// `module_is_live()` of `<linux/module.h>`: `mod->state != MODULE_STATE_GOING`.
///
/// It is a `static inline`, so bindgen has no function for it, and a C helper would be an
/// out-of-line call on the dispatch fast path (this build cannot inline C helpers into Rust:
/// `RUST_INLINE_HELPERS` needs rustc's LLVM to match clang's). So it reads the field here. The
/// module loader writes `state` with plain C stores while a dispatcher on another CPU reads it
/// (that is the point of the check); a plain Rust read racing with a write is a data race, so
/// the read is volatile: `READ_ONCE()`, which the LKMM allows to race with a plain store of an
/// aligned `int` (single-copy atomic on every architecture Linux supports).
///
/// `module` must point to a module that has not been freed.
#[inline]
fn module_is_live(module: *mut bindings::module) -> bool {
    // SAFETY: `module` points to a module that has not been freed (the caller's requirement:
    // the owner invariant, and the RCU read-side section its dispatcher runs in); `state` is an
    // aligned `c_uint`, read with one volatile load (see above).
    let state = unsafe { core::ptr::read_volatile(&raw const (*module).state) };
    state != bindings::module_state_MODULE_STATE_GOING
}

/// The kernel's RCU as a [`ReadDomain`]: read-side sections are `rcu_read_lock()` /
/// `rcu_read_unlock()` (the kernel crate's guard), a grace period is
/// `synchronize_rcu_expedited()` (so `rmmod` does not wait for a normal grace period, several
/// milliseconds, per listener).
pub(crate) struct Rcu;

// SAFETY: (1) `read` runs `f` once between `rcu_read_lock()` and `rcu_read_unlock()` (the guard
// is dropped after `f` returns; the kernel does not unwind). (2) `synchronize_rcu_expedited()`
// waits for every RCU read-side critical section that began before it, with full ordering
// (RCU's grace-period guarantee), so every section has ended or observes what happened before
// the call. (3) It returns `WouldDeadlock` only in interrupt context: since RCU's flavours were
// consolidated every region with interrupts or preemption disabled is a read-side critical
// section, and hard and soft IRQ handlers (where the listener callbacks run) are such regions.
unsafe impl ReadDomain for Rcu {
    #[inline]
    fn read<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = rcu::read_lock();
        f()
    }

    fn synchronize(&self) -> Result<(), WouldDeadlock> {
        if cshim::in_interrupt() {
            return Err(WouldDeadlock);
        }
        might_sleep();
        #[cfg(edu_guard_break)]
        if broken(GuardBreak::NoGracePeriod) {
            return Ok(());
        }
        // SAFETY: Process context (checked above; `might_sleep()` reports any other atomic
        // context), where waiting for a grace period is allowed.
        unsafe { bindings::synchronize_rcu_expedited() };
        Ok(())
    }
}

/// The listener guard, the `listener_guard` module parameter.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// `try_module_get`/`module_put` around each call, behind the per-CPU gate.
    Module,
    /// An RCU read-side section and `module_is_live` around each call.
    Rcu,
}

/// The largest valid `listener_guard`: 1, or 3 in the positive controls' build.
pub(crate) const MAX_GUARD: u32 = if cfg!(edu_guard_break) { 3 } else { 1 };

/// The guard selected at load time (the parameter is read-only).
pub(crate) fn guard() -> Guard {
    match crate::module_parameters::listener_guard.value() {
        0 => Guard::Module,
        _ => Guard::Rcu,
    }
}

/// The deliberate bugs of the positive controls' build (`EDU_GUARD_BREAK=y`, never shipped):
/// `listener_guard=2` is RCU without the grace period (a use-after-free of the client's
/// per-registration context), `3` is RCU that ignores `module_is_live` (calls into a module
/// whose exit began).
#[cfg(edu_guard_break)]
#[derive(Clone, Copy, PartialEq, Eq)]
enum GuardBreak {
    NoGracePeriod = 2,
    IgnoreLive = 3,
}

#[cfg(edu_guard_break)]
fn broken(b: GuardBreak) -> bool {
    crate::module_parameters::listener_guard.value() == b as u32
}

const SHARDS: usize = 16;

/// One counter on its own cache line.
#[repr(align(64))]
struct Shard(Atomic<isize>);

/// A gate of per-CPU counters in the spirit of `percpu_ref`: a get increments the counter of the
/// CPU it runs on and then checks `dead`; revocation sets `dead`; drained means the counters sum
/// to zero. A task may migrate between get and put, so single counters can go negative; only
/// the sum means anything.
///
/// # Ordering (Linux kernel memory model)
///
/// Get and revoke form the store-buffering pattern: the getter writes its counter and then
/// reads `dead`, the revoker writes `dead` and then reads the counters. The increment is a fully
/// ordered RMW (`Full`: `smp_mb()` before and after it), and `revoke` issues `smp_mb()` between
/// its store and every later read of the counters; with a full barrier on both sides the LKMM
/// forbids both sides reading the old value, so either the getter sees `dead` or the revoker
/// sees the increment. Acquire loads alone would not do: they do not order an earlier store
/// against a later load (arm64's `ldapr`, riscv's `ld; fence r,rw`). The put is a release and
/// the counters are read with acquire, so the call a put ends happens before `drained()` sees the
/// counters sum to zero.
///
/// # Invariants
///
/// The sum of the counters is the number of successful gets not yet put.
pub(crate) struct CpuGate {
    dead: Atomic<bool>,
    shards: [Shard; SHARDS],
}

impl CpuGate {
    /// An open gate with no references.
    pub(crate) const fn new() -> Self {
        Self {
            dead: Atomic::new(false),
            shards: [const { Shard(Atomic::new(0)) }; SHARDS],
        }
    }

    fn shard(&self) -> &Atomic<isize> {
        // SAFETY: Always safe to call; the value is only a hint of where to count.
        let cpu = unsafe { bindings::raw_smp_processor_id() } as usize;
        &self.shards[cpu % SHARDS].0
    }
}

// SAFETY: See the type's documentation: a fully ordered increment before the check of `dead`,
// against a store of `dead` followed by `smp_mb()` before the sum, gives the Gate guarantees;
// `put` is a release, `drained` sums with acquire.
unsafe impl Owner for CpuGate {
    fn try_get(&self) -> bool {
        let shard = self.shard();
        shard.fetch_add(1, Full);
        if self.dead.load(Relaxed) {
            shard.fetch_sub(1, Release);
            return false;
        }
        true
    }

    fn put(&self) {
        self.shard().fetch_sub(1, Release);
    }
}

// SAFETY: Only the owning slot calls these (the gate is a private field of `Slot`).
unsafe impl Gate for CpuGate {
    fn revoke(&self) {
        self.dead.store(true, Relaxed);
        // Orders the store before every later read of the counters (see the type's docs).
        smp_mb(Full);
    }

    fn drained(&self) -> bool {
        self.shards.iter().map(|s| s.0.load(Acquire)).sum::<isize>() == 0
    }

    fn reinstate(&self) {
        self.dead.store(false, Release);
    }
}

/// A C listener: function and context, written while its slot is reserved.
pub(crate) struct Listener {
    func: Atomic<*mut c_void>,
    ctx: Atomic<*mut c_void>,
}

/// The C callback type: `void (*)(void *ctx, u32 status)`.
pub(crate) type CFunc = unsafe extern "C" fn(*mut c_void, u32);

impl Listener {
    const fn new() -> Self {
        Self {
            func: Atomic::new(core::ptr::null_mut()),
            ctx: Atomic::new(core::ptr::null_mut()),
        }
    }
}

fn call_listener(l: &'static Listener, status: u32) {
    let func = l.func.load(Relaxed);
    // SAFETY: `func` was stored from a non-null `CFunc` before the slot was activated (the
    // activation's release publishes it), and the owner reference keeps its module alive.
    let func = unsafe { core::mem::transmute::<*mut c_void, CFunc>(func) };
    // SAFETY: Calling the registered callback with its own context, as registered.
    unsafe { func(l.ctx.load(Relaxed), status) };
}

type ListenerSlot = Slot<CpuGate, ModuleOwner, Listener>;
type RcuSlot = DomainSlot<'static, Rcu, ModuleOwner, Listener>;

/// The slots of `listener_guard=0`.
static SLOTS: [ListenerSlot; MAX_LISTENERS] = [const { Slot::new(CpuGate::new()) }; MAX_LISTENERS];
/// The slots of `listener_guard=1`. Only the selected guard's slots are ever registered.
static RCU_SLOTS: [RcuSlot; MAX_LISTENERS] = [const { DomainSlot::new(&Rcu) }; MAX_LISTENERS];
/// Which listener indices are taken (by either guard's slot): the holder alone writes
/// `LISTENERS[i]` and `OWNERS[i]` before registering, and clears this after unregistering.
static CLAIMED: [Atomic<bool>; MAX_LISTENERS] = [const { Atomic::new(false) }; MAX_LISTENERS];
static OWNERS: [ModuleOwner; MAX_LISTENERS] = [const { ModuleOwner::new() }; MAX_LISTENERS];
static LISTENERS: [Listener; MAX_LISTENERS] = [const { Listener::new() }; MAX_LISTENERS];
/// Registrations so far, per slot: a handle carries the generation of its registration, so a
/// stale or doubled unregister finds a newer generation and is refused.
static GENERATIONS: [Atomic<u32>; MAX_LISTENERS] = [const { Atomic::new(0) }; MAX_LISTENERS];

/// Bits of a handle that name the slot; the generation is above them.
const SLOT_BITS: u32 = 8;
/// Generations wrap within what keeps a handle a positive `int`.
const GENERATION_MASK: u32 = (1 << (31 - SLOT_BITS)) - 1;

/// Calls every registered listener with `status`, from the device's interrupt handler.
pub(crate) fn dispatch(_irq: &IrqContext, status: u32) {
    // An empty slot costs one load. The protocol itself runs only for a slot that looks active;
    // one that is being activated right now is simply not registered yet. `NotRegistered` is
    // the normal answer for a module on its way out.
    match guard() {
        Guard::Module => {
            for slot in &SLOTS {
                if slot.is_active() {
                    let _ = slot.dispatch(status);
                }
            }
        }
        Guard::Rcu => {
            for slot in &RCU_SLOTS {
                if slot.is_active() {
                    // SAFETY: `_irq` proves this CPU is in an RCU read-side critical section
                    // until the handler returns, so no `rcu_read_lock()` of its own is needed.
                    let _ = unsafe { slot.dispatch_in_section(status) };
                }
            }
        }
    }
}

/// Registers `func(ctx, status)` to run on every edu interrupt event, owned by `owner`.
///
/// Returns a handle (>= 0) for [`edu_listener_unregister`], `-EINVAL` for a null function or
/// owner, `-EBUSY` when all slots are taken. The callback runs in hard-IRQ context and must not
/// sleep. The owner must call [`edu_listener_unregister`] before its exit returns.
///
/// `owner` is trusted to be the caller's own `THIS_MODULE`: this is a C entry point, and C has
/// no way to prove it.
#[no_mangle]
pub(crate) extern "C" fn edu_listener_register(
    func: Option<CFunc>,
    ctx: *mut c_void,
    owner: *mut bindings::module,
) -> c_int {
    let Some(func) = func else {
        return EINVAL.to_errno();
    };
    if owner.is_null() {
        return EINVAL.to_errno();
    }
    for (i, claimed) in CLAIMED.iter().enumerate() {
        // Acquire: pairs with the Release in `edu_listener_unregister`, so the previous holder's
        // unregistration (and every call it waited for) happens before our writes below.
        if claimed.cmpxchg(false, true, Acquire).is_err() {
            continue;
        }
        // Nobody reads these until the registration below publishes them (with Release).
        LISTENERS[i].func.store(func as *mut c_void, Relaxed);
        LISTENERS[i].ctx.store(ctx, Relaxed);
        OWNERS[i].module.store(owner, Relaxed);
        // The index is ours until it is unregistered, so nobody else moves its generation now.
        let generation = GENERATIONS[i].load(Relaxed) & GENERATION_MASK;
        // Cannot be `Busy`: a slot is empty whenever its index is not claimed.
        let registered = match guard() {
            Guard::Module => SLOTS[i].register(call_listener, &LISTENERS[i], &OWNERS[i]),
            Guard::Rcu => RCU_SLOTS[i].register(call_listener, &LISTENERS[i], &OWNERS[i]),
        };
        if registered.is_err() {
            claimed.store(false, Release);
            return EBUSY.to_errno();
        }
        return ((generation << SLOT_BITS) | i as u32) as c_int;
    }
    EBUSY.to_errno()
}

/// Unregisters the listener `handle`. When it returns, no call is in flight and none will start.
/// Sleeps: process context only. Called from interrupt context (a callback runs in hard IRQ) it
/// returns `-EDEADLK` at once instead of waiting for itself forever; any other atomic context
/// is reported by `might_sleep()`. Returns 0, or `-EINVAL` for a handle that is not registered:
/// a stale or doubled unregister never removes a newer registration.
#[no_mangle]
pub(crate) extern "C" fn edu_listener_unregister(handle: c_int) -> c_int {
    if cshim::in_interrupt() {
        return EDEADLK.to_errno();
    }
    might_sleep();
    let Ok(handle) = u32::try_from(handle) else {
        return EINVAL.to_errno();
    };
    let i = (handle & ((1 << SLOT_BITS) - 1)) as usize;
    let generation = handle >> SLOT_BITS;
    let (Some(claimed), Some(current)) = (CLAIMED.get(i), GENERATIONS.get(i)) else {
        return EINVAL.to_errno();
    };
    let guard = guard();
    let active = match guard {
        Guard::Module => SLOTS[i].is_active(),
        Guard::Rcu => RCU_SLOTS[i].is_active(),
    };
    if !active {
        return EINVAL.to_errno();
    }
    // Only the holder of the current generation moves it on, and only once.
    let next = (generation + 1) & GENERATION_MASK;
    if current.cmpxchg(generation, next, Full).is_err() {
        return EINVAL.to_errno();
    }
    let relax = || fsleep(Delta::from_micros(100));
    let done = match guard {
        Guard::Module => SLOTS[i].unregister(relax).map_err(|_| EINVAL),
        Guard::Rcu => RCU_SLOTS[i].unregister(relax).map_err(|e| match e {
            UnregisterError::NotRegistered => EINVAL,
            UnregisterError::WouldDeadlock => EDEADLK,
        }),
    };
    match done {
        Ok(()) => {
            // Release: the next registration of this index (Acquire) comes after all of this.
            claimed.store(false, Release);
            0
        }
        Err(e) => {
            if e == EDEADLK {
                // Still registered (not reachable: interrupt context was refused above): the
                // handle stays valid.
                current.store(generation, Release);
            }
            e.to_errno()
        }
    }
}
