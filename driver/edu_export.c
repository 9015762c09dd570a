// SPDX-License-Identifier: GPL-2.0
/*
 * The only C in the edu module: exporting the listener interface, which is written in Rust
 * (listener.rs), to other modules. Rust has no EXPORT_SYMBOL of its own for out-of-tree modules.
 */
#include <linux/export.h>
#include "include/edu_listener.h"

EXPORT_SYMBOL_GPL(edu_listener_register);
EXPORT_SYMBOL_GPL(edu_listener_unregister);
