// SPDX-License-Identifier: GPL-2.0

//! Owner-refcounted callback registration: the whole dispatch protocol.
//!
//! This file is self-contained: it uses only `core` and a sibling module
//! `atomics` (std's atomics in userspace and loom's under `cfg(loom)`, both in
//! `atomics.rs`; the kernel's in the driver, beside its `#[path =
//! ".../callback-core/src/dispatch.rs"] mod dispatch;`), defines no
//! crate-level attributes and no macros. The only `cfg` it uses is `loom`,
//! whose atomics cannot be built in a `const fn`.
//!
//! It holds two slot types. [`Slot`] guards each call with two references,
//! the slot's [`Gate`] and the registration's [`Owner`] (the literal rule,
//! below). [`DomainSlot`] guards each call with one read-side critical section
//! of a [`ReadDomain`] (userspace RCU's membarrier flavour in userspace, RCU
//! in a kernel) and checks the owner's [`Liveness`] as a flag inside it; its
//! protocol is documented on the type.
//!
//! # The rule
//!
//! An interface that lets others register callbacks takes an *owner* with
//! each registration (Rusty Russell, "Writing Modules and the Interfaces To
//! Be Used By Them"). Every caller does `owner.try_get()` before calling
//! through the pointer and `owner.put()` after; when the get fails, the
//! caller behaves as if nothing were registered. Registration is split into
//! [`Slot::reserve`] and [`Slot::activate`]; [`Slot::unregister`] waits until
//! no call is in flight, after which no new call can enter.
//!
//! # The protocol
//!
//! A [`Slot`] holds a state word (`EMPTY`, `RESERVED`, `ACTIVE`,
//! `UNREGISTERING`), the registration itself (callback, context, owner) in a
//! cell (`RaceCell`), and a [`Gate`] owned by the slot.
//!
//! * `reserve`: CAS `EMPTY -> RESERVED` (Acquire). The holder of the
//!   [`Reservation`] is the only writer of the registration cell.
//! * `activate`: write the cell, then store `ACTIVE` (Release).
//! * `dispatch`: `gate.try_get()`; load the state (Acquire); if `ACTIVE`, copy
//!   the registration out of the cell; `owner.try_get()`; call;
//!   `owner.put()`; `gate.put()`. Any failure on the way returns
//!   [`NotRegistered`] without calling.
//! * `unregister`: CAS `ACTIVE -> UNREGISTERING`; `gate.revoke()`; call
//!   `relax()` until `gate.drained()`; clear the cell; `gate.reinstate()`;
//!   store `EMPTY` (Release).
//!
//! # Why there is no TOCTOU between reading the registration and the call
//!
//! The registration is read *inside* the gate, and the owner's reference is
//! taken while still inside the gate. The gate contract ([`Gate`]) says that
//! once `revoke()` has returned no `try_get()` succeeds, and that
//! `drained()` returns true only after every successful `try_get()` has been
//! balanced by a `put()` that happens-before it. So when `unregister` sees
//! the gate drained, every dispatcher that could have read the old
//! registration has finished calling it (and has released the owner), and
//! no dispatcher can start a new read: the window between "read the pointer"
//! and "take the owner" is covered by the gate, and the window between "take
//! the owner" and "call" is covered both by the gate and by the owner.
//!
//! The owner's `try_get()` is then only the module-lifetime check of the
//! rule: if the owner is going away (a module in `GOING` state) the call is
//! skipped exactly as if nothing were registered, even though the owner has
//! not yet called `unregister`.
//!
//! # Memory ordering argument
//!
//! * Cell writes (`activate`, and the clearing in `unregister`) happen only
//!   while the state is `RESERVED` or `UNREGISTERING`, by the single thread
//!   that moved the state there.
//! * A dispatcher reads the cell only after loading `ACTIVE` with Acquire,
//!   which synchronizes with the Release store in `activate`, so the cell
//!   contents of that activation are visible.
//! * The dispatcher's read of the cell is sequenced before its `gate.put()`;
//!   that put happens-before `gate.drained()` returning true in the
//!   unregistering thread (gate contract), which is sequenced before the
//!   clearing write and the Release store of `EMPTY`; a later `reserve`
//!   acquires `EMPTY`, so the next `activate`'s write also happens-after the
//!   read. No data race on the cell.
//! * A dispatcher whose `gate.try_get()` succeeds *after* `reinstate()`
//!   synchronizes with the reinstate (gate contract), so by coherence its
//!   state load returns `UNREGISTERING` or a later value, never the stale
//!   `ACTIVE` of the generation being torn down; it therefore never reads a
//!   cell that is being cleared.
//! * A dispatcher whose `gate.try_get()` succeeded before `revoke()` may
//!   still load a stale `ACTIVE` and call the old callback, but `unregister`
//!   is then waiting for it in the drain loop, so the call completes before
//!   `unregister` returns. That is the guarantee: after `unregister` returns,
//!   the callback is not called again until a new `activate`.
//!
//! Nothing here blocks by itself: the only wait (the drain loop) calls the
//! caller-supplied `relax` closure.

use super::atomics::{AtomicUsize, RaceCell};
use core::fmt;
use core::mem;

/// The owner of a registration: a reference count the dispatcher takes
/// around each call (in the kernel, a module: `try_module_get` /
/// `module_put`).
///
/// # Safety
///
/// Implementors guarantee that:
///
/// * `try_get()` returning `true` takes one reference, which keeps whatever
///   the owner protects (code, context data) alive until the matching
///   `put()`;
/// * after `put()` balances a successful `try_get()`, nothing more is owed:
///   the caller does not need to do anything else to release the owner.
///
/// [`Slot`] always calls `put()` on the same thread, right after the call that
/// the successful `try_get()` guarded; implementations may rely on that
/// pairing (per-thread counters do).
pub unsafe trait Owner: Sync {
    /// Takes a reference if the owner is live. Returns `false` if the owner
    /// is going away; the caller must then behave as if nothing were
    /// registered.
    fn try_get(&self) -> bool;

    /// Drops a reference taken by a successful [`Owner::try_get`].
    fn put(&self);
}

/// An [`Owner`] that its holder can revoke and drain: the slot's own guard
/// against unregistration racing with dispatch.
///
/// The holder (the one value that owns the gate, e.g. a [`Slot`]) calls
/// `revoke()`, then polls `drained()` until it is true, then `reinstate()`.
///
/// # Safety
///
/// Implementors guarantee, provided only the holder calls `revoke`, `drained`
/// and `reinstate` (implement `Gate` only for types whose revocation cannot
/// be triggered through another handle):
///
/// 1. once `revoke()` has returned, and until `reinstate()` is called, every
///    `try_get()` returns `false`;
/// 2. after `revoke()` has returned, `drained()` returns `true` only once
///    every `try_get()` that returned `true` has been balanced by its
///    `put()`, and each such `put()` happens-before the return of
///    `drained()` (release/acquire);
/// 3. a `try_get()` that returns `true` after `reinstate()` synchronizes
///    with that `reinstate()` (reinstate is a release, a successful get an
///    acquire);
/// 4. a gate is open (gets succeed) when it is created and after
///    `reinstate()`.
pub unsafe trait Gate: Owner {
    /// Closes the gate: once this returns, no [`Owner::try_get`] succeeds.
    /// May block briefly (e.g. an expedited memory barrier) but never waits
    /// for readers.
    fn revoke(&self);

    /// Returns `true` once every successful get has been put, after
    /// [`Gate::revoke`].
    fn drained(&self) -> bool;

    /// Reopens a revoked and drained gate.
    fn reinstate(&self);
}

/// The callback type: a plain function called with its `'static` context and
/// the event value.
pub type Callback<C, R> = fn(&'static C, u32) -> R;

/// Returned by [`Slot::dispatch`] (nothing registered, owner going, or
/// unregistration in progress) and by [`Slot::unregister`] (nothing was
/// registered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotRegistered;

/// Returned by [`Slot::reserve`] when the slot is already reserved,
/// registered, or being unregistered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// The observable state of a [`Slot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Nothing registered; [`Slot::reserve`] may succeed.
    Empty,
    /// Reserved but not yet activated; dispatch does not call anything.
    Reserved,
    /// Registered: dispatch calls the callback.
    Active,
    /// An unregistration is draining in-flight calls.
    Unregistering,
}

const EMPTY: usize = 0;
const RESERVED: usize = 1;
const ACTIVE: usize = 2;
const UNREGISTERING: usize = 3;

/// One registration: what `activate` publishes and `dispatch` calls.
struct Registration<O: 'static, C: 'static, R> {
    callback: Callback<C, R>,
    ctx: &'static C,
    owner: &'static O,
}

impl<O, C, R> Clone for Registration<O, C, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O, C, R> Copy for Registration<O, C, R> {}

/// The registration cell of an `ACTIVE` slot is never empty (the slots' invariants), so the
/// dispatch fast path does not test for it. Checked under loom and with debug assertions.
///
/// # Safety
///
/// Must not be reached: only call it where the invariants exclude it.
#[inline(always)]
unsafe fn unreachable_active_none() -> ! {
    if cfg!(any(loom, debug_assertions)) {
        unreachable!("an ACTIVE slot with an empty registration cell");
    }
    // SAFETY: not reachable, by the function's safety requirements.
    unsafe { core::hint::unreachable_unchecked() }
}

/// Puts a reference on drop, so a panicking (unwinding) callback in userspace
/// still balances its gets.
struct Held<'a, T: Owner>(&'a T);

impl<T: Owner> Drop for Held<'_, T> {
    fn drop(&mut self) {
        self.0.put();
    }
}

/// One registration point: at most one callback, with its context and owner.
///
/// Usable in a `static` ([`Slot::new`] is `const`) or inside a struct.
///
/// # Invariants
///
/// * `state` is one of `EMPTY`, `RESERVED`, `ACTIVE`, `UNREGISTERING`.
/// * `reg` is written only by the thread that moved `state` to `RESERVED`
///   (while it still is) or to `UNREGISTERING` (after the gate drained).
/// * When `state` is `ACTIVE`, `reg` is `Some`, written before the Release
///   store of `ACTIVE`.
/// * `reg` is read only by a dispatcher that holds a gate reference and has
///   loaded `ACTIVE` with Acquire, and by the unregistering thread.
/// * The gate is open except between `revoke` and `reinstate` in
///   [`Slot::unregister`]; this slot is its only holder.
pub struct Slot<G, O: 'static, C: 'static, R = ()> {
    gate: G,
    state: AtomicUsize,
    reg: RaceCell<Option<Registration<O, C, R>>>,
}

// SAFETY: sharing `&Slot` lets other threads call the gate through `&G`
// (needs `G: Sync`) and copy `&'static O` / `&'static C` out of the cell and
// use them (needs `O: Sync`, `C: Sync`). Accesses to the cell are free of
// data races by the type invariants (see the module docs). `R` is only
// produced on the dispatching thread; `fn` pointers are `Send + Sync`.
unsafe impl<G: Sync, O: Sync, C: Sync, R> Sync for Slot<G, O, C, R> {}

impl<G, O, C, R> Slot<G, O, C, R> {
    /// Creates an empty slot guarded by `gate`, which must be open (freshly
    /// created).
    #[cfg(not(loom))]
    pub const fn new(gate: G) -> Self {
        Slot {
            gate,
            state: AtomicUsize::new(EMPTY),
            reg: RaceCell::new(None),
        }
    }

    /// Creates an empty slot guarded by `gate`, which must be open (freshly
    /// created).
    #[cfg(loom)]
    pub fn new(gate: G) -> Self {
        Slot {
            gate,
            state: AtomicUsize::new(EMPTY),
            reg: RaceCell::new(None),
        }
    }

    /// Returns the current state (a snapshot, for diagnostics and tests).
    pub fn state(&self) -> SlotState {
        match self.state.load_acquire() {
            EMPTY => SlotState::Empty,
            RESERVED => SlotState::Reserved,
            ACTIVE => SlotState::Active,
            _ => SlotState::Unregistering,
        }
    }

    /// Returns `true` if a callback is currently registered (a snapshot).
    pub fn is_active(&self) -> bool {
        self.state.load_acquire() == ACTIVE
    }

    /// Claims the slot for a later [`Slot::activate`]. A reserved slot is not
    /// called. Fails with [`Busy`] if the slot is reserved, registered, or
    /// being unregistered.
    pub fn reserve(&self) -> Result<Reservation<'_, G, O, C, R>, Busy> {
        // Acquire: pairs with the Release store of EMPTY in `unregister` /
        // `release_reservation`, so the previous generation's readers and
        // writers of the cell happen-before our future write.
        match self.state.cmpxchg_acquire(EMPTY, RESERVED) {
            Ok(_) => Ok(Reservation { slot: self }),
            Err(_) => Err(Busy),
        }
    }

    /// Cancels `reservation` without activating it (same as dropping it).
    /// Gives the reservation back if it belongs to another slot.
    pub fn cancel<'r>(
        &self,
        reservation: Reservation<'r, G, O, C, R>,
    ) -> Result<(), Reservation<'r, G, O, C, R>> {
        if !core::ptr::eq(reservation.slot, self) {
            return Err(reservation);
        }
        reservation.cancel();
        Ok(())
    }

    /// Moves a reserved slot back to empty. Only called by the holder of the
    /// reservation, which is consumed.
    fn release_reservation(&self) {
        // Release: orders the reservation holder's accesses before the next
        // `reserve` (which acquires EMPTY).
        self.state.store_release(EMPTY);
    }
}

impl<G: Gate, O: Owner, C: Sync, R> Slot<G, O, C, R> {
    /// Publishes a registration in the slot claimed by `reservation`: from
    /// the moment this returns (and possibly slightly before it returns),
    /// [`Slot::dispatch`] can call `callback(ctx, event)` guarded by `owner`.
    ///
    /// Gives the reservation back if it belongs to another slot.
    pub fn activate<'r>(
        &self,
        reservation: Reservation<'r, G, O, C, R>,
        callback: Callback<C, R>,
        ctx: &'static C,
        owner: &'static O,
    ) -> Result<(), Reservation<'r, G, O, C, R>> {
        if !core::ptr::eq(reservation.slot, self) {
            return Err(reservation);
        }
        reservation.activate(callback, ctx, owner);
        Ok(())
    }

    /// Reserves and activates in one step.
    pub fn register(
        &self,
        callback: Callback<C, R>,
        ctx: &'static C,
        owner: &'static O,
    ) -> Result<(), Busy> {
        self.reserve()?.activate(callback, ctx, owner);
        Ok(())
    }

    /// Calls the registered callback with `event`, guarded by the slot's
    /// gate and by the registration's owner.
    ///
    /// Returns [`NotRegistered`] without calling anything if the slot is not
    /// active, an unregistration is in progress, or the owner's
    /// [`Owner::try_get`] fails.
    #[inline]
    pub fn dispatch(&self, event: u32) -> Result<R, NotRegistered> {
        if !self.gate.try_get() {
            return Err(NotRegistered);
        }
        let _gate = Held(&self.gate);
        // Acquire: pairs with the Release store of ACTIVE in `activate`.
        if self.state.load_acquire() != ACTIVE {
            return Err(NotRegistered);
        }
        // SAFETY: we hold a gate reference and loaded ACTIVE with Acquire,
        // so the cell was written before that store and, by the type
        // invariants, is not written again until the gate has drained, which
        // waits for our `put` (the `_gate` guard, dropped after the call).
        let Some(reg) = (unsafe { self.reg.read() }) else {
            // SAFETY: ACTIVE (loaded with Acquire) implies `Some` (type invariants).
            unsafe { unreachable_active_none() }
        };
        if !reg.owner.try_get() {
            return Err(NotRegistered);
        }
        // Dropped before `_gate` (reverse declaration order): the owner is put
        // while the gate is still held.
        let _owner = Held(reg.owner);
        Ok((reg.callback)(reg.ctx, event))
    }

    /// Unregisters the callback: no new call enters, then waits (calling
    /// `relax` between polls) until every call in flight has returned, then
    /// empties the slot. After this returns, the callback is not called again
    /// until a new [`Slot::activate`].
    ///
    /// If another unregistration is in progress, waits (calling `relax`)
    /// until it has finished and returns [`NotRegistered`]. Also returns
    /// [`NotRegistered`] if the slot is empty or only reserved.
    ///
    /// Must not be called from the callback itself (it would wait for
    /// itself forever).
    pub fn unregister(&self, mut relax: impl FnMut()) -> Result<(), NotRegistered> {
        // Acquire: pairs with `activate`'s Release, so we see the cell.
        match self.state.cmpxchg_acquire(ACTIVE, UNREGISTERING) {
            Ok(_) => {}
            Err(UNREGISTERING) => {
                while self.state.load_acquire() == UNREGISTERING {
                    relax();
                }
                return Err(NotRegistered);
            }
            Err(_) => return Err(NotRegistered),
        }
        self.gate.revoke();
        while !self.gate.drained() {
            relax();
        }
        // SAFETY: the state is UNREGISTERING and was put there by us, so no
        // other thread writes the cell; the gate is revoked and drained, so
        // every dispatcher that read the cell has put its gate reference
        // (happens-before, gate contract) and none can enter until
        // `reinstate`. Dispatchers entering after `reinstate` load
        // UNREGISTERING or later and do not read the cell.
        unsafe { self.reg.write(None) };
        self.gate.reinstate();
        // Release: pairs with the Acquire in `reserve`.
        self.state.store_release(EMPTY);
        Ok(())
    }
}

impl<G, O, C, R> fmt::Debug for Slot<G, O, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// A claim on a [`Slot`] from [`Slot::reserve`]: the slot is taken but not
/// yet called. Activate it with [`Reservation::activate`] (or
/// [`Slot::activate`]); dropping it cancels the reservation.
///
/// # Invariants
///
/// While a `Reservation` exists, `slot.state` is `RESERVED` and this
/// reservation is the only one for `slot`.
#[must_use = "dropping a reservation cancels it"]
pub struct Reservation<'a, G, O: 'static, C: 'static, R = ()> {
    slot: &'a Slot<G, O, C, R>,
}

impl<'a, G, O, C, R> Reservation<'a, G, O, C, R> {
    /// Returns the slot this reservation belongs to.
    pub fn slot(&self) -> &'a Slot<G, O, C, R> {
        self.slot
    }

    /// Cancels the reservation without activating: the slot becomes empty.
    pub fn cancel(self) {
        drop(self);
    }
}

impl<G: Gate, O: Owner, C: Sync, R> Reservation<'_, G, O, C, R> {
    /// Publishes the registration: from this point [`Slot::dispatch`] calls
    /// `callback(ctx, event)` guarded by `owner`.
    pub fn activate(self, callback: Callback<C, R>, ctx: &'static C, owner: &'static O) {
        let slot = self.slot;
        // Consumed without running Drop (which would cancel).
        mem::forget(self);
        // SAFETY: by the `Reservation` invariant the state is RESERVED and we
        // are its only holder, so no other thread writes the cell, and no
        // dispatcher reads it (they read only after loading ACTIVE). Readers
        // of the previous generation finished before the EMPTY store that
        // our `reserve` acquired.
        unsafe {
            slot.reg.write(Some(Registration {
                callback,
                ctx,
                owner,
            }))
        };
        // Release: publishes the cell write to dispatchers (Acquire load).
        slot.state.store_release(ACTIVE);
    }
}

impl<G, O, C, R> Drop for Reservation<'_, G, O, C, R> {
    fn drop(&mut self) {
        self.slot.release_reservation();
    }
}

impl<G, O, C, R> fmt::Debug for Reservation<'_, G, O, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation").finish_non_exhaustive()
    }
}

/// A read-side domain: read-side critical sections and grace periods (RCU's
/// two halves). Userspace has an epoch domain in the style of userspace
/// RCU's membarrier flavour (`callback_core::domain::EpochDomain`); a kernel
/// would use RCU itself (`rcu_read_lock`, `synchronize_rcu`).
///
/// # Safety
///
/// Implementors guarantee that:
///
/// 1. `read(f)` runs `f` exactly once, inside a read-side critical section
///    that begins before `f` starts and ends after it returns (or unwinds);
/// 2. when `synchronize()` returns `Ok`, every critical section either has
///    ended, with everything it did happening-before that return, or
///    observes everything that happened-before the call of `synchronize()`
///    (a grace period);
/// 3. `synchronize()` returns `Err(WouldDeadlock)` only when called inside a
///    critical section of this domain (which it would wait for forever), and
///    then without waiting and without effect.
pub unsafe trait ReadDomain: Sync {
    /// Runs `f` inside a read-side critical section. Nests.
    fn read<T>(&self, f: impl FnOnce() -> T) -> T;

    /// Waits for a grace period: every critical section that might not
    /// observe what happened before this call has ended.
    fn synchronize(&self) -> Result<(), WouldDeadlock>;
}

/// The owner of a [`DomainSlot`] registration, as a liveness flag (in the
/// kernel, `module_is_live`).
///
/// # Safety
///
/// Implementors guarantee that whatever the owner protects (code, context
/// data) stays alive until every read-side critical section of the slot's
/// domain in which `is_live()` returned `true` has ended: the owner is
/// retired by marking it not live and then waiting for a grace period of
/// that domain, before anything it protects goes away.
pub unsafe trait Liveness: Sync {
    /// Returns `false` once the owner has started going away.
    fn is_live(&self) -> bool;
}

/// Returned by [`ReadDomain::synchronize`] and [`DomainSlot::unregister`] when
/// called from inside a read-side critical section of the domain (for example
/// from the callback itself), which they would wait for forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WouldDeadlock;

/// Why [`DomainSlot::unregister`] did not unregister.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnregisterError {
    /// Nothing was registered (empty, only reserved, or another
    /// unregistration finished first).
    NotRegistered,
    /// Called inside a read-side critical section of the slot's domain (from
    /// a callback): the registration is left in place.
    WouldDeadlock,
}

/// One registration point guarded by one read-side critical section per call:
/// the merged guard.
///
/// # The protocol
///
/// * `register`: CAS `EMPTY -> RESERVED` (Acquire), write the cell, store
///   `ACTIVE` (Release).
/// * `dispatch`: inside `domain.read`: load the state (Acquire); if `ACTIVE`,
///   copy the registration out of the cell; if `owner.is_live()`, call.
/// * `unregister`: CAS `ACTIVE -> UNREGISTERING` (Acquire);
///   `domain.synchronize()`; clear the cell; store `EMPTY` (Release). If
///   `synchronize` reports [`WouldDeadlock`], the state goes back to `ACTIVE`
///   (Release) and nothing else changed.
///
/// # Why it is correct
///
/// Take a dispatcher's critical section and an `unregister` that moved the
/// state to `UNREGISTERING`. By the domain's contract (2), when `synchronize`
/// returns the section has either ended, with its reads of the cell
/// happening-before the clearing write, or it observes the `UNREGISTERING`
/// store (which happened-before the call), so by coherence its state load
/// returns `UNREGISTERING` or a later value and it does not read this
/// generation's cell. Either way the cell is not read concurrently with the
/// clearing write, and no call of the removed registration starts or runs
/// after `unregister` returns. A later generation's cell is published by its
/// own Release store of `ACTIVE`, which the dispatcher's Acquire load reads;
/// the hand-over between generations goes through the Release store of
/// `EMPTY` and the Acquire CAS of the next `register`.
///
/// The owner needs no reference: it is retired by making `is_live()` false
/// and waiting for a grace period ([`Liveness`]), so a dispatcher that saw it
/// live is waited for, and one that starts later sees it going.
///
/// # Invariants
///
/// * `state` is one of `EMPTY`, `RESERVED`, `ACTIVE`, `UNREGISTERING`.
/// * `reg` is written only by the thread that moved `state` to `RESERVED`
///   (while it still is) or to `UNREGISTERING` (after a grace period).
/// * When `state` is `ACTIVE`, `reg` is `Some`, written before the Release
///   store of `ACTIVE`.
/// * `reg` is read only inside a critical section of `domain` after loading
///   `ACTIVE` with Acquire.
pub struct DomainSlot<'d, D, L: 'static, C: 'static, R = ()> {
    domain: &'d D,
    state: AtomicUsize,
    reg: RaceCell<Option<Registration<L, C, R>>>,
}

// SAFETY: sharing `&DomainSlot` lets other threads enter the domain through
// `&D` (needs `D: Sync`) and copy `&'static L` / `&'static C` out of the cell
// and use them (needs `L: Sync`, `C: Sync`). Accesses to the cell are free
// of data races by the type invariants (see the type's docs).
unsafe impl<D: Sync, L: Sync, C: Sync, R> Sync for DomainSlot<'_, D, L, C, R> {}

impl<'d, D, L, C, R> DomainSlot<'d, D, L, C, R> {
    /// Creates an empty slot whose calls run in read-side critical sections
    /// of `domain`.
    #[cfg(not(loom))]
    pub const fn new(domain: &'d D) -> Self {
        DomainSlot {
            domain,
            state: AtomicUsize::new(EMPTY),
            reg: RaceCell::new(None),
        }
    }

    /// Creates an empty slot whose calls run in read-side critical sections
    /// of `domain`.
    #[cfg(loom)]
    pub fn new(domain: &'d D) -> Self {
        DomainSlot {
            domain,
            state: AtomicUsize::new(EMPTY),
            reg: RaceCell::new(None),
        }
    }

    /// Returns `true` if a callback is currently registered (a snapshot).
    pub fn is_active(&self) -> bool {
        self.state.load_acquire() == ACTIVE
    }
}

impl<D: ReadDomain, L: Liveness, C: Sync, R> DomainSlot<'_, D, L, C, R> {
    /// Registers `callback(ctx, event)`, owned by `owner`. Fails with
    /// [`Busy`] if the slot is registered or being unregistered.
    pub fn register(
        &self,
        callback: Callback<C, R>,
        ctx: &'static C,
        owner: &'static L,
    ) -> Result<(), Busy> {
        // Acquire: pairs with the Release store of EMPTY in `unregister`, so
        // the previous generation's accesses to the cell happen-before our
        // write.
        if self.state.cmpxchg_acquire(EMPTY, RESERVED).is_err() {
            return Err(Busy);
        }
        // SAFETY: we moved the state to RESERVED, so by the invariants no
        // other thread writes the cell and no dispatcher reads it (they read
        // only after loading ACTIVE); earlier readers finished before the
        // EMPTY store our CAS acquired.
        unsafe {
            self.reg.write(Some(Registration {
                callback,
                ctx,
                owner,
            }))
        };
        // Release: publishes the cell write to dispatchers (Acquire load).
        self.state.store_release(ACTIVE);
        Ok(())
    }

    /// Calls the registered callback with `event` inside one read-side
    /// critical section of the domain. Returns [`NotRegistered`] without
    /// calling anything if the slot is not active, an unregistration is in
    /// progress, or the owner is not live.
    #[inline]
    pub fn dispatch(&self, event: u32) -> Result<R, NotRegistered> {
        // SAFETY: `read` runs the closure inside a read-side critical section
        // of the domain (`ReadDomain`'s contract).
        self.domain
            .read(|| unsafe { self.dispatch_in_section(event) })
    }

    /// [`DomainSlot::dispatch`] for a caller that is already inside a
    /// read-side critical section of the domain, which it does not enter
    /// again. In the kernel, a hard-IRQ handler is such a caller for RCU:
    /// the region it runs in, with interrupts disabled, is a read-side
    /// critical section of its own.
    ///
    /// # Safety
    ///
    /// The caller is inside a read-side critical section of the slot's
    /// domain that lasts until this returns.
    #[inline]
    pub unsafe fn dispatch_in_section(&self, event: u32) -> Result<R, NotRegistered> {
        // Acquire: pairs with the Release store of ACTIVE in `register`.
        if self.state.load_acquire() != ACTIVE {
            return Err(NotRegistered);
        }
        // SAFETY: we are inside a critical section (the caller's guarantee)
        // and loaded ACTIVE with Acquire, so the cell was written before that
        // store and is not written again until a grace period that waits for
        // us (type invariants).
        let Some(reg) = (unsafe { self.reg.read() }) else {
            // SAFETY: ACTIVE (loaded with Acquire) implies `Some` (type invariants).
            unsafe { unreachable_active_none() }
        };
        if !reg.owner.is_live() {
            return Err(NotRegistered);
        }
        Ok((reg.callback)(reg.ctx, event))
    }

    /// Unregisters the callback: no new call enters, then waits for a grace
    /// period of the domain, so every call in flight has returned, then
    /// empties the slot. After this returns `Ok`, the callback is not called
    /// again until a new [`DomainSlot::register`].
    ///
    /// If another unregistration is in progress, waits (calling `relax`)
    /// until it has finished and returns [`UnregisterError::NotRegistered`].
    /// Called from inside a critical section of the domain (a callback), it
    /// returns [`UnregisterError::WouldDeadlock`] at once and leaves the
    /// registration in place; an unregistration racing with that one may
    /// then report `NotRegistered` although the slot stays registered.
    pub fn unregister(&self, mut relax: impl FnMut()) -> Result<(), UnregisterError> {
        // Acquire: pairs with `register`'s Release, so we see the cell.
        match self.state.cmpxchg_acquire(ACTIVE, UNREGISTERING) {
            Ok(_) => {}
            Err(UNREGISTERING) => {
                while self.state.load_acquire() == UNREGISTERING {
                    relax();
                }
                return Err(UnregisterError::NotRegistered);
            }
            Err(_) => return Err(UnregisterError::NotRegistered),
        }
        if self.domain.synchronize().is_err() {
            // Release: a dispatcher that reads ACTIVE again sees the cell as
            // it was (we did not touch it).
            self.state.store_release(ACTIVE);
            return Err(UnregisterError::WouldDeadlock);
        }
        // SAFETY: the state is UNREGISTERING and was put there by us, so no
        // other thread writes the cell; after the grace period every critical
        // section that could read it has ended (happens-before), and every
        // other one sees UNREGISTERING or later (domain contract 2).
        unsafe { self.reg.write(None) };
        // Release: pairs with the Acquire in `register`.
        self.state.store_release(EMPTY);
        Ok(())
    }
}

impl<D, L, C, R> fmt::Debug for DomainSlot<'_, D, L, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainSlot")
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}
