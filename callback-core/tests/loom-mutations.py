#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Shows that the loom tests (tests/loom.rs) earn their keep: each fence and ordering of the
dispatch core is weakened or removed, one at a time, in a scratch copy of the crate, and the
loom tests must then fail. Prints one line per mutation with the tests that caught it, and
exits non-zero if a mutation did not apply (the source moved on), if one was not caught that is
not in KNOWN_UNCAUGHT, or if one in KNOWN_UNCAUGHT was caught (the list is stale). `make test`
runs it (tests/run.sh, host tests).

    callback-core/tests/loom-mutations.py [ID...]

The working tree is never touched. Takes about 10 s per mutation (a release build under
--cfg loom, then the models); the table it printed last is in the README.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
ROOT = os.path.dirname(CRATE)

# Methods a mutation of dispatch.rs may call instead of the ordered ones (appended to
# atomics.rs in the scratch copy only).
RELAXED_SHIM = """
impl AtomicUsize {
    pub(crate) fn load_relaxed(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
    pub(crate) fn store_relaxed(&self, v: usize) {
        self.0.store(v, Ordering::Relaxed)
    }
    pub(crate) fn cmpxchg_relaxed(&self, old: usize, new: usize) -> Result<usize, usize> {
        self.0.compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed)
    }
}
"""

D = "src/dispatch.rs"
A = "src/owners/atomic.rs"
S = "src/owners/sharded.rs"
M = "src/owners/membarrier.rs"
E = "src/domain.rs"

# (id, what, file, old, new, which occurrence of `old`, 1-based)
MUTATIONS = [
    # Slot (gate + owner), dispatch.rs
    ("slot-dispatch-state", "Slot::dispatch: state load Acquire -> Relaxed", D,
     "if self.state.load_acquire() != ACTIVE {", "if self.state.load_relaxed() != ACTIVE {", 1),
    ("slot-activate", "Reservation::activate: store of ACTIVE Release -> Relaxed", D,
     "slot.state.store_release(ACTIVE);", "slot.state.store_relaxed(ACTIVE);", 1),
    ("slot-reserve", "Slot::reserve: CAS EMPTY->RESERVED Acquire -> Relaxed", D,
     "match self.state.cmpxchg_acquire(EMPTY, RESERVED) {",
     "match self.state.cmpxchg_relaxed(EMPTY, RESERVED) {", 1),
    ("slot-unregister-empty", "Slot::unregister: store of EMPTY Release -> Relaxed", D,
     "self.gate.reinstate();\n        // Release: pairs with the Acquire in `reserve`.\n"
     "        self.state.store_release(EMPTY);",
     "self.gate.reinstate();\n        self.state.store_relaxed(EMPTY);", 1),
    ("slot-no-drain", "Slot::unregister: no wait for the gate to drain (control)", D,
     "while !self.gate.drained() {", "while false && !self.gate.drained() {", 1),
    # AtomicOwner (module refcount model)
    ("atomic-get", "AtomicOwner::try_get: CAS Acquire -> Relaxed", A,
     "Ordering::Acquire, Ordering::Relaxed)", "Ordering::Relaxed, Ordering::Relaxed)", 1),
    ("atomic-put", "AtomicOwner::put: decrement Release -> Relaxed", A,
     "self.refcnt.fetch_sub(1, Ordering::Release);", "self.refcnt.fetch_sub(1, Ordering::Relaxed);", 1),
    ("atomic-drained", "AtomicOwner::drained: load Acquire -> Relaxed", A,
     "self.refcnt.load(Ordering::Acquire) == GOING", "self.refcnt.load(Ordering::Relaxed) == GOING", 1),
    ("atomic-reinstate", "AtomicOwner::reinstate: CAS Release -> Relaxed", A,
     ".compare_exchange(GOING, BASE, Ordering::Release, Ordering::Relaxed);",
     ".compare_exchange(GOING, BASE, Ordering::Relaxed, Ordering::Relaxed);", 1),
    # ShardedOwner (SeqCst store buffering; under loom with the fences SeqCst implies)
    ("sharded-get-sc", "ShardedOwner::try_get: the SeqCst order after the increment removed", S,
     "shard.fetch_add(1, Ordering::SeqCst);\n        loom_seq_cst_fence();",
     "shard.fetch_add(1, Ordering::SeqCst);", 1),
    ("sharded-revoke-sc", "ShardedOwner::revoke: the SeqCst order after the store removed", S,
     "self.going.0.store(true, Ordering::SeqCst);\n        loom_seq_cst_fence();",
     "self.going.0.store(true, Ordering::SeqCst);", 1),
    ("sharded-put", "ShardedOwner::put: decrement Release -> Relaxed", S,
     "self.shard().fetch_sub(1, Ordering::Release);", "self.shard().fetch_sub(1, Ordering::Relaxed);", 1),
    ("sharded-drained", "ShardedOwner::drained: loads SeqCst -> Relaxed", S,
     "s.0.load(Ordering::SeqCst) == 0", "s.0.load(Ordering::Relaxed) == 0", 1),
    ("sharded-reinstate", "ShardedOwner::reinstate: store Release -> Relaxed", S,
     "self.going.0.store(false, Ordering::Release);", "self.going.0.store(false, Ordering::Relaxed);", 1),
    # MembarrierOwner (per-thread counters, asymmetric fence)
    ("membarrier-light", "MembarrierOwner::try_get: light fence removed", M,
     "barrier::light(mode);", "let _ = mode;", 1),
    ("membarrier-heavy", "MembarrierOwner::revoke: heavy fence (membarrier) removed", M,
     "barrier::heavy(barrier::mode());", "", 1),
    ("membarrier-going", "MembarrierOwner::try_get: load of going Acquire -> Relaxed", M,
     "if self.going.0.load(Ordering::Acquire) {", "if self.going.0.load(Ordering::Relaxed) {", 1),
    ("membarrier-put", "MembarrierOwner::put: decrement Release -> Relaxed", M,
     "Some(slot) => bump(&slot.0, usize::MAX, Ordering::Release),",
     "Some(slot) => bump(&slot.0, usize::MAX, Ordering::Relaxed),", 1),
    ("membarrier-drained", "MembarrierOwner::drained: loads Acquire -> Relaxed", M,
     "s.0.load(Ordering::Acquire) == 0", "s.0.load(Ordering::Relaxed) == 0", 1),
    ("membarrier-reinstate", "MembarrierOwner::reinstate: store Release -> Relaxed", M,
     "self.going.0.store(false, Ordering::Release);", "self.going.0.store(false, Ordering::Relaxed);", 1),
    # DomainSlot (merged guard), dispatch.rs
    ("domain-dispatch-state", "DomainSlot::dispatch: state load Acquire -> Relaxed", D,
     "if self.state.load_acquire() != ACTIVE {", "if self.state.load_relaxed() != ACTIVE {", 2),
    ("domain-register-active", "DomainSlot::register: store of ACTIVE Release -> Relaxed", D,
     "        // Release: publishes the cell write to dispatchers (Acquire load).\n"
     "        self.state.store_release(ACTIVE);\n        Ok(())",
     "        self.state.store_relaxed(ACTIVE);\n        Ok(())", 1),
    ("domain-register-cas", "DomainSlot::register: CAS EMPTY->RESERVED Acquire -> Relaxed", D,
     "if self.state.cmpxchg_acquire(EMPTY, RESERVED).is_err() {",
     "if self.state.cmpxchg_relaxed(EMPTY, RESERVED).is_err() {", 1),
    ("domain-unregister-empty", "DomainSlot::unregister: store of EMPTY Release -> Relaxed", D,
     "unsafe { self.reg.write(None) };\n        // Release: pairs with the Acquire in `register`.\n"
     "        self.state.store_release(EMPTY);",
     "unsafe { self.reg.write(None) };\n        self.state.store_relaxed(EMPTY);", 1),
    ("domain-no-sync", "DomainSlot::unregister: no grace period (control)", D,
     "if self.domain.synchronize().is_err() {", "if false && self.domain.synchronize().is_err() {", 1),
    # EpochDomain (urcu-memb style) and LiveFlag, domain.rs
    ("epoch-load", "EpochDomain::read: epoch load Acquire -> Relaxed", E,
     "let epoch = self.hot.0.epoch.load(Ordering::Acquire);",
     "let epoch = self.hot.0.epoch.load(Ordering::Relaxed);", 1),
    ("epoch-entry", "EpochDomain::read: entry store Release -> Relaxed", E,
     "word.store(epoch, Ordering::Release);", "word.store(epoch, Ordering::Relaxed);", 1),
    ("epoch-light", "EpochDomain::read: light fence removed", E,
     "|| barrier::light(mode)", "|| {\n            let _ = mode;\n        }", 1),
    ("epoch-exit", "EpochDomain::read: exit store Release -> Relaxed", E,
     "self.0.store(0, Ordering::Release);", "self.0.store(0, Ordering::Relaxed);", 1),
    ("epoch-advance", "EpochDomain::synchronize: epoch RMW Release -> Relaxed", E,
     "epoch.fetch_add(1, Ordering::Release)", "epoch.fetch_add(1, Ordering::Relaxed)", 1),
    ("epoch-heavy", "EpochDomain::synchronize: heavy fence (membarrier) removed", E,
     "barrier::heavy(mode);", "let _ = mode;", 1),
    ("epoch-scan", "EpochDomain::synchronize: word loads Acquire -> Relaxed", E,
     "let v = w.0.load(Ordering::Acquire);", "let v = w.0.load(Ordering::Relaxed);", 1),
    ("epoch-no-wait", "EpochDomain::synchronize: no wait for old epochs (control)", E,
     "if v == 0 || v >= new {", "if true || v == 0 || v >= new {", 1),
    ("liveflag-no-sync", "LiveFlag::retire: no grace period (control)", E,
     "        domain.synchronize()\n", "        let _ = domain;\n        Ok(())\n", 1),
]


# Mutations loom does not catch, and why (README, "The callback core").
KNOWN_UNCAUGHT = {
    # In the fence-on-both-sides mode loom checks, the reader's fence(SeqCst) acquires what its
    # relaxed load read; the acquire matters in membarrier mode (a compiler fence only).
    "epoch-load",
    # Needed by the grace-period argument (src/domain.rs); loom does not find the stale read.
    "epoch-advance",
}


def workspace(scratch):
    """A one-crate workspace with the real workspace's package settings and lints."""
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        text = f.read()
    keep = []
    section = None
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip()
        if section and (section.startswith("[workspace.") or section == "[profile.release]"):
            keep.append(line)
    with open(os.path.join(scratch, "Cargo.toml"), "w") as f:
        f.write('[workspace]\nresolver = "2"\nmembers = ["callback-core"]\n\n' + "\n".join(keep) + "\n")
    shutil.copy(os.path.join(ROOT, "Cargo.lock"), scratch)


def replace_nth(text, old, new, n):
    i = -1
    for _ in range(n):
        i = text.find(old, i + 1)
        if i < 0:
            return None
    return text[:i] + new + text[i + len(old):]


def run(scratch, target):
    env = dict(os.environ, RUSTFLAGS="--cfg loom", CARGO_TARGET_DIR=target)
    p = subprocess.run(
        ["cargo", "test", "--release", "-p", "callback-core", "--test", "loom"],
        cwd=scratch, env=env, capture_output=True, text=True)
    out = p.stdout + p.stderr
    failed = re.findall(r"^test (\S+) \.\.\. FAILED$", out, re.M)
    if p.returncode != 0 and not failed:
        return None, out
    return failed, out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    chosen = [m for m in MUTATIONS if not args or m[0] in args]
    target = os.path.join(ROOT, "target", "loom-mutations")
    bad = caught = 0
    with tempfile.TemporaryDirectory() as scratch:
        workspace(scratch)
        crate = os.path.join(scratch, "callback-core")
        shutil.copytree(CRATE, crate, ignore=shutil.ignore_patterns("target"))
        with open(os.path.join(crate, "src/atomics.rs"), "a") as f:
            f.write(RELAXED_SHIM)
        failed, out = run(scratch, target)
        if failed != []:
            print("the unmutated code does not pass its loom tests:\n" + out[-3000:])
            return 1
        print("unmutated: all loom tests pass")
        for mid, what, path, old, new, n in chosen:
            src = os.path.join(crate, path)
            with open(src) as f:
                orig = f.read()
            mutated = replace_nth(orig, old, new, n)
            if mutated is None:
                print(f"{mid:26} NOT APPLIED (pattern not found): {what}")
                bad += 1
                continue
            with open(src, "w") as f:
                f.write(mutated)
            try:
                failed, out = run(scratch, target)
            finally:
                with open(src, "w") as f:
                    f.write(orig)
            if failed is None:
                print(f"{mid:26} DOES NOT BUILD: {what}\n{out[-2000:]}")
                bad += 1
            elif failed:
                print(f"{mid:26} caught by {', '.join(sorted(failed))}: {what}")
                caught += 1
                if mid in KNOWN_UNCAUGHT:
                    print(f"{mid:26} is listed in KNOWN_UNCAUGHT: update the list")
                    bad += 1
            else:
                known = " (known: see KNOWN_UNCAUGHT)" if mid in KNOWN_UNCAUGHT else ""
                print(f"{mid:26} NOT CAUGHT{known}: {what}")
                bad += mid not in KNOWN_UNCAUGHT
    print(f"loom mutations: {len(chosen)} tried, {caught} caught, {bad} unexpected")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
