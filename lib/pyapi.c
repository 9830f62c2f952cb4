#include "pyapi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define Py_TPFLAGS_UNICODE_SUBCLASS (1UL << 28)
#define MAX_TOTAL_NFRAME            65535

#define FIELD(base, offset, type) (*(type *)((const char *)(base) + (offset)))

static void *
sym(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

void
mp_pyapi_version_string(unsigned long version, char *buf, size_t size)
{
    snprintf(buf, size, "%lu.%lu.%lu", (version >> 24) & 0xff, (version >> 16) & 0xff,
             (version >> 8) & 0xff);
}

/* Keeps the reason and clears the layout, so nothing reads the interpreter's memory. */
static mp_pyapi_status_t
unsupported(mp_pyapi_t *api, const char *why)
{
    api->unsupported_reason = why;
    api->layout = NULL;
    return MP_PYAPI_UNSUPPORTED;
}

mp_pyapi_status_t
mp_pyapi_resolve(mp_pyapi_t *api)
{
    memset(api, 0, sizeof(*api));
    /* Py_Version exists from 3.11 on; older interpreters are told apart by Py_GetVersion. */
    const unsigned long *version = sym("Py_Version");
    api->Py_GetVersion = (const char *(*)(void))sym("Py_GetVersion");
    api->PyMem_SetAllocator = (void (*)(int, mp_allocator_t *))sym("PyMem_SetAllocator");
    if (version == NULL) {
        return api->Py_GetVersion != NULL && api->PyMem_SetAllocator != NULL
                   ? unsupported(api, "older than 3.11")
                   : MP_PYAPI_NO_PYTHON;
    }
    api->version = *version;
    api->layout = mp_pylayout_for(api->version);

#define RESOLVE(name) (*(void **)&api->name = sym(#name))
    RESOLVE(PyMem_GetAllocator);
    RESOLVE(PyObject_GetArenaAllocator);
    RESOLVE(PyObject_SetArenaAllocator);
    RESOLVE(Py_IsInitialized);
    RESOLVE(PyGILState_GetThisThreadState);
    RESOLVE(PyCode_Addr2Line);
    RESOLVE(Py_AddPendingCall);
    RESOLVE(PyImport_ImportModule);
    RESOLVE(PyImport_GetModuleDict);
    RESOLVE(PyDict_GetItemString);
    RESOLVE(PyObject_GetAttrString);
    RESOLVE(PyCFunction_NewEx);
    RESOLVE(PyObject_CallFunctionObjArgs);
    RESOLVE(Py_DecRef);
    RESOLVE(PyErr_Clear);
    RESOLVE(Py_IncRef);
    RESOLVE(_PyMem_GetCurrentAllocatorName);
#undef RESOLVE
#define RESOLVE_AS(field, name) (*(void **)&api->field = sym(name))
    api->Py_None = sym("_Py_NoneStruct");
    api->PyCode_Type = sym("PyCode_Type");
    /* Exported from 3.13 on; 3.11 and 3.12 walk the gilstate thread state anyway. */
    RESOLVE_AS(PyThreadState_GetUnchecked, "PyThreadState_GetUnchecked");
#undef RESOLVE_AS

    static char why[160];
    if (api->layout == NULL) {
        snprintf(why, sizeof(why), "no frame layout for this version");
        return unsupported(api, why);
    }
    /* Free-threaded builds (3.13t and later) have another object header, thread-local
     * bytecode and no GIL: none of the layouts describes them. Py_GetVersion() says so in
     * every such build; the debug offsets below say it again for 3.13+. */
    if (api->Py_GetVersion != NULL && strstr(api->Py_GetVersion(), "free-threading") != NULL) {
        return unsupported(api, "free-threaded build");
    }
    if (api->PyMem_GetAllocator == NULL || api->PyMem_SetAllocator == NULL ||
        api->PyGILState_GetThisThreadState == NULL || api->PyCode_Addr2Line == NULL ||
        api->Py_IsInitialized == NULL || api->PyCode_Type == NULL ||
        (api->layout->tstate_source == MP_TSTATE_ATTACHED &&
         api->PyThreadState_GetUnchecked == NULL)) {
        return unsupported(api, "a C API function is missing");
    }
    /* 3.13+: _PyRuntime begins with _Py_DebugOffsets, the interpreter's own statement of its
     * layout. A patch release or a distribution build that moved a field is refused here
     * rather than misread later. */
    if (mp_pylayout_check_debug_offsets(api->layout, sym("_PyRuntime"), api->version, why,
                                        sizeof(why)) < 0) {
        return unsupported(api, why);
    }
    return MP_PYAPI_OK;
}

static const char *
newest_frame(const mp_pylayout_t *L, const char *tstate)
{
    if (L->tstate_current_frame >= 0) {
        return FIELD(tstate, L->tstate_current_frame, const char *);
    }
    const char *cframe = FIELD(tstate, L->tstate_cframe, const char *);
    return cframe != NULL ? FIELD(cframe, L->cframe_current_frame, const char *) : NULL;
}

/* The frame's code object: f_code (3.11, 3.12), f_executable (3.13), or the object a 3.14+
 * _PyStackRef f_executable refers to once its tag bits are cleared. */
static const char *
code_of(const mp_pylayout_t *L, const char *frame)
{
    uintptr_t bits = FIELD(frame, L->frame_code, uintptr_t);
    return (const char *)(bits & ~L->code_tag_bits);
}

/*
 * A frame tracemalloc skips (_PyFrame_IsIncomplete): a shim frame owned by the C stack or the
 * interpreter, or a frame whose code has not yet reached its first traceable instruction.
 */
static inline __attribute__((always_inline)) int
is_incomplete(const mp_pylayout_t *L, const char *frame, const char *code)
{
    int owner = (unsigned char)FIELD(frame, L->frame_owner, char);
    if (L->incomplete_rule == MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE && owner >= L->owner_shim) {
        return 1;
    }
    if (owner == L->owner_generator) {
        return 0;
    }
    const char *first =
        code + L->code_code_adaptive + 2 * (ptrdiff_t)FIELD(code, L->code_firsttraceable, int);
    return FIELD(frame, L->frame_instr, const char *) < first;
}

int
mp_pyapi_code_line(const mp_pyapi_t *api, const void *code, int offset)
{
    int line = api->PyCode_Addr2Line((void *)code, offset);
    return line < 0 ? 0 : line;
}

/* The thread state whose frames tracemalloc would record for an allocation on this thread. */
static const char *
this_thread_state(const mp_pyapi_t *api)
{
    if (api->layout->tstate_source == MP_TSTATE_ATTACHED) {
        const char *attached = api->PyThreadState_GetUnchecked();
        if (attached != NULL) {
            return attached;
        }
    }
    return api->PyGILState_GetThisThreadState();
}

static size_t
put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* The str at offset field of a code object (co_filename, co_qualname) when it is a ready str
 * (its state word in *state), else NULL. */
static const char *
code_str(const mp_pylayout_t *L, const char *code, int field, uint32_t *state)
{
    const char *str = FIELD(code, field, const char *);
    if (str == NULL) {
        return NULL;
    }
    const char *type = FIELD(str, L->object_type, const char *);
    if (type == NULL || !(FIELD(type, L->type_flags, unsigned long) & Py_TPFLAGS_UNICODE_SUBCLASS)) {
        return NULL;
    }
    *state = FIELD(str, L->str_state, uint32_t);
    if (L->str_ready_bit >= 0 && !((*state >> L->str_ready_bit) & 1)) {
        return NULL;
    }
    return str;
}

/*
 * A str field of a code object as UTF-8: ASCII strings are used in place, others are encoded
 * into scratch. Returns 0 and sets *name and *len, or -1 when it is not a ready str (tracemalloc
 * then reports "<unknown>" for a file name).
 */
static int
code_str_utf8(const mp_pylayout_t *L, const char *code, int field, char *scratch,
              size_t scratch_size, const char **name, size_t *len)
{
    uint32_t state;
    const char *str = code_str(L, code, field, &state);
    if (str == NULL) {
        return -1;
    }
    size_t length = (size_t)FIELD(str, L->str_length, int64_t);
    unsigned kind = (state >> L->str_kind_shift) & 7;
    int compact = (state >> L->str_compact_bit) & 1;
    int ascii = (state >> L->str_ascii_bit) & 1;
    const char *data;
    if (compact) {
        data = str + (ascii ? L->str_ascii_size : L->str_compact_size);
    } else {
        data = FIELD(str, L->str_data_any, const char *);
    }
    if (data == NULL) {
        return -1;
    }
    if (ascii) {
        *name = data;
        *len = length;
        return 0;
    }
    if (kind != 1 && kind != 2 && kind != 4) {
        return -1;
    }
    /* Long non-ASCII names that do not fit are cut at a character boundary. */
    size_t used = 0;
    for (size_t i = 0; i < length && used + 4 <= scratch_size; i++) {
        uint32_t c = kind == 1   ? ((const uint8_t *)data)[i]
                     : kind == 2 ? ((const uint16_t *)data)[i]
                                 : ((const uint32_t *)data)[i];
        used += put_utf8(scratch + used, c);
    }
    *name = scratch;
    *len = used;
    return 0;
}

/* The newest frame from frame on that tracemalloc would report, or NULL; *code_out receives its
 * code object. Inlined: the walk calls it once per frame, most of a sample's cost in exact
 * mode. */
static inline __attribute__((always_inline)) const char *
first_complete(const mp_pyapi_t *api, const char *frame, const char **code_out)
{
    const mp_pylayout_t *L = api->layout;
    for (; frame != NULL; frame = FIELD(frame, L->frame_previous, const char *)) {
        /* Shim frames first: a 3.13 C-stack entry frame holds None, not code. */
        int owner = (unsigned char)FIELD(frame, L->frame_owner, char);
        if (L->incomplete_rule == MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE && owner >= L->owner_shim) {
            continue;
        }
        const char *code = code_of(L, frame);
        if (code == NULL || FIELD(code, L->object_type, const void *) != api->PyCode_Type) {
            continue;
        }
        if (is_incomplete(L, frame, code)) {
            continue;
        }
        *code_out = code;
        return frame;
    }
    return NULL;
}

/* Stores a complete frame the walk reached: its code object and offset, nothing read from the
 * code object (the profiler reads its lines and names only for frames it has not seen). */
static inline void
store_frame(const mp_pylayout_t *L, const char *frame, const char *code, mp_pyframe_t *f)
{
    const char *instr = FIELD(frame, L->frame_instr, const char *);
    f->code = code;
    f->offset = (int32_t)(instr - (code + L->code_code_adaptive));
}

int
mp_pyapi_walk_groups(const mp_pyapi_t *api, int max, mp_pyframe_t *out, int *stored,
                     uintptr_t *anchors, int max_groups, int *ngroups)
{
    const mp_pylayout_t *L = api->layout;
    const char *tstate = this_thread_state(api);
    *stored = 0;
    *ngroups = 0;
    if (tstate == NULL) {
        return 0;
    }
    /* 3.11: the calls' _PyCFrames, newest first, one per is_entry frame. */
    const char *cframe = L->frame_is_entry >= 0 ? FIELD(tstate, L->tstate_cframe, const char *)
                                                : NULL;
    int total = 0, n = 0, group = 0;
    for (const char *frame = newest_frame(L, tstate); frame != NULL;
         frame = FIELD(frame, L->frame_previous, const char *)) {
        int owner = (unsigned char)FIELD(frame, L->frame_owner, char);
        int ends_group = 0;
        uintptr_t anchor = 0;
        if (L->incomplete_rule == MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE && owner >= L->owner_shim) {
            /* 3.12+: an entry frame, on the C stack of the call whose frames came before. */
            ends_group = 1;
            anchor = (uintptr_t)frame;
        } else {
            const char *code = code_of(L, frame);
            if (code != NULL && FIELD(code, L->object_type, const void *) == api->PyCode_Type &&
                !is_incomplete(L, frame, code)) {
                if (n < max) {
                    store_frame(L, frame, code, &out[n]);
                    out[n++].group = (uint32_t)group;
                }
                if (total < MAX_TOTAL_NFRAME) {
                    total++;
                }
            }
            if (L->frame_is_entry >= 0 && FIELD(frame, L->frame_is_entry, char)) {
                ends_group = 1;
                anchor = (uintptr_t)cframe;
                cframe = cframe != NULL ? FIELD(cframe, L->cframe_previous, const char *) : NULL;
            }
        }
        if (ends_group) {
            if (group < max_groups) {
                anchors[group] = anchor;
            }
            group++;
        }
    }
    *stored = n;
    /* The groups the stored frames span; an open last group (no entry frame below it, which
     * the interpreter never leaves) has no anchor. */
    int spanned = n > 0 ? (int)out[n - 1].group + 1 : 0;
    if (spanned > group && spanned <= max_groups) {
        anchors[spanned - 1] = 0;
    }
    *ngroups = spanned < max_groups ? spanned : max_groups;
    return total;
}

int
mp_pyapi_walk(const mp_pyapi_t *api, int max, mp_pyframe_t *out, int *stored)
{
    const mp_pylayout_t *L = api->layout;
    const char *tstate = this_thread_state(api);
    *stored = 0;
    if (tstate == NULL) {
        return 0;
    }
    int total = 0;
    int n = 0;
    const char *code = NULL;
    for (const char *frame = first_complete(api, newest_frame(L, tstate), &code); frame != NULL;
         frame = first_complete(api, FIELD(frame, L->frame_previous, const char *), &code)) {
        if (n < max) {
            /* The byte offset tracemalloc asks PyCode_Addr2Line about: _PyInterpreterFrame_LASTI
             * times sizeof(_Py_CODEUNIT), from prev_instr (3.11, 3.12: the code unit before the
             * next instruction) or instr_ptr (3.13+: the instruction being executed), both
             * relative to co_code_adaptive in builds with the GIL. */
            store_frame(L, frame, code, &out[n++]);
        }
        if (total < MAX_TOTAL_NFRAME) {
            total++;
        }
    }
    *stored = n;
    return total;
}

void
mp_pyapi_filename(const mp_pyapi_t *api, const void *code, char *scratch, size_t scratch_size,
                  const char **name, size_t *len)
{
    *name = "<unknown>";
    *len = 9;
    code_str_utf8(api->layout, code, api->layout->code_filename, scratch, scratch_size, name,
                  len);
}

int
mp_pyapi_qualname(const mp_pyapi_t *api, const void *code, char *scratch, size_t scratch_size,
                  const char **name, size_t *len)
{
    return code_str_utf8(api->layout, code, api->layout->code_qualname, scratch, scratch_size,
                         name, len);
}

mp_pyapi_position_t
mp_pyapi_position(const mp_pyapi_t *api)
{
    mp_pyapi_position_t pos = {NULL, NULL};
    if (api->layout == NULL) {
        return pos;
    }
    const char *tstate = this_thread_state(api);
    if (tstate == NULL) {
        return pos;
    }
    const char *code = NULL;
    const char *frame = first_complete(api, newest_frame(api->layout, tstate), &code);
    if (frame != NULL) {
        pos.frame = frame;
        pos.instr = FIELD(frame, api->layout->frame_instr, const char *);
    }
    return pos;
}
