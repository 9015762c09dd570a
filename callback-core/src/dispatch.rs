// SPDX-License-Identifier: GPL-2.0

//! Owner-refcounted callback registration: the whole dispatch protocol.
//!
//! This file is self-contained: it uses only `core` and a sibling module
//! `atomics` (std's atomics in userspace, `atomics.rs`; the kernel's in the
//! driver, beside its `#[path = ".../callback-core/src/dispatch.rs"] mod
//! dispatch;`), defines no crate-level attributes and no macros.
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
//! `UNREGISTERING`), the registration itself (callback, context, owner) in an
//! `UnsafeCell`, and a [`Gate`] owned by the slot.
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

use super::atomics::AtomicUsize;
use core::cell::UnsafeCell;
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
    reg: UnsafeCell<Option<Registration<O, C, R>>>,
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
    pub const fn new(gate: G) -> Self {
        Slot {
            gate,
            state: AtomicUsize::new(EMPTY),
            reg: UnsafeCell::new(None),
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
        let reg = unsafe { *self.reg.get() };
        let Some(reg) = reg else {
            return Err(NotRegistered);
        };
        if !reg.owner.try_get() {
            return Err(NotRegistered);
        }
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
        unsafe { *self.reg.get() = None };
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
            *slot.reg.get() = Some(Registration {
                callback,
                ctx,
                owner,
            })
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
