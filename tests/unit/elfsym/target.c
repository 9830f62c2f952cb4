/*
 * The shared object test_elfsym names addresses in (and, built from it, a copy stripped with
 * objcopy --strip-all and a separate debug file). It has the kinds of symbols the lookup must
 * choose between: a global function with a weak and a local alias, two global names for one
 * function, a static function, an IFUNC, and hand-made symbols of known extent (nested ones,
 * a gap, a size of 0), which the compiler could not be trusted to lay out.
 */
#include "target.h"

#define KEEP __attribute__((noinline, used))

static KEEP int
elfsym_local(int x)
{
    return x * 3 + 1;
}

int
elfsym_global(int x)
{
    return elfsym_local(x) + 2;
}

/* Weaker names for elfsym_global: the global name must win over both. */
int elfsym_weak(int x) __attribute__((weak, alias("elfsym_global")));
static int elfsym_local_alias(int x) __attribute__((alias("elfsym_global"), used));

/* Two global names for one function: the first in strcmp order must win. */
int
elfsym_zeta(int x)
{
    return x - 5;
}

int elfsym_alpha(int x) __attribute__((alias("elfsym_zeta")));

static int
elfsym_ifunc_impl(int x)
{
    return x + 7;
}

/* The resolver (a local function) and the IFUNC symbol share address and size. */
static KEEP int (*elfsym_resolve(void))(int)
{
    return elfsym_ifunc_impl;
}

int elfsym_ifunc(int x) __attribute__((ifunc("elfsym_resolve")));

__asm__(".text\n"
        ".p2align 6\n"
        ".globl elfsym_outer\n"
        ".type elfsym_outer, @function\n"
        "elfsym_outer:\n"
        ".skip 16, 0xcc\n"
        ".globl elfsym_inner\n"
        ".type elfsym_inner, @function\n"
        "elfsym_inner:\n"
        ".skip 16, 0xcc\n"
        ".size elfsym_inner, 16\n"
        ".skip 32, 0xcc\n"
        ".size elfsym_outer, 64\n"
        ".skip 16, 0xcc\n"
        ".globl elfsym_nosize\n"
        ".type elfsym_nosize, @function\n"
        "elfsym_nosize:\n"
        ".skip 16, 0xcc\n");

extern const char elfsym_outer[], elfsym_inner[], elfsym_nosize[];

void
elfsym_target_addresses(elfsym_target_addresses_t *out)
{
    out->local = (const void *)elfsym_local;
    out->resolver = (const void *)elfsym_resolve;
    out->outer = elfsym_outer;
    out->inner = elfsym_inner;
    out->nosize = elfsym_nosize;
}
