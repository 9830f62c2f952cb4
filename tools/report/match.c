/* fnmatch as Python implements it (fnmatch.translate compiled to a regular
 * expression), reproduced on code points: '*' any run, '?' one code point,
 * '[...]' a class with Python's exact handling of '!', ']' first, ranges,
 * reversed ranges (dropped) and unterminated brackets (literal '[').  Python
 * has no escape character in fnmatch, and neither has this. */
#include "match.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { T_LIT, T_ANY, T_STAR, T_CLASS };

typedef struct token {
    int type;
    uint32_t cp;       /* T_LIT */
    int negate;        /* T_CLASS */
    size_t first, n;   /* T_CLASS: ranges[first .. first + n) */
} token;

typedef struct range {
    uint32_t lo, hi;
} range;

struct glob_pattern {
    token *toks;
    size_t ntoks;
    range *ranges;
    size_t nranges, capranges;
};

/* Lenient decoding: stray bytes map to lone surrogates (like Python's
 * surrogateescape) so that every input has a well-defined match. */
static uint32_t *decode(const char *s, size_t len, size_t *out_n)
{
    uint32_t *cp = malloc((len ? len : 1) * sizeof *cp);
    if (!cp)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0, i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
        if (k == 0) {
            cp[n++] = c;
            i++;
            continue;
        }
        int ok = k <= 3 && len - i > k;
        uint32_t v = k == 1 ? (c & 0x1f) : k == 2 ? (c & 0x0f) : (c & 0x07);
        for (size_t j = 1; ok && j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                ok = 0;
            else
                v = (v << 6) | (p[i + j] & 0x3f);
        }
        if (ok) {
            cp[n++] = v;
            i += k + 1;
        } else {
            cp[n++] = 0xdc00 + c;
            i++;
        }
    }
    /* tracemalloc's _normalize_filename: "x.pyc" -> "x.py" */
    if (n >= 4 && cp[n - 4] == '.' && cp[n - 3] == 'p' && cp[n - 2] == 'y' && cp[n - 1] == 'c')
        n--;
    *out_n = n;
    return cp;
}

static int add_range(glob_pattern *g, uint32_t lo, uint32_t hi)
{
    if (g->nranges == g->capranges) {
        size_t cap = g->capranges ? g->capranges * 2 : 8;
        range *r = realloc(g->ranges, cap * sizeof *r);
        if (!r)
            return -1;
        g->ranges = r;
        g->capranges = cap;
    }
    g->ranges[g->nranges++] = (range){lo, hi};
    return 0;
}

#define RANGE_MARK UINT32_MAX

/* Build the class for pat[i..j) (the text between '[' and ']'), following
 * fnmatch._translate step by step. */
static int compile_class(glob_pattern *g, const uint32_t *pat, size_t i, size_t j, token *t)
{
    /* chunks: code points back to back, chunk c spans [cs[c], cs[c+1]) */
    size_t len = j - i;
    uint32_t *buf = malloc((len + 2) * sizeof *buf);
    size_t *cs = malloc((len + 3) * sizeof *cs);
    uint32_t *toks = malloc((2 * len + 4) * sizeof *toks);
    int rc = -1;
    if (!buf || !cs || !toks)
        goto out;
    size_t nb = 0, nc = 0;
    int has_dash = 0;
    for (size_t k = i; k < j; k++)
        has_dash |= pat[k] == '-';
    if (!has_dash) {
        cs[nc++] = 0;
        memcpy(buf, pat + i, len * sizeof *buf);
        nb = len;
    } else {
        size_t k = (pat[i] == '!') ? i + 2 : i + 1;
        for (;;) {
            while (k < j && pat[k] != '-')
                k++;
            if (k >= j)
                break;
            cs[nc++] = nb;
            memcpy(buf + nb, pat + i, (k - i) * sizeof *buf);
            nb += k - i;
            i = k + 1;
            k = k + 3;
        }
        if (i < j) {
            cs[nc++] = nb;
            memcpy(buf + nb, pat + i, (j - i) * sizeof *buf);
            nb += j - i;
        } else {
            buf[nb++] = '-'; /* chunks[-1] += '-' */
        }
        /* Remove empty ranges (a-b with a > b), right to left. */
        cs[nc] = nb;
        for (size_t c = nc - 1; c >= 1; c--) {
            size_t l0 = cs[c - 1], l1 = cs[c], e1 = cs[c + 1];
            if (l1 > l0 && e1 > l1 && buf[l1 - 1] > buf[l1]) {
                /* chunks[c-1] = chunks[c-1][:-1] + chunks[c][1:] */
                memmove(buf + l1 - 1, buf + l1 + 1, (nb - l1 - 1) * sizeof *buf);
                nb -= 2;
                for (size_t d = c; d < nc; d++)
                    cs[d] = cs[d + 1] - 2;
                nc--;
                cs[nc] = nb;
            }
        }
    }
    cs[nc] = nb;
    /* Token stream: literals, RANGE_MARK for the unescaped '-' joins. */
    size_t nt = 0;
    for (size_t c = 0; c < nc; c++) {
        if (c)
            toks[nt++] = RANGE_MARK;
        for (size_t k = cs[c]; k < cs[c + 1]; k++)
            toks[nt++] = buf[k];
    }
    t->type = T_CLASS;
    t->negate = 0;
    t->first = g->nranges;
    size_t k = 0;
    if (nt == 0) { /* empty: never matches */
        t->n = 0;
        rc = 0;
        goto out;
    }
    if (toks[0] == '!') { /* "!" alone (negated empty) matches anything */
        t->negate = 1;
        k = 1;
    }
    while (k < nt) {
        uint32_t c1 = toks[k] == RANGE_MARK ? '-' : toks[k];
        k++;
        if (k < nt && toks[k] == RANGE_MARK) {
            k++;
            if (k >= nt) {
                if (add_range(g, c1, c1) < 0 || add_range(g, '-', '-') < 0)
                    goto out;
                break;
            }
            uint32_t c2 = toks[k] == RANGE_MARK ? '-' : toks[k];
            k++;
            if (c1 <= c2 && add_range(g, c1, c2) < 0)
                goto out;
        } else if (add_range(g, c1, c1) < 0) {
            goto out;
        }
    }
    t->n = g->nranges - t->first;
    rc = 0;
out:
    free(buf);
    free(cs);
    free(toks);
    return rc;
}

glob_pattern *glob_compile(const char *pattern, size_t len)
{
    size_t n;
    uint32_t *pat = decode(pattern, len, &n);
    glob_pattern *g = calloc(1, sizeof *g);
    if (!pat || !g)
        goto fail;
    g->toks = malloc((n ? n : 1) * sizeof *g->toks);
    if (!g->toks)
        goto fail;
    size_t i = 0;
    while (i < n) {
        uint32_t c = pat[i++];
        token t = {.type = T_LIT, .cp = c};
        if (c == '*') {
            if (g->ntoks && g->toks[g->ntoks - 1].type == T_STAR)
                continue;
            t.type = T_STAR;
        } else if (c == '?') {
            t.type = T_ANY;
        } else if (c == '[') {
            size_t j = i;
            if (j < n && pat[j] == '!')
                j++;
            if (j < n && pat[j] == ']')
                j++;
            while (j < n && pat[j] != ']')
                j++;
            if (j < n) {
                if (compile_class(g, pat, i, j, &t) < 0)
                    goto fail;
                i = j + 1;
            }
        }
        g->toks[g->ntoks++] = t;
    }
    free(pat);
    return g;
fail:
    free(pat);
    glob_free(g);
    return NULL;
}

void glob_free(glob_pattern *g)
{
    if (!g)
        return;
    free(g->toks);
    free(g->ranges);
    free(g);
}

static int tok_match(const glob_pattern *g, const token *t, uint32_t c)
{
    switch (t->type) {
    case T_LIT: return t->cp == c;
    case T_ANY: return 1;
    case T_CLASS: {
        int in = 0;
        for (size_t k = 0; k < t->n && !in; k++)
            in = g->ranges[t->first + k].lo <= c && c <= g->ranges[t->first + k].hi;
        return in != t->negate;
    }
    default: return 0;
    }
}

int glob_match(const glob_pattern *g, const char *name, size_t len)
{
    size_t n;
    uint32_t *s = decode(name, len, &n);
    if (!s)
        return -1;
    /* Single-token wildcards: backtracking to the last '*' is complete. */
    size_t pi = 0, si = 0, star_pi = SIZE_MAX, star_si = 0;
    const size_t np = g->ntoks;
    while (si < n) {
        if (pi < np && g->toks[pi].type == T_STAR) {
            star_pi = pi++;
            star_si = si;
        } else if (pi < np && tok_match(g, &g->toks[pi], s[si])) {
            pi++;
            si++;
        } else if (star_pi != SIZE_MAX) {
            pi = star_pi + 1;
            si = ++star_si;
        } else {
            free(s);
            return 0;
        }
    }
    while (pi < np && g->toks[pi].type == T_STAR)
        pi++;
    free(s);
    return pi == np;
}
