/* common.h -- command-line helpers shared by the osrca commands: locating
 * and loading the rules directory (README "Commands", --rules). */
#ifndef OSRCA_COMMON_H
#define OSRCA_COMMON_H

/* osrca's version: `osrca version`, the traces' instrumentation scope */
#define OSRCA_VERSION "0.1.0"

#include <stddef.h>

#include "capture/stats.h"
#include "rca/rules_load.h"

/* The rules directory: given, else $OSRCA_RULES, else ./rules, else
 * <exe dir>/../rules (a build tree), else /etc/osrca/rules when it is a
 * directory, else $PREFIX/share/osrca/rules (the installed copy, whether
 * or not it exists). The result is given, the environment string, a
 * literal, or buf (len bytes, filled). */
const char *common_find_rules(const char *given, char *buf, size_t len);

/* Load the rules directory common_find_rules names. On error prints
 * "osrca: rules: <file:line:col message>" on stderr and returns NULL. */
struct rules *common_load_rules(const char *given, struct stats *st);

/* Parse a --snaplen value (64..262144) into *out. On error prints
 * "osrca <cmd>: --snaplen <arg>: expected 64..262144" and returns -1. */
int common_parse_snaplen(const char *cmd, const char *arg, int *out);

/* Parse a duration in seconds (0..86400, decimals allowed) for option opt of
 * command cmd into *out. On error prints "osrca <cmd>: <opt> <arg>: expected
 * seconds 0..86400" and returns -1. */
int common_parse_secs(const char *cmd, const char *opt, const char *arg, double *out);

/* Called once set-up is done, before the packets: the state then follows
 * the operations in flight, so the heap keeps growing back to its peak.
 * It grows 8 MiB at a time and freed tops are not handed back (each
 * give-back and regrowth cost a page fault per 4 KiB, ~3 % of an
 * analysis); memory stays bounded by the peak. Not before: big set-up
 * tables (flow hash) then come from the heap top and must be cleared,
 * where mmap gives pages that are zero until touched.
 *
 * The heap also grows by 64 MiB at once here (address space only: pages
 * come when touched), with transparent huge pages asked for on that part
 * (madvise MADV_HUGEPAGE; the kernel's "madvise" mode, Debian's default):
 * the packet state then sits on 2 MiB pages, a page fault per 2 MiB
 * instead of per 4 KiB and far fewer TLB misses (10-12 % less CPU per
 * analysis on the bench capture; peak RSS up by up to a huge page per
 * part of the heap in use). OSRCA_HUGEPAGES=0 in the environment turns
 * that part off. Returns 1 when the huge pages were asked for. */
int common_heap_for_packets(void);

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC): intervals, deadlines. */
uint64_t common_mono_ns(void);

#endif
