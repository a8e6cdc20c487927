/* Native state of the risk engine: the windows of centime.risk.windows.WindowSet and the
 * per-party state of centime.risk.field._Party as C arrays (docs/risk.md, "Speed and memory").
 *
 * The Python classes are the reference: every operation here is theirs, in the same order, on
 * the same IEEE doubles (a running total adds each value and subtracts a bucket as its window
 * leaves it behind), so the results are bit for bit theirs (tests/risk/test_cstate.py checks
 * it on random streams). Built by setup.py as an optional extension, compiled with
 * -ffp-contract=off (no fused multiply-add: a*b-c must round twice, as Python does).
 *
 * Timestamps, counts and bucket indices are int64 (a timestamp outside raises OverflowError).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline int64_t floordiv64(int64_t a, int64_t b) {
    int64_t q = a / b; /* b > 0 (checked when the shape is built) */
    if ((a % b) != 0 && a < 0) q -= 1;
    return q;
}

static int as_int64(PyObject *o, int64_t *out) {
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = (int64_t)v;
    return 0;
}

/* float(a - b) / divisor, as `float(a - b) / NS_PER_X` in Python (exact difference,
 * correctly rounded to a double, then divided). */
static double diff_over(int64_t a, int64_t b, double divisor, int *error) {
    int64_t d;
    if (!__builtin_sub_overflow(a, b, &d)) return (double)d / divisor;
    PyObject *pa = PyLong_FromLongLong(a), *pb = PyLong_FromLongLong(b), *pd = NULL;
    double result = -1.0;
    if (pa && pb) pd = PyNumber_Subtract(pa, pb);
    if (pd) {
        result = PyLong_AsDouble(pd);
        if (!(result == -1.0 && PyErr_Occurred())) result = result / divisor;
        else *error = 1;
    } else {
        *error = 1;
    }
    Py_XDECREF(pa);
    Py_XDECREF(pb);
    Py_XDECREF(pd);
    return result;
}

/* ------------------------------------------------------------------------------------------
 * Allocation. Every block of this file comes from cs_malloc / cs_calloc / cs_realloc, so a test
 * can make the n-th one from now fail as if memory ran out (_fail_alloc_after, below): each
 * operation either succeeds or raises MemoryError having changed nothing (tests/risk/
 * test_cstate_oom.py). In production the countdown is -1: one predictable branch each.
 */
static Py_ssize_t alloc_countdown = -1;

static inline int alloc_fails(void) {
    if (__builtin_expect(alloc_countdown < 0, 1)) return 0;
    return alloc_countdown-- == 0;
}

static void *cs_malloc(size_t n) { return alloc_fails() ? NULL : PyMem_Malloc(n); }
static void *cs_calloc(size_t n, size_t size) { return alloc_fails() ? NULL : PyMem_Calloc(n, size); }
static void *cs_realloc(void *p, size_t n) { return alloc_fails() ? NULL : PyMem_Realloc(p, n); }

/* ------------------------------------------------------------------------------------------
 * Ring: the buckets of one window, oldest first, in buf[start:start+len] (entries of any
 * type whose first field is the int64 bucket), and the newest bucket (head). The two kinds of
 * window (WWin: count and sum, WindowSet's; PWin: count, sum, max and extra, the model
 * party's) share it; each keeps its own running totals, subtracted as buckets leave.
 */
typedef struct {
    void *buf;
    int64_t head;
    int32_t start, len, cap;
} Ring;

static void ring_init(Ring *r) {
    r->buf = NULL;
    r->head = -1;
    r->start = r->len = r->cap = 0;
}

static inline int64_t ring_bucket(const Ring *r, size_t entry, int32_t k) {
    return *(const int64_t *)((const char *)r->buf + (size_t)(r->start + k) * entry);
}

/* How many of the oldest buckets leave when the window moves to bucket (> head); -1 when the
 * window starts over (never used, or bucket is a whole window past head). */
static inline int32_t ring_leaving(const Ring *r, size_t entry, int64_t size, int64_t bucket) {
    if (r->head < 0 || bucket - r->head >= size) return -1;
    int64_t oldest = bucket - size; /* buckets at or before it leave the window */
    int32_t k = 0;
    while (k < r->len && ring_bucket(r, entry, k) <= oldest) k++;
    return k;
}

static inline void ring_drop(Ring *r, int32_t k, int64_t bucket) {
    if (k < 0) {
        r->start = r->len = 0;
    } else {
        r->start += k;
        r->len -= k;
        if (r->len == 0) r->start = 0;
    }
    r->head = bucket;
}

static int ring_grow(Ring *r, size_t entry, int64_t width, int64_t size, int64_t t);

/* Before anything counts at time t (width ns per bucket, size buckets): a larger buffer when
 * the window, once moved to t, would have no room left for a new bucket. Only the capacity
 * changes, so a failure (MemoryError) leaves the window exactly as it was. Inline: the
 * common case is one comparison. */
static inline int ring_reserve(Ring *r, size_t entry, int64_t width, int64_t size, int64_t t) {
    if (r->start + r->len < r->cap || r->start > 0) return 0; /* room, or room once compacted */
    return ring_grow(r, entry, width, size, t);
}

static int ring_grow(Ring *r, size_t entry, int64_t width, int64_t size, int64_t t) {
    /* full: room once moved to t's bucket b if a bucket leaves, the oldest (first <= b - size:
     * t >= (first + size) * width, no division), or the window starts over */
    if (r->cap > 0 && r->head >= 0 &&
        (__int128)t >= ((__int128)ring_bucket(r, entry, 0) + size) * width)
        return 0;
    if (r->cap > 0 && r->head < 0 && floordiv64(t, width) > r->head) return 0;
    if (r->cap >= (1 << 29)) {
        PyErr_NoMemory();
        return -1;
    }
    int32_t cap = r->cap ? r->cap * 2 : 1;
    void *buf = cs_realloc(r->buf, (size_t)cap * entry);
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    r->buf = buf;
    r->cap = cap;
    return 0;
}

/* The slot of the newest bucket after a reserve and a move: the last entry when it is head's
 * (an older event counts in the newest), else a new one at the end (1 in *fresh). */
static inline void *ring_newest(Ring *r, size_t entry, int *fresh) {
    char *buf = r->buf;
    if (r->len && ring_bucket(r, entry, r->len - 1) == r->head) {
        *fresh = 0;
        return buf + (size_t)(r->start + r->len - 1) * entry;
    }
    if (r->start + r->len == r->cap) { /* room at the front (ring_reserve saw to it) */
        memmove(buf, buf + (size_t)r->start * entry, (size_t)r->len * entry);
        r->start = 0;
    }
    *fresh = 1;
    r->len++;
    return buf + (size_t)(r->start + r->len - 1) * entry;
}

/* ------------------------------------------------------------------------------------------
 * One window of a WindowSet: the non-empty buckets (bucket, count, sum) with the running
 * totals.
 */
typedef struct {
    int64_t bucket;
    int64_t count;
    double sum;
} WEntry;

typedef struct {
    Ring r;
    int64_t total_count;
    double total_sum;
} WWin;

static void wwin_init(WWin *w) {
    ring_init(&w->r);
    w->total_count = 0;
    w->total_sum = 0.0;
}

/* The running totals of w once moved to bucket (> head), in *count and *sum; returns how
 * many buckets leave (ring_leaving). */
static inline int32_t wwin_after(const WWin *w, int64_t size, int64_t bucket, int64_t *count,
                                 double *sum) {
    int32_t k = ring_leaving(&w->r, sizeof(WEntry), size, bucket);
    int64_t total_count = 0;
    double total_sum = 0.0;
    if (k >= 0) {
        total_count = w->total_count;
        total_sum = w->total_sum;
        const WEntry *e = (const WEntry *)w->r.buf + w->r.start;
        for (int32_t i = 0; i < k; i++) {
            total_count -= e[i].count;
            total_sum -= e[i].sum;
        }
    }
    *count = total_count;
    *sum = total_sum;
    return k;
}

static void wwin_advance(WWin *w, int64_t size, int64_t bucket) {
    int32_t k = wwin_after(w, size, bucket, &w->total_count, &w->total_sum);
    ring_drop(&w->r, k, bucket);
}

/* Counts in the newest bucket (after windows_reserve and the move). */
static inline void wwin_put(WWin *w, double value, int64_t count) {
    int fresh;
    WEntry *e = ring_newest(&w->r, sizeof(WEntry), &fresh);
    if (fresh) {
        e->bucket = w->r.head;
        e->count = count;
        e->sum = value;
    } else {
        e->count += count;
        e->sum += value;
    }
    w->total_count += count;
    w->total_sum += value;
}

/* ------------------------------------------------------------------------------------------
 * Shapes: the widths and sizes of a tuple of WindowSpec, one per tuple (kept by identity).
 */
typedef struct {
    PyObject_VAR_HEAD int64_t dims[]; /* width 0, size 0, width 1, size 1, ... */
} ShapeObject;

static PyTypeObject ShapeType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "centime.risk._cstate._Shape",
    .tp_basicsize = sizeof(ShapeObject),
    .tp_itemsize = 2 * sizeof(int64_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

#define SHAPE_CACHE 32
static PyObject *shape_keys[SHAPE_CACHE];
static ShapeObject *shape_values[SHAPE_CACHE];
static int shape_count = 0;

static ShapeObject *shape_of(PyObject *specs) {
    for (int i = 0; i < shape_count; i++) {
        if (shape_keys[i] == specs) {
            Py_INCREF(shape_values[i]);
            return shape_values[i];
        }
    }
    PyObject *seq = PySequence_Fast(specs, "windows: specs must be a sequence of WindowSpec");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    ShapeObject *shape = PyObject_NewVar(ShapeObject, &ShapeType, n);
    if (shape == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *spec = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *width = PyObject_GetAttrString(spec, "width_ns");
        PyObject *size = width ? PyObject_GetAttrString(spec, "buckets") : NULL;
        int bad = size == NULL || as_int64(width, &shape->dims[2 * i]) < 0 ||
                  as_int64(size, &shape->dims[2 * i + 1]) < 0;
        Py_XDECREF(width);
        Py_XDECREF(size);
        if (!bad && (shape->dims[2 * i] <= 0 || shape->dims[2 * i + 1] <= 0)) {
            PyErr_SetString(PyExc_ValueError, "windows: a window needs a positive width and size");
            bad = 1;
        }
        if (bad) {
            Py_DECREF(seq);
            Py_DECREF(shape);
            return NULL;
        }
    }
    Py_DECREF(seq);
    if (shape_count < SHAPE_CACHE && PyTuple_CheckExact(specs)) {
        Py_INCREF(specs);
        Py_INCREF(shape);
        shape_keys[shape_count] = specs;
        shape_values[shape_count] = shape;
        shape_count++;
    }
    return shape;
}

/* ------------------------------------------------------------------------------------------
 * WindowSet: count and sum per window, for one key (centime.risk.windows.WindowSet).
 */
typedef struct {
    PyObject_VAR_HEAD ShapeObject *shape;
    WWin w[];
} WindowSetObject;

static PyObject *WindowSet_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *specs;
    static char *kwlist[] = {"specs", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:WindowSet", kwlist, &specs)) return NULL;
    ShapeObject *shape = shape_of(specs);
    if (shape == NULL) return NULL;
    Py_ssize_t n = Py_SIZE(shape);
    WindowSetObject *self = (WindowSetObject *)type->tp_alloc(type, n);
    if (self == NULL) {
        Py_DECREF(shape);
        return NULL;
    }
    self->shape = shape;
    for (Py_ssize_t i = 0; i < n; i++) wwin_init(&self->w[i]);
    return (PyObject *)self;
}

static void WindowSet_dealloc(WindowSetObject *self) {
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) PyMem_Free(self->w[i].r.buf);
    Py_XDECREF(self->shape);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void windows_move(WWin *w, const int64_t *dims, Py_ssize_t n, int64_t now) {
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t bucket = floordiv64(now, dims[2 * i]);
        if (bucket > w[i].r.head) wwin_advance(&w[i], dims[2 * i + 1], bucket);
    }
}

/* Room in every window for an event at t, before anything moves or counts (ring_reserve). */
static inline int windows_reserve(WWin *w, const int64_t *dims, Py_ssize_t n, int64_t t) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (ring_reserve(&w[i].r, sizeof(WEntry), dims[2 * i], dims[2 * i + 1], t) < 0) return -1;
    return 0;
}

/* Windows are independent: moving them all first, then adding, is the reference's
 * per-window move-then-add. Room was made (windows_reserve): nothing here fails. */
static void windows_put(WWin *w, const int64_t *dims, Py_ssize_t n, int64_t t, double value,
                        int64_t count) {
    windows_move(w, dims, n, t);
    for (Py_ssize_t i = 0; i < n; i++) wwin_put(&w[i], value, count);
}

static int windows_add(WWin *w, const int64_t *dims, Py_ssize_t n, int64_t t, double value,
                       int64_t count) {
    if (windows_reserve(w, dims, n, t) < 0) return -1;
    windows_put(w, dims, n, t, value, count);
    return 0;
}

/* A window array and the ring buffers in it: a failed reserve may have allocated some. */
static void wins_free(WWin *w, Py_ssize_t n) {
    if (w == NULL) return;
    for (Py_ssize_t i = 0; i < n; i++) PyMem_Free(w[i].r.buf);
    PyMem_Free(w);
}

/* An event counted in windows a reserve already made room in (rules_apply): moved, then a
 * window still full from its start (a reserve that missed it) grows as it did before there
 * were reserves; none does. */
static int windows_count(WWin *w, const int64_t *dims, Py_ssize_t n, int64_t t, double value) {
    windows_move(w, dims, n, t);
    for (Py_ssize_t i = 0; i < n; i++)
        if (w[i].r.start + w[i].r.len == w[i].r.cap && w[i].r.start == 0 &&
            ring_grow(&w[i].r, sizeof(WEntry), dims[2 * i], dims[2 * i + 1], t) < 0)
            return -1;
    for (Py_ssize_t i = 0; i < n; i++) wwin_put(&w[i], value, 1);
    return 0;
}

static PyObject *WindowSet_add(WindowSetObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "add(timestamp_ns, value, count=1)");
        return NULL;
    }
    int64_t t, count = 1;
    if (as_int64(args[0], &t) < 0) return NULL;
    double value = PyFloat_AsDouble(args[1]);
    if (value == -1.0 && PyErr_Occurred()) return NULL;
    if (nargs == 3) {
        if (as_int64(args[2], &count) < 0) return NULL;
        if (count > INT32_MAX || count < -INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "add: count out of range");
            return NULL;
        }
    }
    if (windows_add(self->w, self->shape->dims, Py_SIZE(self), t, value, count) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *WindowSet_read(WindowSetObject *self, PyObject *arg) {
    int64_t now;
    if (as_int64(arg, &now) < 0) return NULL;
    Py_ssize_t n = Py_SIZE(self);
    windows_move(self->w, self->shape->dims, n, now);
    PyObject *counts = PyList_New(n), *sums = PyList_New(n);
    if (counts == NULL || sums == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t c = self->w[i].total_count;
        /* Subtracting floats leaves dust: a window that holds nothing reads exactly zero. */
        PyObject *count = PyLong_FromLongLong(c);
        PyObject *sum = PyFloat_FromDouble(c ? self->w[i].total_sum : 0.0);
        if (count == NULL || sum == NULL) {
            Py_XDECREF(count);
            Py_XDECREF(sum);
            goto fail;
        }
        PyList_SET_ITEM(counts, i, count);
        PyList_SET_ITEM(sums, i, sum);
    }
    PyObject *result = PyTuple_Pack(2, counts, sums);
    Py_DECREF(counts);
    Py_DECREF(sums);
    return result;
fail:
    Py_XDECREF(counts);
    Py_XDECREF(sums);
    return NULL;
}

static int append_float(PyObject *out, double value) {
    PyObject *f = PyFloat_FromDouble(value);
    if (f == NULL) return -1;
    int rc = PyList_Append(out, f);
    Py_DECREF(f);
    return rc;
}

static PyObject *WindowSet_read_into(WindowSetObject *self, PyObject *const *args,
                                     Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "read_into(out: list, now_ns)");
        return NULL;
    }
    int64_t now;
    if (as_int64(args[1], &now) < 0) return NULL;
    Py_ssize_t n = Py_SIZE(self);
    windows_move(self->w, self->shape->dims, n, now);
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t c = self->w[i].total_count;
        if (append_float(args[0], (double)c) < 0 ||
            append_float(args[0], c ? self->w[i].total_sum : 0.0) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *WindowSet_held(WindowSetObject *self, PyObject *unused) {
    PyObject *out = PyList_New(Py_SIZE(self));
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) {
        PyObject *v = PyLong_FromLong(self->w[i].r.len);
        if (v == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, v);
    }
    return out;
}

static PyMethodDef WindowSet_methods[] = {
    {"add", (PyCFunction)(void (*)(void))WindowSet_add, METH_FASTCALL,
     "add(timestamp_ns, value, count=1): count an event."},
    {"read", (PyCFunction)WindowSet_read, METH_O,
     "read(now_ns) -> (counts, sums) of every window as of now_ns."},
    {"read_into", (PyCFunction)(void (*)(void))WindowSet_read_into, METH_FASTCALL,
     "read_into(out, now_ns): append count, sum of every window to out."},
    {"held", (PyCFunction)WindowSet_held, METH_NOARGS,
     "held() -> the number of buckets each window holds (memory)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject WindowSetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "centime.risk._cstate.WindowSet",
    .tp_doc = "Count and sum per window, for one key (centime.risk.windows.WindowSet).",
    .tp_basicsize = sizeof(WindowSetObject),
    .tp_itemsize = sizeof(WWin),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = WindowSet_new,
    .tp_dealloc = (destructor)WindowSet_dealloc,
    .tp_methods = WindowSet_methods,
};

/* ------------------------------------------------------------------------------------------
 * Party: one payer's or payee's history for the model's features (centime.risk.field._Party).
 * Per window the buckets (bucket, count, sum, max, extra) with running totals; extra is the
 * first-time payers in the 1- and 7-day windows, the sum of squares in the 30-day one.
 */
#define NS_PER_H 3600000000000LL
#define NS_PER_DAY (24 * NS_PER_H)
static const int64_t FIELD_DIMS[6] = {NS_PER_H, 24, 6 * NS_PER_H, 28, NS_PER_DAY, 30};

typedef struct {
    int64_t bucket;
    int64_t count;
    double sum, max, extra;
} PEntry;

typedef struct {
    Ring r;
    int64_t n;
    double total, extra;
} PWin;

typedef struct {
    PyObject_HEAD int64_t first_ns, last_ns, last_fraud_ns;
    PWin w[3];
    WWin *frauds; /* NULL until a label arrives: three windows, FIELD_DIMS */
} PartyObject;

static PyTypeObject PartyType;

static PyObject *Party_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "Party() takes no arguments");
        return NULL;
    }
    PartyObject *self = (PartyObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->first_ns = self->last_ns = self->last_fraud_ns = -1;
    for (int i = 0; i < 3; i++) {
        PWin *w = &self->w[i];
        ring_init(&w->r);
        w->n = 0;
        w->total = w->extra = 0.0;
    }
    self->frauds = NULL;
    return (PyObject *)self;
}

static void Party_dealloc(PartyObject *self) {
    for (int i = 0; i < 3; i++) PyMem_Free(self->w[i].r.buf);
    if (self->frauds) {
        for (int i = 0; i < 3; i++) PyMem_Free(self->frauds[i].r.buf);
        PyMem_Free(self->frauds);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void pwin_advance(PWin *w, int64_t size, int64_t bucket) {
    int32_t k = ring_leaving(&w->r, sizeof(PEntry), size, bucket);
    if (k < 0) {
        w->n = 0;
        w->total = 0.0;
        w->extra = 0.0;
    } else {
        int64_t n = w->n;
        double total = w->total, extra = w->extra;
        const PEntry *e = (const PEntry *)w->r.buf + w->r.start;
        for (int32_t i = 0; i < k; i++) {
            n -= e[i].count;
            total -= e[i].sum;
            extra -= e[i].extra;
        }
        w->n = n;
        w->total = total;
        w->extra = extra;
    }
    ring_drop(&w->r, k, bucket);
}

/* The largest amount the window holds (NaN when it holds no bucket), max() as Python's. */
static double pwin_max(const PWin *w) {
    if (w->r.len == 0) return NAN;
    const PEntry *e = (const PEntry *)w->r.buf + w->r.start;
    double best = e[0].max;
    for (int32_t k = 1; k < w->r.len; k++) best = e[k].max > best ? e[k].max : best;
    return best;
}

static void party_move(PartyObject *p, int64_t now) {
    for (int i = 0; i < 3; i++) {
        int64_t bucket = floordiv64(now, FIELD_DIMS[2 * i]);
        if (bucket > p->w[i].r.head) pwin_advance(&p->w[i], FIELD_DIMS[2 * i + 1], bucket);
    }
}

/* Room in the party's windows for an event at t, before anything changes (ring_reserve). */
static int party_reserve(PartyObject *p, int64_t t) {
    for (int i = 0; i < 3; i++)
        if (ring_reserve(&p->w[i].r, sizeof(PEntry), FIELD_DIMS[2 * i], FIELD_DIMS[2 * i + 1],
                         t) < 0)
            return -1;
    return 0;
}

/* Counts an event (field._Party.add) once party_reserve made room: nothing here fails. */
static void party_put(PartyObject *self, int64_t t, double amount, int64_t first_payer) {
    party_move(self, t);
    if (self->first_ns < 0) self->first_ns = t;
    self->last_ns = t;
    for (int i = 0; i < 3; i++) {
        PWin *w = &self->w[i];
        double extra = i == 2 ? amount * amount : (double)first_payer;
        int fresh;
        PEntry *e = ring_newest(&w->r, sizeof(PEntry), &fresh);
        if (fresh) {
            e->bucket = w->r.head;
            e->count = 1;
            e->sum = amount;
            e->max = amount;
            e->extra = extra;
        } else {
            e->count += 1;
            e->sum += amount;
            e->max = amount > e->max ? amount : e->max; /* max(last, amount) */
            e->extra += extra;
        }
        w->n += 1;
        w->total += amount;
        w->extra += extra;
    }
}

/* Counts an event; -1 with MemoryError set, and nothing changed, when memory runs out. */
static int party_add(PartyObject *self, int64_t t, double amount, int64_t first_payer) {
    if (party_reserve(self, t) < 0) return -1;
    party_put(self, t, amount, first_payer);
    return 0;
}

static PyObject *Party_add(PartyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "add(t_ns, amount, first_payer=0)");
        return NULL;
    }
    int64_t t, first_payer = 0;
    if (as_int64(args[0], &t) < 0) return NULL;
    double amount = PyFloat_AsDouble(args[1]);
    if (amount == -1.0 && PyErr_Occurred()) return NULL;
    if (nargs == 3 && as_int64(args[2], &first_payer) < 0) return NULL;
    if (party_add(self, t, amount, first_payer) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Party_add_fraud(PartyObject *self, PyObject *arg) {
    int64_t arrival;
    if (as_int64(arg, &arrival) < 0) return NULL;
    WWin *frauds = self->frauds;
    if (frauds == NULL) {
        frauds = cs_malloc(3 * sizeof(WWin));
        if (frauds == NULL) return PyErr_NoMemory();
        for (int i = 0; i < 3; i++) wwin_init(&frauds[i]);
    }
    if (windows_add(frauds, FIELD_DIMS, 3, arrival, 1.0, 1) < 0) {
        if (self->frauds == NULL) wins_free(frauds, 3); /* as it was: no labels */
        return NULL;
    }
    self->frauds = frauds;
    if (arrival > self->last_fraud_ns) self->last_fraud_ns = arrival;
    Py_RETURN_NONE;
}

static PyObject *Party_held(PartyObject *self, PyObject *unused) {
    return Py_BuildValue("[iii]", self->w[0].r.len, self->w[1].r.len, self->w[2].r.len);
}

static PyObject *Party_get_first_ns(PartyObject *self, void *c) {
    return PyLong_FromLongLong(self->first_ns);
}
static PyObject *Party_get_last_ns(PartyObject *self, void *c) {
    return PyLong_FromLongLong(self->last_ns);
}

static PyMethodDef Party_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Party_add, METH_FASTCALL,
     "add(t_ns, amount, first_payer=0): count an event."},
    {"add_fraud", (PyCFunction)Party_add_fraud, METH_O,
     "add_fraud(arrival_ns): count a fraud label at its arrival."},
    {"held", (PyCFunction)Party_held, METH_NOARGS,
     "held() -> the number of buckets each window holds (memory)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Party_getset[] = {
    {"first_ns", (getter)Party_get_first_ns, NULL, NULL, NULL},
    {"last_ns", (getter)Party_get_last_ns, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PartyType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "centime.risk._cstate.Party",
    .tp_doc = "One party's history for the model's features (centime.risk.field._Party).",
    .tp_basicsize = sizeof(PartyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Party_new,
    .tp_dealloc = (destructor)Party_dealloc,
    .tp_methods = Party_methods,
    .tp_getset = Party_getset,
};

/* Ratio of the amount to the 30-day mean, and its z-score (field._derived, op for op). */
static int derived(double amount, double n30, double sum30, double sq30, double *ratio,
                   double *z) {
    if (n30 <= 0) {
        *ratio = *z = NAN;
        return 0;
    }
    double mean = sum30 / n30;
    *ratio = mean > 0 ? amount / mean : NAN;
    double var = sq30 / n30 - mean * mean;
    double floor_var = 0.0 > var ? 0.0 : var;           /* max(var, 0.0) */
    double root = sqrt(floor_var);
    double tenth = 0.1 * mean;
    double spread = tenth > root ? tenth : root;        /* max(sqrt(...), 0.1 * mean) */
    if (n30 >= 2 && mean > 0) {
        if (spread == 0.0) {
            PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
            return -1;
        }
        *z = (amount - mean) / spread;
    } else {
        *z = NAN;
    }
    return 0;
}

static int party_arg(PyObject *o, PartyObject **out) {
    if (o == Py_None) {
        *out = NULL;
        return 0;
    }
    if (!PyObject_TypeCheck(o, &PartyType)) {
        PyErr_SetString(PyExc_TypeError, "expected a Party or None");
        return -1;
    }
    *out = (PartyObject *)o;
    return 0;
}

/* Appends n, mean, max of each window (field._party_windows). */
static int party_windows(PyObject *out, PartyObject *p) {
    for (int i = 0; i < 3; i++) {
        int64_t c = p ? p->w[i].n : 0;
        if (c) {
            PWin *w = &p->w[i];
            if (append_float(out, (double)c) < 0 || append_float(out, w->total / (double)c) < 0 ||
                append_float(out, pwin_max(w)) < 0)
                return -1;
        } else if (append_float(out, 0.0) < 0 || append_float(out, NAN) < 0 ||
                   append_float(out, NAN) < 0) {
            return -1;
        }
    }
    return 0;
}

static int party_derived(PartyObject *p, double amount, double *ratio, double *z) {
    if (p == NULL) {
        *ratio = *z = NAN;
        return 0;
    }
    double n30 = (double)p->w[2].n;
    double sum30 = n30 != 0.0 ? p->w[2].total : 0.0; /* an empty window reads zero, not dust */
    double sq30 = n30 != 0.0 ? p->w[2].extra : 0.0;
    return derived(amount, n30, sum30, sq30, ratio, z);
}

static int since(PyObject *out, PartyObject *p, int64_t now, int64_t which, double divisor) {
    /* which: 0 last_ns, 1 first_ns */
    int64_t t = p == NULL ? -1 : (which ? p->first_ns : p->last_ns);
    if (t < 0) return append_float(out, NAN);
    int error = 0;
    double v = diff_over(now, t, divisor, &error);
    if (error) return -1;
    return append_float(out, v);
}

static PyObject *party_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    /* party_rows(out, payer, payee, amount, now): FieldState.compute's values from the
     * payer's windows to the payee's age (the parties read at now first). */
    if (nargs != 5 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "party_rows(out: list, payer, payee, amount, now)");
        return NULL;
    }
    PyObject *out = args[0];
    PartyObject *payer, *payee;
    int64_t now;
    if (party_arg(args[1], &payer) < 0 || party_arg(args[2], &payee) < 0) return NULL;
    double amount = PyFloat_AsDouble(args[3]);
    if (amount == -1.0 && PyErr_Occurred()) return NULL;
    if (as_int64(args[4], &now) < 0) return NULL;
    if (payer) party_move(payer, now);
    if (payee) party_move(payee, now);
    if (party_windows(out, payer) < 0 || party_windows(out, payee) < 0) return NULL;
    if (append_float(out, payee ? payee->w[0].extra : 0.0) < 0 ||
        append_float(out, payee ? payee->w[1].extra : 0.0) < 0)
        return NULL;
    double ratio, z, payee_ratio, payee_z;
    if (party_derived(payer, amount, &ratio, &z) < 0) return NULL;
    if (append_float(out, ratio) < 0 || append_float(out, z) < 0) return NULL;
    if (party_derived(payee, amount, &payee_ratio, &payee_z) < 0) return NULL;
    if (append_float(out, payee_ratio) < 0) return NULL;
    if (since(out, payer, now, 0, (double)NS_PER_H) < 0 ||
        since(out, payee, now, 0, (double)NS_PER_H) < 0 ||
        since(out, payer, now, 1, (double)NS_PER_DAY) < 0 ||
        since(out, payee, now, 1, (double)NS_PER_DAY) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *party_labels(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    /* party_labels(out, party, now): per window the fraud labels arrived and their rate,
     * then the days since the last one (field._party_labels). */
    if (nargs != 3 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "party_labels(out: list, party, now)");
        return NULL;
    }
    PyObject *out = args[0];
    PartyObject *p;
    int64_t now;
    if (party_arg(args[1], &p) < 0) return NULL;
    if (as_int64(args[2], &now) < 0) return NULL;
    if (p == NULL) {
        for (int i = 0; i < 6; i++)
            if (append_float(out, 0.0) < 0) return NULL;
        if (append_float(out, NAN) < 0) return NULL;
        Py_RETURN_NONE;
    }
    if (p->frauds) windows_move(p->frauds, FIELD_DIMS, 3, now);
    for (int i = 0; i < 3; i++) {
        int64_t f = p->frauds ? p->frauds[i].total_count : 0;
        double n = (double)p->w[i].n;
        double denominator = 1.0 > n ? 1.0 : n; /* max(float(n), 1.0) */
        if (append_float(out, (double)f) < 0 || append_float(out, (double)f / denominator) < 0)
            return NULL;
    }
    if (p->last_fraud_ns >= 0) {
        int error = 0;
        double v = diff_over(now, p->last_fraud_ns, (double)NS_PER_DAY, &error);
        if (error || append_float(out, v) < 0) return NULL;
    } else if (append_float(out, NAN) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------
 * field_step: the model's whole row of one event written into a row of the batch's float64
 * matrix, then the event counted in its payer and payee (NativeFieldState.step_into: one call
 * instead of a list of 50 boxed floats, a numpy row assignment and two Party.add calls). The
 * values are party_rows' and party_labels' (the same helpers' arithmetic, op for op), in
 * FieldState.compute's order; tests/risk/test_cstate.py checks them against FieldState.
 */
#define FIELD_ROW_WIDTH 50

/* n, mean, max of each window (field._party_windows) into out[0..9). */
static void row_windows(double *out, PartyObject *p) {
    for (int i = 0; i < 3; i++) {
        int64_t c = p ? p->w[i].n : 0;
        if (c) {
            PWin *w = &p->w[i];
            out[3 * i] = (double)c;
            out[3 * i + 1] = w->total / (double)c;
            out[3 * i + 2] = pwin_max(w);
        } else {
            out[3 * i] = 0.0;
            out[3 * i + 1] = NAN;
            out[3 * i + 2] = NAN;
        }
    }
}

/* Hours (or days) since the party's last (or first) event, NaN when none (field._hours_since,
 * field._age_days); -1 with an exception set on failure. */
static int row_since(double *out, PartyObject *p, int64_t now, int which, double divisor) {
    int64_t t = p == NULL ? -1 : (which ? p->first_ns : p->last_ns);
    if (t < 0) {
        *out = NAN;
        return 0;
    }
    int error = 0;
    *out = diff_over(now, t, divisor, &error);
    return error ? -1 : 0;
}

/* The fraud labels' 7 values of one party (field._party_labels) into out[0..7). */
static int row_labels(double *out, PartyObject *p, int64_t now) {
    if (p == NULL) {
        for (int i = 0; i < 6; i++) out[i] = 0.0;
        out[6] = NAN;
        return 0;
    }
    if (p->frauds) windows_move(p->frauds, FIELD_DIMS, 3, now);
    for (int i = 0; i < 3; i++) {
        int64_t f = p->frauds ? p->frauds[i].total_count : 0;
        double n = (double)p->w[i].n;
        double denominator = 1.0 > n ? 1.0 : n; /* max(float(n), 1.0) */
        out[2 * i] = (double)f;
        out[2 * i + 1] = (double)f / denominator;
    }
    if (p->last_fraud_ns < 0) {
        out[6] = NAN;
        return 0;
    }
    int error = 0;
    out[6] = diff_over(now, p->last_fraud_ns, (double)NS_PER_DAY, &error);
    return error ? -1 : 0;
}

static inline int64_t floormod64(int64_t a, int64_t b) {
    int64_t r = a % b; /* b > 0 */
    return r < 0 ? r + b : r;
}

/* FieldState.compute's row of the event into out[0..FIELD_ROW_WIDTH). */
static int row_values(double *out, PartyObject *payer, PartyObject *payee, double type_id,
                      double amount, int64_t now, const double *things) {
    out[0] = type_id;
    out[1] = amount;
    out[2] = (double)floormod64(floordiv64(now, NS_PER_H), 24);
    out[3] = (double)floormod64(floordiv64(now, NS_PER_DAY) + 3, 7);
    if (payer) party_move(payer, now);
    if (payee) party_move(payee, now);
    row_windows(out + 4, payer);
    row_windows(out + 13, payee);
    out[22] = payee ? payee->w[0].extra : 0.0;
    out[23] = payee ? payee->w[1].extra : 0.0;
    double payee_z;
    if (party_derived(payer, amount, &out[24], &out[25]) < 0) return -1;
    if (party_derived(payee, amount, &out[26], &payee_z) < 0) return -1;
    if (row_since(&out[27], payer, now, 0, (double)NS_PER_H) < 0 ||
        row_since(&out[28], payee, now, 0, (double)NS_PER_H) < 0 ||
        row_since(&out[29], payer, now, 1, (double)NS_PER_DAY) < 0 ||
        row_since(&out[30], payee, now, 1, (double)NS_PER_DAY) < 0)
        return -1;
    for (int k = 0; k < 5; k++) out[31 + k] = things[k]; /* pair, 3 things new, device payers */
    if (row_labels(out + 36, payer, now) < 0 || row_labels(out + 43, payee, now) < 0) return -1;
    return 0;
}

static PyObject *field_step(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    /* field_step(matrix, i, payer, payee, type_id, amount, now, pair_n, device_new, ip_new,
     *            instrument_new, device_payers): matrix[i] = the event's row (the parties
     * read at now first), then the event counts in payer and in payee (the payee's first-time
     * payer when pair_n is 0). matrix: a writable C-contiguous float64 array of rows of
     * FIELD_ROW_WIDTH. */
    if (nargs != 12) {
        PyErr_SetString(PyExc_TypeError,
                        "field_step(matrix, i, payer, payee, type_id, amount, now, pair_n,"
                        " device_new, ip_new, instrument_new, device_payers)");
        return NULL;
    }
    PartyObject *payer, *payee;
    int64_t now;
    double type_id, amount, things[5];
    Py_ssize_t i = PyLong_AsSsize_t(args[1]);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (party_arg(args[2], &payer) < 0 || party_arg(args[3], &payee) < 0) return NULL;
    type_id = PyFloat_AsDouble(args[4]);
    if (type_id == -1.0 && PyErr_Occurred()) return NULL;
    amount = PyFloat_AsDouble(args[5]);
    if (amount == -1.0 && PyErr_Occurred()) return NULL;
    if (as_int64(args[6], &now) < 0) return NULL;
    for (int k = 0; k < 5; k++) {
        things[k] = PyFloat_AsDouble(args[7 + k]);
        if (things[k] == -1.0 && PyErr_Occurred()) return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE | PyBUF_STRIDES | PyBUF_FORMAT) < 0)
        return NULL;
    const char *format = view.format ? view.format : "B";
    if (format[0] == '<' || format[0] == '=' || format[0] == '@') format++;
    if (view.ndim != 2 || view.itemsize != 8 || strcmp(format, "d") != 0 ||
        view.shape[1] != FIELD_ROW_WIDTH || view.strides[1] != 8 ||
        view.strides[0] != 8 * FIELD_ROW_WIDTH) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "field_step: a C-contiguous float64 matrix of rows");
        return NULL;
    }
    if (i < 0 || i >= view.shape[0]) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_IndexError, "field_step: row out of range");
        return NULL;
    }
    double row[FIELD_ROW_WIDTH];
    int rc = row_values(row, payer, payee, type_id, amount, now, things);
    if (rc == 0) memcpy((double *)view.buf + i * FIELD_ROW_WIDTH, row, sizeof row);
    PyBuffer_Release(&view);
    if (rc < 0) return NULL;
    /* room in both parties first: the event counts in both or (MemoryError) in neither */
    if ((payer && party_reserve(payer, now) < 0) || (payee && party_reserve(payee, now) < 0))
        return NULL;
    if (payer) party_put(payer, now, amount, 0);
    if (payee) party_put(payee, now, amount, things[0] == 0.0 ? 1 : 0);
    Py_RETURN_NONE;
}

/* ==========================================================================================
 * The rules' online features (centime.risk.features.OnlineFeatures) as C state: RulesState.
 *
 * The Python OnlineFeatures is the reference: every map, window and counterparty list here is
 * one of its objects, updated by the same operations in the same order, so every row is bit
 * for bit the Python one (tests/risk/test_cstate_rules.py checks it on long seeded streams):
 * - KMap: centime.risk.sketch.BoundedMap (exact keys up to a limit, then shared slots chosen
 *   by the key's hash, multiply-shift as in Python);
 * - PTable + CountMin: centime.risk.sketch.PairCounts (exact pairs up to a limit, then a
 *   count-min sketch hashed as Python hashes the pair's tuple);
 * - Recent: the capped insertion-ordered dicts (fan-in, fan-out, upstream, a thing's accounts);
 * - the accounts' and things' windows: the WWin arrays above (WindowSet objects where
 *   OnlineFeatures exposes them: the payer's, payee's and things' velocity windows);
 * - CGraph: centime.risk.graph.Components (the shared-thing graph, the referrals' one).
 * RulesRow is features.LazyRow: a family is computed when a rule first reads one of its
 * features (reading moves windows, so C reads exactly what Python reads).
 */

/* -- keys ------------------------------------------------------------------------------------ */
static int keys_equal(PyObject *a, Py_hash_t ha, PyObject *b, Py_hash_t hb) {
    if (a == b) return 1;
    if (ha != hb) return 0;
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(a);
        if (n != PyUnicode_GET_LENGTH(b) || PyUnicode_KIND(a) != PyUnicode_KIND(b)) return 0;
        return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * PyUnicode_KIND(a)) == 0;
    }
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

static int truthy_str(PyObject *o) { /* Python's `if key:` for str | None */
    if (o == Py_None) return 0;
    if (PyUnicode_CheckExact(o)) return PyUnicode_GET_LENGTH(o) != 0;
    return PyObject_IsTrue(o);
}

#define SLOT_MULTIPLIER 0x9E3779B97F4A7C15ULL

/* -- Recent: a capped insertion-ordered map key -> ns (dict pop, set, drop the oldest) ------ */
typedef struct {
    PyObject *key;
    Py_hash_t hash;
    int64_t t;
} REntry;

typedef struct {
    int32_t len, cap;
    REntry e[];
} Recent;

static void recent_free(Recent *r) {
    if (r == NULL) return;
    for (int32_t i = 0; i < r->len; i++) Py_DECREF(r->e[i].key);
    PyMem_Free(r);
}

static int32_t recent_find(Recent *r, PyObject *key, Py_hash_t h) {
    if (r == NULL) return -1;
    for (int32_t i = r->len - 1; i >= 0; i--) {
        int eq = keys_equal(r->e[i].key, r->e[i].hash, key, h);
        if (eq < 0) return -2;
        if (eq) return i;
    }
    return -1;
}

static int recent_grow(Recent **slot, int32_t added, int32_t cap);

/* Room in *slot (capped at cap) for `added` more keys, grown as recent_touch grows it. */
static inline int recent_room(Recent **slot, int32_t added, int32_t cap) {
    Recent *r = *slot;
    if (r && (r->cap > cap || r->len + added <= r->cap)) return 0; /* the common case */
    return recent_grow(slot, added, cap);
}

static int recent_grow(Recent **slot, int32_t added, int32_t cap) {
    Recent *r = *slot;
    int32_t len = r ? r->len : 0, have = r ? r->cap : 0;
    int32_t want = len + added < cap + 1 ? len + added : cap + 1;
    if (have >= want) return 0;
    int32_t size = have ? have : 2;
    while (size < want) size *= 2;
    if (size > cap + 1) size = cap + 1;
    Recent *grown = cs_realloc(r, sizeof(Recent) + (size_t)size * sizeof(REntry));
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (r == NULL) grown->len = 0;
    grown->cap = size;
    *slot = grown;
    return 0;
}

/* _touch: key moved (or added) to the end with t; beyond cap the oldest goes. */
static int recent_touch(Recent **slot, PyObject *key, int64_t t, int32_t cap) {
    Py_hash_t h = PyObject_Hash(key);
    if (h == -1) return -1;
    Recent *r = *slot;
    int32_t at = recent_find(r, key, h);
    if (at == -2) return -1;
    if (at >= 0) {
        PyObject *k = r->e[at].key;
        memmove(&r->e[at], &r->e[at + 1], (size_t)(r->len - at - 1) * sizeof(REntry));
        r->e[r->len - 1].key = k;
        r->e[r->len - 1].hash = h;
        r->e[r->len - 1].t = t;
        return 0;
    }
    if (recent_room(slot, 1, cap) < 0) return -1;
    r = *slot;
    Py_INCREF(key);
    r->e[r->len].key = key;
    r->e[r->len].hash = h;
    r->e[r->len].t = t;
    r->len++;
    if (r->len > cap) {
        Py_DECREF(r->e[0].key);
        memmove(&r->e[0], &r->e[1], (size_t)(r->len - 1) * sizeof(REntry));
        r->len--;
    }
    return 0;
}

/* now - span without signed overflow: Python's `now - span` is unbounded, and every
   int64 timestamp is >= it when it falls below INT64_MIN, as it is >= INT64_MIN. */
static inline int64_t window_start(int64_t now, int64_t span) {
    int64_t d;
    return __builtin_sub_overflow(now, span, &d) ? INT64_MIN : d;
}

static int64_t recent_since(Recent *r, int64_t since) { /* _recent */
    int64_t n = 0;
    if (r == NULL) return 0;
    for (int32_t i = r->len - 1; i >= 0; i--) {
        if (r->e[i].t < since) break;
        n++;
    }
    return n;
}

/* -- account and thing state ---------------------------------------------------------------- */
enum { W_FLOW_IN, W_FLOW_OUT, W_DECLINES, W_CARRIER, W_CARRIER_IN, W_NEAR, W_ROUND, W_REFERRALS,
       W_COUNT };

typedef struct {
    int64_t first_seen_ns, method_change_ns;
    double balance;
    WWin *w[W_COUNT]; /* NULL until first used */
    Recent *fan_in, *fan_out, *upstream;
} Account;

typedef struct {
    PyObject *windows; /* a WindowSet of STANDARD_WINDOWS */
    WWin *declines;
    Recent *accounts;
} Thing;

/* -- KMap: BoundedMap of str -> state ------------------------------------------------------- */
typedef struct {
    PyObject *key;
    Py_hash_t hash;
    void *value;
} KEntry;

typedef struct RulesStateObject RulesStateObject;
typedef void *(*KFactory)(RulesStateObject *);
typedef void (*KFree)(RulesStateObject *, void *);

typedef struct {
    KEntry *table;
    size_t mask, count;
    size_t exact_max;
    void **shared; /* NULL until the exact map is full */
    int shift;
    KFactory make;
    KFree drop;
} KMap;

static int kmap_init(KMap *m, size_t exact_max, int shift, KFactory make, KFree drop) {
    m->mask = 7;
    m->count = 0;
    m->table = cs_calloc(m->mask + 1, sizeof(KEntry));
    if (m->table == NULL) return -1;
    m->exact_max = exact_max;
    m->shared = NULL;
    m->shift = shift;
    m->make = make;
    m->drop = drop;
    return 0;
}

static void kmap_free(RulesStateObject *s, KMap *m) {
    if (m->table) {
        for (size_t i = 0; i <= m->mask; i++)
            if (m->table[i].key) {
                Py_DECREF(m->table[i].key);
                m->drop(s, m->table[i].value);
            }
        PyMem_Free(m->table);
    }
    if (m->shared) {
        size_t n = (size_t)1 << (64 - m->shift);
        for (size_t i = 0; i < n; i++)
            if (m->shared[i]) m->drop(s, m->shared[i]);
        PyMem_Free(m->shared);
    }
    m->table = NULL;
    m->shared = NULL;
}

/* The exact entry of key (-1: error), its index in *at, or the empty slot for it. */
static int kmap_lookup(KMap *m, PyObject *key, Py_hash_t h, size_t *at) {
    size_t i = (size_t)h & m->mask;
    for (;;) {
        KEntry *e = &m->table[i];
        if (e->key == NULL) {
            *at = i;
            return 0;
        }
        int eq = keys_equal(e->key, e->hash, key, h);
        if (eq < 0) return -1;
        if (eq) {
            *at = i;
            return 1;
        }
        i = (i + 1) & m->mask;
    }
}

static size_t kmap_slot(KMap *m, Py_hash_t h) {
    return (size_t)(((uint64_t)h * SLOT_MULTIPLIER) >> m->shift);
}

/* BoundedMap.get: *out NULL when absent. */
static int kmap_get(KMap *m, PyObject *key, void **out) {
    Py_hash_t h = PyObject_Hash(key);
    if (h == -1) return -1;
    size_t at;
    int found = kmap_lookup(m, key, h, &at);
    if (found < 0) return -1;
    if (found) *out = m->table[at].value;
    else *out = m->shared ? m->shared[kmap_slot(m, h)] : NULL;
    return 0;
}

/* the empty slot where a key hashing to h goes */
static size_t kmap_empty_slot(const KEntry *table, size_t mask, Py_hash_t h) {
    size_t j = (size_t)h & mask;
    while (table[j].key) j = (j + 1) & mask;
    return j;
}

static int kmap_grow(KMap *m) {
    size_t n = (m->mask + 1) * 2;
    KEntry *table = cs_calloc(n, sizeof(KEntry));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i <= m->mask; i++) {
        KEntry *e = &m->table[i];
        if (e->key) table[kmap_empty_slot(table, n - 1, e->hash)] = *e;
    }
    PyMem_Free(m->table);
    m->table = table;
    m->mask = n - 1;
    return 0;
}

/* Where a key's state is, looked up before anything is created: kmap_get_or_create in three
 * steps, so that an event makes every allocation before it changes anything (rules_reserve):
 * kmap_resolve finds the key (no allocation), kmap_room and kmap_make allocate (the new state
 * is not in the map yet), kmap_commit puts it in (nothing fails). */
typedef struct {
    void *value; /* the state found, or the new one (kmap_make) */
    Py_hash_t hash;
    size_t slot; /* the shared slot, when new there */
    int fresh;   /* 0 found, 1 a new exact key, 2 new in an empty shared slot */
} KRef;

/* pending: the keys this event adds to m before this one (an exact map may fill meanwhile) */
static int kmap_resolve(KMap *m, PyObject *key, size_t pending, KRef *ref) {
    Py_hash_t h = PyObject_Hash(key);
    if (h == -1) return -1;
    size_t at;
    int found = kmap_lookup(m, key, h, &at);
    if (found < 0) return -1;
    ref->hash = h;
    ref->value = found ? m->table[at].value : NULL;
    ref->fresh = 0;
    if (found) return 0;
    if (m->count + pending < m->exact_max) {
        ref->fresh = 1;
        return 0;
    }
    ref->slot = kmap_slot(m, h);
    ref->value = m->shared ? m->shared[ref->slot] : NULL;
    ref->fresh = ref->value ? 0 : 2;
    return 0;
}

/* Room for `added` more keys (the table under 2/3 full, so a probe always ends on an empty
 * slot; the shared slots once the exact keys may fill). Only capacity: a failure changes
 * nothing. */
static int kmap_room(KMap *m, size_t added) {
    if (m->count + added < m->exact_max && (m->count + added) * 3 < (m->mask + 1) * 2) return 0;
    size_t want = m->count + added < m->exact_max ? m->count + added : m->exact_max;
    while (want * 3 >= (m->mask + 1) * 2)
        if (kmap_grow(m) < 0) return -1;
    if (m->count + added > m->exact_max && m->shared == NULL) { /* one goes to a slot */
        m->shared = cs_calloc((size_t)1 << (64 - m->shift), sizeof(void *));
        if (m->shared == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

static int kmap_make(RulesStateObject *s, KMap *m, KRef *ref) {
    if (ref->fresh && ref->value == NULL && (ref->value = m->make(s)) == NULL) return -1;
    return 0;
}

/* a new state made but not committed (a failure before kmap_commit) */
static void kmap_unmake(RulesStateObject *s, KMap *m, KRef *ref) {
    if (ref->fresh && ref->value) m->drop(s, ref->value);
    ref->value = NULL;
}

static void kmap_commit(KMap *m, PyObject *key, KRef *ref) {
    if (ref->fresh == 1) {
        KEntry *e = &m->table[kmap_empty_slot(m->table, m->mask, ref->hash)];
        Py_INCREF(key);
        e->key = key;
        e->hash = ref->hash;
        e->value = ref->value;
        m->count++;
    } else if (ref->fresh == 2) {
        m->shared[ref->slot] = ref->value;
    }
    ref->fresh = 0;
}

/* -- PTable: PairCounts (exact pairs, then a count-min sketch) ----------------------------- */
typedef struct {
    PyObject *a, *b; /* b: the payee, or the thing (kind 1-3: "d:", "n:", "i:" + b) */
    Py_hash_t ha, hb;
    int64_t count;
    int kind;
} PEntry2;

typedef struct {
    PEntry2 *table;
    size_t mask, count, exact_max;
    uint32_t *sketch; /* depth x width, NULL until the exact map is full */
} PTable;

#define SKETCH_DEPTH_MAX 8
static const char *const PREFIXES[4] = {"", "d:", "n:", "i:"};

static uint64_t pair_mix(Py_hash_t ha, Py_hash_t hb, int kind) {
    uint64_t x = (uint64_t)ha * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)hb + (uint64_t)kind);
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    return x ^ (x >> 32);
}

/* hash((a, b)) as CPython 3.8+ hashes a tuple of two items (xxHash-style). */
static Py_hash_t tuple2_hash(Py_hash_t ha, Py_hash_t hb) {
    const uint64_t P1 = 11400714785074694791ULL, P2 = 14029467366897019727ULL,
                   P5 = 2870177450012600261ULL;
    uint64_t acc = P5;
    uint64_t lanes[2] = {(uint64_t)ha, (uint64_t)hb};
    for (int i = 0; i < 2; i++) {
        acc += lanes[i] * P2;
        acc = (acc << 31) | (acc >> 33);
        acc *= P1;
    }
    acc += 2 ^ (P5 ^ 3527539UL);
    if (acc == (uint64_t)-1) return 1546275796;
    return (Py_hash_t)acc;
}

static int pair_eq(PEntry2 *e, PyObject *a, Py_hash_t ha, PyObject *b, Py_hash_t hb, int kind) {
    if (e->kind != kind) return 0;
    int eq = keys_equal(e->a, e->ha, a, ha);
    if (eq <= 0) return eq;
    return keys_equal(e->b, e->hb, b, hb);
}

static int ptable_lookup(PTable *t, PyObject *a, Py_hash_t ha, PyObject *b, Py_hash_t hb,
                         int kind, size_t *at) {
    size_t i = (size_t)pair_mix(ha, hb, kind) & t->mask;
    for (;;) {
        PEntry2 *e = &t->table[i];
        if (e->a == NULL) {
            *at = i;
            return 0;
        }
        int eq = pair_eq(e, a, ha, b, hb, kind);
        if (eq < 0) return -1;
        if (eq) {
            *at = i;
            return 1;
        }
        i = (i + 1) & t->mask;
    }
}

typedef struct {
    int width_shift, depth;
    size_t width;
    uint64_t multipliers[SKETCH_DEPTH_MAX];
} SketchShape;

/* The Python hash of the pair's tuple: (a, b), or (a, prefix + b) for a thing. */
static int pair_py_hash(PyObject *a, Py_hash_t ha, PyObject *b, Py_hash_t hb, int kind,
                        Py_hash_t *out) {
    if (kind) {
        PyObject *prefix = PyUnicode_FromString(PREFIXES[kind]);
        PyObject *tagged = prefix ? PyUnicode_Concat(prefix, b) : NULL;
        Py_XDECREF(prefix);
        if (tagged == NULL) return -1;
        hb = PyObject_Hash(tagged);
        Py_DECREF(tagged);
        if (hb == -1) return -1;
    }
    *out = tuple2_hash(ha, hb);
    return 0;
}

static uint32_t sketch_get(const SketchShape *sh, uint32_t *table, Py_hash_t h) {
    uint32_t best = 0;
    for (int r = 0; r < sh->depth; r++) {
        size_t slot = (size_t)(((uint64_t)h * sh->multipliers[r]) >> sh->width_shift);
        uint32_t v = table[(size_t)r * sh->width + slot];
        if (r == 0 || v < best) best = v;
    }
    return best;
}

static int64_t ptable_get(PTable *t, const SketchShape *sh, PyObject *a, PyObject *b, int kind) {
    Py_hash_t ha = PyObject_Hash(a), hb = ha == -1 ? -1 : PyObject_Hash(b);
    if (hb == -1) return -1;
    size_t at;
    int found = ptable_lookup(t, a, ha, b, hb, kind, &at);
    if (found < 0) return -1;
    if (found) return t->table[at].count;
    if (t->sketch == NULL) return 0;
    Py_hash_t h;
    if (pair_py_hash(a, ha, b, hb, kind, &h) < 0) return -1;
    return sketch_get(sh, t->sketch, h);
}

/* the empty slot where a pair mixing to x goes */
static size_t ptable_empty_slot(const PEntry2 *table, size_t mask, uint64_t x) {
    size_t j = (size_t)x & mask;
    while (table[j].a) j = (j + 1) & mask;
    return j;
}

static int ptable_grow(PTable *t) {
    size_t n = (t->mask + 1) * 2;
    PEntry2 *table = cs_calloc(n, sizeof(PEntry2));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        PEntry2 *e = &t->table[i];
        if (e->a) table[ptable_empty_slot(table, n - 1, pair_mix(e->ha, e->hb, e->kind))] = *e;
    }
    PyMem_Free(t->table);
    t->table = table;
    t->mask = n - 1;
    return 0;
}

/* Room for `added` more pairs, as kmap_room (the sketch once the exact pairs may fill; all
 * zero, it reads as none). Only capacity: a failure changes nothing. */
static inline int ptable_room(PTable *t, const SketchShape *sh, size_t added) {
    if (t->count + added < t->exact_max && (t->count + added) * 3 < (t->mask + 1) * 2) return 0;
    size_t want = t->count + added < t->exact_max ? t->count + added : t->exact_max;
    while (want * 3 >= (t->mask + 1) * 2)
        if (ptable_grow(t) < 0) return -1;
    if (t->count + added > t->exact_max && t->sketch == NULL) {
        t->sketch = cs_calloc((size_t)sh->depth * sh->width, sizeof(uint32_t));
        if (t->sketch == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

static int ptable_add(PTable *t, const SketchShape *sh, PyObject *a, PyObject *b, int kind) {
    Py_hash_t ha = PyObject_Hash(a), hb = ha == -1 ? -1 : PyObject_Hash(b);
    if (hb == -1) return -1;
    size_t at;
    int found = ptable_lookup(t, a, ha, b, hb, kind, &at);
    if (found < 0) return -1;
    if (found) {
        t->table[at].count++;
        return 0;
    }
    if (ptable_room(t, sh, 1) < 0) return -1; /* room first: a failure changes nothing */
    if (t->count < t->exact_max) {
        at = ptable_empty_slot(t->table, t->mask, pair_mix(ha, hb, kind)); /* after a growth */
        PEntry2 *e = &t->table[at];
        Py_INCREF(a);
        Py_INCREF(b);
        e->a = a;
        e->b = b;
        e->ha = ha;
        e->hb = hb;
        e->kind = kind;
        e->count = 1;
        t->count++;
        return 0;
    }
    Py_hash_t h;
    if (pair_py_hash(a, ha, b, hb, kind, &h) < 0) return -1;
    for (int r = 0; r < sh->depth; r++) {
        size_t slot = (size_t)(((uint64_t)h * sh->multipliers[r]) >> sh->width_shift);
        t->sketch[(size_t)r * sh->width + slot] += 1;
    }
    return 0;
}

static void ptable_free(PTable *t) {
    if (t->table) {
        for (size_t i = 0; i <= t->mask; i++)
            if (t->table[i].a) {
                Py_DECREF(t->table[i].a);
                Py_DECREF(t->table[i].b);
            }
        PyMem_Free(t->table);
    }
    PyMem_Free(t->sketch);
    t->table = NULL;
    t->sketch = NULL;
}

/* -- CGraph: centime.risk.graph.Components ------------------------------------------------- *
 * The same union-find over the same links, literally: nodes (an account id, or a tagged thing
 * "d:" + device, "i:" + instrument, "p:" + payout account) with the accounts and inflow of each
 * root, the links in least-recently-seen order, the oldest tenth dropped and the components
 * rebuilt when there are more than max_edges. A node is (tag, str): "d:x" is (d, "x") whether
 * it came as an account id or as the device "x" (Python's strings are equal, so are these).
 */
typedef struct {
    PyObject *str;
    Py_hash_t hash;
    int tag; /* 0: none, 1 "d:", 2 "n:", 3 "i:", 4 "p:" */
} NKey;

typedef struct {
    NKey key;
    int64_t parent, root_accounts, root_inflow, inflow;
    int is_account;
} GNode;

typedef struct {
    NKey a, b;
    int other_is_account;
    int64_t prev, next; /* the order of links, oldest first; -1 ends */
} GEdge;

typedef struct {
    GNode *nodes;
    int64_t n_nodes, cap_nodes;
    int64_t *node_index; /* open addressing: node + 1, 0 empty */
    size_t node_mask;
    GEdge *edges;
    int64_t n_edges, cap_edges, head, tail;
    int64_t *edge_index;
    size_t edge_mask;
    int64_t max_edges, rebuilds;
} CGraph;

static const char TAG_CHARS[5] = {0, 'd', 'n', 'i', 'p'};

static uint64_t nkey_hash(const NKey *k) {
    return ((uint64_t)k->hash ^ ((uint64_t)k->tag * 0x9E3779B97F4A7C15ULL)) * 0xBF58476D1CE4E5B9ULL;
}

static int nkey_eq(const NKey *x, const NKey *y) {
    return x->tag == y->tag && keys_equal(x->str, x->hash, y->str, y->hash);
}

/* (tag, str) for a raw string: "d:x" -> (d, "x"); a new reference in k->str, an exact str
 * (a subclass's value: comparing two keys never runs Python code, nor raises, so a rebuild
 * cannot fail half-way). */
static int nkey_make(NKey *k, int tag, PyObject *str) {
    if (tag == 0 && PyUnicode_Check(str) && PyUnicode_GET_LENGTH(str) >= 2 &&
        PyUnicode_READ_CHAR(str, 1) == ':') {
        Py_UCS4 c = PyUnicode_READ_CHAR(str, 0);
        for (int t = 1; t < 5; t++)
            if (c == (Py_UCS4)TAG_CHARS[t]) {
                PyObject *rest = PyUnicode_Substring(str, 2, PyUnicode_GET_LENGTH(str));
                if (rest == NULL) return -1;
                k->hash = PyObject_Hash(rest);
                k->str = rest;
                k->tag = t;
                return 0;
            }
    }
    if (!PyUnicode_CheckExact(str)) {
        if (!PyUnicode_Check(str)) {
            PyErr_SetString(PyExc_TypeError, "a node is a str");
            return -1;
        }
        str = PyUnicode_Substring(str, 0, PyUnicode_GET_LENGTH(str)); /* an exact copy */
        if (str == NULL) return -1;
    } else {
        Py_INCREF(str);
    }
    k->hash = PyObject_Hash(str);
    if (k->hash == -1) {
        Py_DECREF(str);
        return -1;
    }
    k->str = str;
    k->tag = tag;
    return 0;
}

static int cgraph_init(CGraph *g, int64_t max_edges) {
    memset(g, 0, sizeof(*g));
    g->max_edges = max_edges;
    g->head = g->tail = -1;
    g->node_mask = g->edge_mask = 15;
    g->node_index = cs_calloc(16, sizeof(int64_t));
    g->edge_index = cs_calloc(16, sizeof(int64_t));
    if (g->node_index == NULL || g->edge_index == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void cgraph_clear_nodes(GNode *nodes, int64_t n) {
    for (int64_t i = 0; i < n; i++) Py_DECREF(nodes[i].key.str);
}

static void cgraph_free(CGraph *g) {
    cgraph_clear_nodes(g->nodes, g->n_nodes);
    for (int64_t i = 0; i < g->n_edges; i++) {
        Py_DECREF(g->edges[i].a.str);
        Py_DECREF(g->edges[i].b.str);
    }
    PyMem_Free(g->nodes);
    PyMem_Free(g->node_index);
    PyMem_Free(g->edges);
    PyMem_Free(g->edge_index);
    memset(g, 0, sizeof(*g));
}

/* the node of k (-1 absent, -2 error) in an index table */
static int64_t node_find_in(GNode *nodes, int64_t *index, size_t mask, const NKey *k,
                            size_t *slot) {
    size_t i = (size_t)nkey_hash(k) & mask;
    for (;;) {
        int64_t v = index[i];
        if (v == 0) {
            if (slot) *slot = i;
            return -1;
        }
        int eq = nkey_eq(&nodes[v - 1].key, k);
        if (eq < 0) return -2;
        if (eq) return v - 1;
        i = (i + 1) & mask;
    }
}

/* the empty slot where an item hashing to h goes in an index table */
static size_t index_slot(const int64_t *index, size_t mask, uint64_t h) {
    size_t j = (size_t)h & mask;
    while (index[j]) j = (j + 1) & mask;
    return j;
}

/* index (n items, hashed by hash_of) refilled in place: cleared, then every item put back */
static void index_fill(int64_t *index, size_t mask, int64_t n, uint64_t (*hash_of)(void *, int64_t),
                       void *items) {
    memset(index, 0, (mask + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) index[index_slot(index, mask, hash_of(items, i))] = i + 1;
}

/* The index of n items doubled until n + need of them keep it under 2/3 full (a probe always
 * ends on an empty slot); on failure (MemoryError) the old index stays. */
static inline int index_reserve(int64_t **index, size_t *mask, int64_t n, int64_t need,
                                uint64_t (*hash_of)(void *, int64_t), void *items) {
    size_t size = *mask + 1;
    if ((size_t)(n + need) * 3 < size * 2) return 0; /* the common case */
    while ((size_t)(n + need) * 3 >= size * 2) size *= 2;
    if (size == *mask + 1) return 0;
    int64_t *grown = cs_calloc(size, sizeof(int64_t));
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    index_fill(grown, size - 1, n, hash_of, items);
    PyMem_Free(*index);
    *index = grown;
    *mask = size - 1;
    return 0;
}

/* An array of n items of `item` bytes doubled (from 16) until it holds n + need. */
static inline int array_reserve(void **items, int64_t *cap, int64_t n, int64_t need,
                                size_t item) {
    if (n + need <= *cap) return 0; /* the common case */
    int64_t size = *cap ? *cap : 16;
    while (size < n + need) size *= 2;
    if (size == *cap) return 0;
    void *grown = cs_realloc(*items, (size_t)size * item);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *items = grown;
    *cap = size;
    return 0;
}

static uint64_t node_hash_at(void *items, int64_t i) { return nkey_hash(&((GNode *)items)[i].key); }

/* Room for need more nodes, before any is added: a failure leaves the graph as it was. */
static inline int cgraph_reserve_nodes(CGraph *g, int64_t need) {
    if (array_reserve((void **)&g->nodes, &g->cap_nodes, g->n_nodes, need, sizeof(GNode)) < 0)
        return -1;
    return index_reserve(&g->node_index, &g->node_mask, g->n_nodes, need, node_hash_at,
                         g->nodes);
}

static int64_t cgraph_find(CGraph *g, int64_t node) { /* with path compression */
    GNode *n = g->nodes;
    int64_t root = node, up;
    while ((up = n[root].parent) != root) root = up;
    while ((up = n[node].parent) != root) {
        n[node].parent = root;
        node = up;
    }
    return root;
}

/* Components._add_node for node at, which parent < 0 marks as not added yet (a new node, or
 * any node while the components are rebuilt); its inflow is the one it had (_inflow.get). */
static void cgraph_mark_node(CGraph *g, int64_t at, int is_account) {
    GNode *n = &g->nodes[at];
    if (n->parent < 0) {
        n->parent = at;
        n->root_accounts = is_account ? 1 : 0;
        n->root_inflow = is_account ? n->inflow : 0;
        n->is_account = is_account;
    } else if (is_account && !n->is_account) {
        n->is_account = 1;
        g->nodes[cgraph_find(g, at)].root_accounts += 1;
    }
}

/* _add_node; room was reserved (cgraph_reserve_nodes) */
static int cgraph_add_node(CGraph *g, const NKey *k, int is_account) {
    size_t slot;
    int64_t at = node_find_in(g->nodes, g->node_index, g->node_mask, k, &slot);
    if (at == -2) return -1;
    if (at < 0) {
        at = g->n_nodes++;
        GNode *n = &g->nodes[at];
        n->key = *k;
        Py_INCREF(k->str);
        n->parent = -1;
        n->inflow = 0; /* Python's _inflow.get(node, 0): only a rebuild finds one */
        g->node_index[slot] = at + 1;
    }
    cgraph_mark_node(g, at, is_account);
    return 0;
}

static int64_t cgraph_node(CGraph *g, const NKey *k) {
    return node_find_in(g->nodes, g->node_index, g->node_mask, k, NULL);
}

static void cgraph_union(CGraph *g, int64_t na, int64_t nb) {
    int64_t ra = cgraph_find(g, na), rb = cgraph_find(g, nb);
    if (ra == rb) return;
    if (g->nodes[ra].root_accounts < g->nodes[rb].root_accounts) {
        int64_t t = ra;
        ra = rb;
        rb = t;
    }
    g->nodes[rb].parent = ra;
    g->nodes[ra].root_accounts += g->nodes[rb].root_accounts;
    g->nodes[ra].root_inflow += g->nodes[rb].root_inflow;
}

static int cgraph_union_keys(CGraph *g, const NKey *a, const NKey *b) {
    int64_t na = cgraph_node(g, a), nb = cgraph_node(g, b);
    if (na < 0 || nb < 0) return na == -2 || nb == -2 ? -1 : 0;
    cgraph_union(g, na, nb);
    return 0;
}

static uint64_t edge_hash(const NKey *a, const NKey *b) {
    return nkey_hash(a) * 31 + nkey_hash(b);
}

static uint64_t edge_hash_at(void *items, int64_t i) {
    GEdge *e = &((GEdge *)items)[i];
    return edge_hash(&e->a, &e->b);
}

static int64_t edge_find(CGraph *g, const NKey *a, const NKey *b, size_t *slot) {
    size_t i = (size_t)edge_hash(a, b) & g->edge_mask;
    for (;;) {
        int64_t v = g->edge_index[i];
        if (v == 0) {
            if (slot) *slot = i;
            return -1;
        }
        GEdge *e = &g->edges[v - 1];
        int eq = nkey_eq(&e->a, a);
        if (eq > 0) eq = nkey_eq(&e->b, b);
        if (eq < 0) return -2;
        if (eq) return v - 1;
        i = (i + 1) & g->edge_mask;
    }
}

static void edge_unlink(CGraph *g, int64_t i) {
    GEdge *e = &g->edges[i];
    if (e->prev >= 0) g->edges[e->prev].next = e->next;
    else g->head = e->next;
    if (e->next >= 0) g->edges[e->next].prev = e->prev;
    else g->tail = e->prev;
}

static void edge_append(CGraph *g, int64_t i) {
    GEdge *e = &g->edges[i];
    e->prev = g->tail;
    e->next = -1;
    if (g->tail >= 0) g->edges[g->tail].next = i;
    else g->head = i;
    g->tail = i;
}

#define GONE (-2) /* prev of a dropped link, parent of a node no link names, while rebuilding */

/* The oldest tenth of the links dropped, the others moved down into the freed slots (their
 * order is the list's, not the array's). */
static void cgraph_drop_oldest(CGraph *g) {
    int64_t drop = g->max_edges / 10 > 1 ? g->max_edges / 10 : 1, dropped = 0;
    while (dropped < drop && g->head >= 0) {
        GEdge *e = &g->edges[g->head];
        edge_unlink(g, g->head);
        Py_DECREF(e->a.str);
        Py_DECREF(e->b.str);
        e->prev = GONE;
        dropped++;
    }
    int64_t n = g->n_edges - dropped, last = g->n_edges - 1;
    for (int64_t hole = 0; hole < n; hole++) {
        if (g->edges[hole].prev != GONE) continue;
        while (g->edges[last].prev == GONE) last--; /* a live link beyond n fills each hole */
        GEdge *e = &g->edges[hole];
        *e = g->edges[last--];
        if (e->prev >= 0) g->edges[e->prev].next = hole;
        else g->head = hole;
        if (e->next >= 0) g->edges[e->next].prev = hole;
        else g->tail = hole;
    }
    g->n_edges = n;
    index_fill(g->edge_index, g->edge_mask, n, edge_hash_at, g->edges);
}

/* The nodes no remaining link names released, the others moved down; the index refilled. */
static void cgraph_keep_linked_nodes(CGraph *g) {
    for (int64_t i = 0; i < g->n_nodes; i++) g->nodes[i].parent = GONE;
    for (int64_t i = 0; i < g->n_edges; i++) { /* every link's nodes are in the index */
        g->nodes[cgraph_node(g, &g->edges[i].a)].parent = -1;
        g->nodes[cgraph_node(g, &g->edges[i].b)].parent = -1;
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].parent == GONE) Py_DECREF(g->nodes[i].key.str);
        else g->nodes[kept++] = g->nodes[i];
    }
    g->n_nodes = kept;
    index_fill(g->node_index, g->node_mask, kept, node_hash_at, g->nodes);
}

/* Components._rebuild after the oldest tenth of the links is dropped: the components again
 * from the links that remain, oldest first. In place, allocating nothing: it cannot fail
 * half-way (every key is an exact str, so no comparison raises). */
static void cgraph_rebuild(CGraph *g) {
    g->rebuilds++;
    cgraph_drop_oldest(g);
    cgraph_keep_linked_nodes(g); /* every node now has parent -1: not added yet */
    for (int64_t i = g->head; i >= 0; i = g->edges[i].next) {
        GEdge *x = &g->edges[i];
        int64_t na = cgraph_node(g, &x->a), nb = cgraph_node(g, &x->b);
        cgraph_mark_node(g, na, 1);
        cgraph_mark_node(g, nb, x->other_is_account);
        cgraph_union(g, na, nb);
    }
    for (int64_t n = 0; n < g->n_nodes; n++) /* _inflow kept for accounts only */
        if (!g->nodes[n].is_account) g->nodes[n].inflow = 0;
}

/* Room for `links` more links and their nodes (a rebuild frees none, allocates none). */
static inline int cgraph_reserve_links(CGraph *g, int64_t links) {
    if (array_reserve((void **)&g->edges, &g->cap_edges, g->n_edges, links, sizeof(GEdge)) < 0 ||
        index_reserve(&g->edge_index, &g->edge_mask, g->n_edges, links, edge_hash_at, g->edges) < 0)
        return -1;
    return cgraph_reserve_nodes(g, 2 * links);
}

/* link(account, other): the keys are borrowed (exact strs); stored with new references. Room
 * for the link and its two nodes is made first: on MemoryError the graph is as it was. */
static int cgraph_link(CGraph *g, const NKey *a, const NKey *b, int other_is_account) {
    size_t slot = 0;
    int64_t at = edge_find(g, a, b, &slot);
    if (at == -2) return -1;
    if (at >= 0) { /* move_to_end */
        if (at != g->tail) {
            edge_unlink(g, at);
            edge_append(g, at);
        }
        return 0;
    }
    size_t mask = g->edge_mask;
    if (cgraph_reserve_links(g, 1) < 0) return -1;
    if (g->edge_mask != mask) slot = index_slot(g->edge_index, g->edge_mask, edge_hash(a, b));
    int64_t i = g->n_edges++;
    GEdge *e = &g->edges[i];
    e->a = *a;
    e->b = *b;
    Py_INCREF(a->str);
    Py_INCREF(b->str);
    e->other_is_account = other_is_account;
    edge_append(g, i);
    g->edge_index[slot] = i + 1;
    if (cgraph_add_node(g, a, 1) < 0 || cgraph_add_node(g, b, other_is_account) < 0) return -1;
    if (g->n_edges > g->max_edges) { /* the nodes start over, but every link's are there */
        cgraph_rebuild(g);
        return 0;
    }
    return cgraph_union_keys(g, a, b);
}

static int cgraph_add_inflow(CGraph *g, const NKey *k) {
    int64_t n = cgraph_node(g, k);
    if (n == -2) return -1;
    if (n >= 0 && g->nodes[n].is_account) {
        g->nodes[n].inflow += 1;
        g->nodes[cgraph_find(g, n)].root_inflow += 1;
    }
    return 0;
}

/* size (which 0) or inflow (which 1) of k's component; -1 error */
static int64_t cgraph_measure(CGraph *g, const NKey *k, int which) {
    int64_t n = cgraph_node(g, k);
    if (n == -2) return -1;
    if (n < 0) return which ? 0 : 1;
    GNode *root = &g->nodes[cgraph_find(g, n)];
    return which ? root->root_inflow : root->root_accounts;
}

/* -- Components: a CGraph as a Python object (the tests compare it with graph.Components) -- */
typedef struct {
    PyObject_HEAD CGraph g;
} ComponentsObject;

static PyObject *Components_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"max_edges", NULL};
    Py_ssize_t max_edges;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n:Components", kwlist, &max_edges)) return NULL;
    if (max_edges < 10) {
        PyErr_SetString(PyExc_ValueError, "max_edges must be at least 10");
        return NULL;
    }
    ComponentsObject *self = (ComponentsObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    if (cgraph_init(&self->g, max_edges) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void Components_dealloc(ComponentsObject *self) {
    cgraph_free(&self->g);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Components_link(ComponentsObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"account", "other", "other_is_account", NULL};
    PyObject *account, *other;
    int other_is_account = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UU|$p:link", kwlist, &account, &other,
                                     &other_is_account))
        return NULL;
    NKey a, b;
    if (nkey_make(&a, 0, account) < 0) return NULL;
    if (nkey_make(&b, 0, other) < 0) {
        Py_DECREF(a.str);
        return NULL;
    }
    int rc = cgraph_link(&self->g, &a, &b, other_is_account);
    Py_DECREF(a.str);
    Py_DECREF(b.str);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *components_measure(ComponentsObject *self, PyObject *node, int which) {
    NKey k;
    if (!PyUnicode_Check(node)) {
        PyErr_SetString(PyExc_TypeError, "a node is a str");
        return NULL;
    }
    if (nkey_make(&k, 0, node) < 0) return NULL;
    int64_t v = which < 2 ? cgraph_measure(&self->g, &k, which) : cgraph_add_inflow(&self->g, &k);
    Py_DECREF(k.str);
    if (v < 0) return NULL;
    if (which == 2) Py_RETURN_NONE;
    return PyLong_FromLongLong(v);
}

static PyObject *Components_size(ComponentsObject *self, PyObject *node) {
    return components_measure(self, node, 0);
}
static PyObject *Components_inflow(ComponentsObject *self, PyObject *node) {
    return components_measure(self, node, 1);
}
static PyObject *Components_add_inflow(ComponentsObject *self, PyObject *node) {
    return components_measure(self, node, 2);
}
static Py_ssize_t Components_len(ComponentsObject *self) { return (Py_ssize_t)self->g.n_edges; }
static PyObject *Components_rebuilds(ComponentsObject *self, void *c) {
    return PyLong_FromLongLong(self->g.rebuilds);
}

static PyMethodDef Components_methods[] = {
    {"link", (PyCFunction)(void (*)(void))Components_link, METH_VARARGS | METH_KEYWORDS,
     "link(account, other, *, other_is_account=False)"},
    {"add_inflow", (PyCFunction)Components_add_inflow, METH_O, "add_inflow(account)"},
    {"size", (PyCFunction)Components_size, METH_O, "size(node) -> accounts in its component"},
    {"inflow", (PyCFunction)Components_inflow, METH_O, "inflow(node) -> its inflow events"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Components_getset[] = {
    {"rebuilds", (getter)Components_rebuilds, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods Components_seq = {.sq_length = (lenfunc)Components_len};

static PyTypeObject ComponentsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "centime.risk._cstate.Components",
    .tp_doc = "Accounts linked by what they share (centime.risk.graph.Components), in C.",
    .tp_basicsize = sizeof(ComponentsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Components_new,
    .tp_dealloc = (destructor)Components_dealloc,
    .tp_methods = Components_methods,
    .tp_getset = Components_getset,
    .tp_as_sequence = &Components_seq,
};

/* -- the state ------------------------------------------------------------------------------ */
enum { T_TOPUP = 1, T_OUTFLOW = 2, T_INFLOW = 4, T_PAYOUT = 8, T_DECLINED = 16, T_CARRIER = 32,
       T_SIGNUP = 64, T_METHOD_CHANGE = 128 };
enum { F_ACCOUNTS, F_PAYER_WINDOWS, F_PAYEE_WINDOWS, F_DEVICES, F_IPS, F_INSTRUMENTS, F_COUNT };
enum { S_STANDARD, S_FLOW, S_DECLINE, S_DAY_WEEK, S_MONTH, S_WEEK, S_DAY, S_COUNT };
#define FAN_CAP 64
#define UPSTREAM_CAP 16
#define THING_ACCOUNTS_CAP 64
#define NS_PER_S 1000000000LL
static const int ACCOUNT_SHAPES[W_COUNT] = {S_FLOW,  S_FLOW,     S_DECLINE, S_MONTH,
                                            S_WEEK,  S_DAY_WEEK, S_DAY,     S_DAY_WEEK};

struct RulesStateObject {
    PyObject_HEAD KMap maps[F_COUNT];
    PTable pairs, seen;
    SketchShape sketch;
    ShapeObject *shapes[S_COUNT];
    PyObject *types;   /* type -> flags | (id + 1) << 8 */
    PyObject *limits;  /* type -> float (absent: inf) */
    PyObject *scales;  /* asset -> int, filled through scale_of */
    PyObject *scale_of;
    CGraph shared, referrals; /* graph.Components: shared things; referrals */
    PyObject *prefixes[4];
    double near_share, carrier_monthly, heavy_ratio;
};

static PyTypeObject RulesStateType;

static void *make_account(RulesStateObject *s) {
    Account *a = cs_calloc(1, sizeof(Account));
    if (a == NULL) return PyErr_NoMemory();
    a->first_seen_ns = a->method_change_ns = -1;
    return a;
}

static void drop_account(RulesStateObject *s, void *p) {
    Account *a = p;
    for (int i = 0; i < W_COUNT; i++) wins_free(a->w[i], Py_SIZE(s->shapes[ACCOUNT_SHAPES[i]]));
    recent_free(a->fan_in);
    recent_free(a->fan_out);
    recent_free(a->upstream);
    PyMem_Free(a);
}

static PyObject *new_windowset(ShapeObject *shape) {
    if (alloc_fails()) return PyErr_NoMemory(); /* an allocation the test hook counts too */
    Py_ssize_t n = Py_SIZE(shape);
    WindowSetObject *ws = (WindowSetObject *)WindowSetType.tp_alloc(&WindowSetType, n);
    if (ws == NULL) return NULL;
    Py_INCREF(shape);
    ws->shape = shape;
    for (Py_ssize_t i = 0; i < n; i++) wwin_init(&ws->w[i]);
    return (PyObject *)ws;
}

static void *make_windows(RulesStateObject *s) { return new_windowset(s->shapes[S_STANDARD]); }
static void drop_windows(RulesStateObject *s, void *p) { Py_DECREF((PyObject *)p); }

static void *make_thing(RulesStateObject *s) {
    Thing *t = cs_calloc(1, sizeof(Thing));
    if (t == NULL) return PyErr_NoMemory();
    t->windows = new_windowset(s->shapes[S_STANDARD]);
    if (t->windows == NULL) {
        PyMem_Free(t);
        return NULL;
    }
    return t;
}

static void drop_thing(RulesStateObject *s, void *p) {
    Thing *t = p;
    Py_DECREF(t->windows);
    wins_free(t->declines, Py_SIZE(s->shapes[S_DECLINE]));
    recent_free(t->accounts);
    PyMem_Free(t);
}

/* windows of one shape, created on first use (features._add) */
static int wins_add(RulesStateObject *s, WWin **slot, int shape, int64_t now, double value) {
    ShapeObject *sh = s->shapes[shape];
    Py_ssize_t n = Py_SIZE(sh);
    WWin *w = *slot;
    if (w == NULL) {
        w = cs_malloc((size_t)n * sizeof(WWin));
        if (w == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) wwin_init(&w[i]);
    }
    if (windows_count(w, sh->dims, n, now, value) < 0) {
        if (*slot == NULL) wins_free(w, n); /* never used: as it was */
        return -1;
    }
    *slot = w;
    return 0;
}

/* features._read: window i's count and sum (zero when empty) as of now; moves every window */
static void wins_read(RulesStateObject *s, WWin *w, int shape, int64_t now, int i, int64_t *count,
                      double *sum) {
    if (w == NULL) {
        *count = 0;
        *sum = 0.0;
        return;
    }
    ShapeObject *sh = s->shapes[shape];
    windows_move(w, sh->dims, Py_SIZE(sh), now);
    *count = w[i].total_count;
    *sum = w[i].total_count ? w[i].total_sum : 0.0;
}

/* wins_read's count and sum without moving the windows (the same subtractions, in order) */
static void wins_peek(RulesStateObject *s, WWin *w, int shape, int64_t now, int i, int64_t *count,
                      double *sum) {
    int64_t c = 0;
    double total = 0.0;
    if (w != NULL) {
        const int64_t *dims = s->shapes[shape]->dims;
        int64_t bucket = floordiv64(now, dims[2 * i]);
        c = w[i].total_count;
        total = w[i].total_sum;
        if (bucket > w[i].r.head) wwin_after(&w[i], dims[2 * i + 1], bucket, &c, &total);
    }
    *count = c;
    *sum = c ? total : 0.0;
}

static int64_t wins_count(RulesStateObject *s, WWin *w, int shape, int64_t now, int i) {
    int64_t c;
    double sum;
    wins_read(s, w, shape, now, i, &c, &sum);
    return c;
}

/* -- one event, parsed once ----------------------------------------------------------------- */
typedef struct {
    int64_t now;
    double amount, limit, roundness, type_id;
    long flags;
    PyObject *type, *payer, *payee, *device, *ip, *instrument;
    int has_payee;
} Ev;

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                               1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16};

/* float(amount) / 10**scale and _roundness(amount, scale), as features.py computes them */
static int ev_amount(Ev *ev, PyObject *amount, long scale) {
    int overflow = 0;
    long long a = PyLong_Check(amount) ? PyLong_AsLongLongAndOverflow(amount, &overflow) : 0;
    if (a == -1 && PyErr_Occurred()) return -1;
    if (PyLong_Check(amount) && !overflow && scale >= 0 && scale <= 14) {
        int64_t whole = (int64_t)POW10[scale];
        ev->amount = (double)a / POW10[scale];
        ev->roundness = a <= 0 ? 0.0 : a % (100 * whole) == 0 ? 2.0 : a % (10 * whole) == 0 ? 1.0 : 0.0;
        return 0;
    }
    PyObject *ten = PyLong_FromLong(10), *sc = PyLong_FromLong(scale), *whole = NULL, *q = NULL;
    PyObject *hundred = NULL, *tens = NULL, *r100 = NULL, *r10 = NULL, *zero = PyLong_FromLong(0);
    int rc = -1;
    if (ten && sc && zero) whole = PyNumber_Power(ten, sc, Py_None);
    PyObject *f = whole ? PyNumber_Float(amount) : NULL;
    if (f) q = PyNumber_TrueDivide(f, whole);
    Py_XDECREF(f);
    if (q) {
        ev->amount = PyFloat_AsDouble(q);
        int positive = PyObject_RichCompareBool(amount, zero, Py_GT);
        if (positive == 0) {
            ev->roundness = 0.0;
            rc = 0;
        } else if (positive > 0) {
            PyObject *h = PyLong_FromLong(100);
            hundred = h ? PyNumber_Multiply(h, whole) : NULL;
            Py_XDECREF(h);
            tens = PyNumber_Multiply(ten, whole);
            r100 = hundred ? PyNumber_Remainder(amount, hundred) : NULL;
            r10 = tens ? PyNumber_Remainder(amount, tens) : NULL;
            if (r100 && r10) {
                int z100 = PyObject_RichCompareBool(r100, zero, Py_EQ);
                int z10 = PyObject_RichCompareBool(r10, zero, Py_EQ);
                if (z100 >= 0 && z10 >= 0) {
                    ev->roundness = z100 ? 2.0 : z10 ? 1.0 : 0.0;
                    rc = 0;
                }
            }
        }
        if (rc == 0 && ev->amount == -1.0 && PyErr_Occurred()) rc = -1;
    }
    Py_XDECREF(ten);
    Py_XDECREF(sc);
    Py_XDECREF(whole);
    Py_XDECREF(q);
    Py_XDECREF(hundred);
    Py_XDECREF(tens);
    Py_XDECREF(r100);
    Py_XDECREF(r10);
    Py_XDECREF(zero);
    return rc;
}

static int ev_scale(RulesStateObject *s, PyObject *asset, long *scale) {
    PyObject *found = PyDict_GetItemWithError(s->scales, asset);
    if (found == NULL) {
        if (PyErr_Occurred()) return -1;
        found = PyObject_CallOneArg(s->scale_of, asset);
        if (found == NULL) return -1;
        int rc = PyDict_SetItem(s->scales, asset, found);
        Py_DECREF(found);
        if (rc < 0) return -1;
    }
    *scale = PyLong_AsLong(found);
    return *scale == -1 && PyErr_Occurred() ? -1 : 0;
}

static int ev_parse(RulesStateObject *s, PyObject *event, Ev *ev) {
    if (!PyTuple_Check(event) || PyTuple_GET_SIZE(event) != 9) {
        PyErr_SetString(PyExc_TypeError, "expected a RiskEvent");
        return -1;
    }
    /* every field's type before anything counts: an update never fails half-way */
    for (int k = 0; k < 9; k++) {
        PyObject *f = PyTuple_GET_ITEM(event, k);
        int ok = (k == 0 || k == 2)   ? PyLong_Check(f)
                 : (k == 1 || k == 3 || k == 4) ? PyUnicode_CheckExact(f)
                                              : (f == Py_None || PyUnicode_CheckExact(f));
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "RiskEvent field %d: unexpected type %.100s", k,
                         Py_TYPE(f)->tp_name);
            return -1;
        }
    }
    if (as_int64(PyTuple_GET_ITEM(event, 0), &ev->now) < 0) return -1;
    ev->type = PyTuple_GET_ITEM(event, 1);
    ev->payer = PyTuple_GET_ITEM(event, 4);
    ev->payee = PyTuple_GET_ITEM(event, 5);
    ev->device = PyTuple_GET_ITEM(event, 6);
    ev->ip = PyTuple_GET_ITEM(event, 7);
    ev->instrument = PyTuple_GET_ITEM(event, 8);
    ev->has_payee = truthy_str(ev->payee);
    if (ev->has_payee < 0) return -1;
    long scale;
    if (ev_scale(s, PyTuple_GET_ITEM(event, 3), &scale) < 0) return -1;
    if (ev_amount(ev, PyTuple_GET_ITEM(event, 2), scale) < 0) return -1;
    PyObject *code = PyDict_GetItemWithError(s->types, ev->type);
    if (code == NULL && PyErr_Occurred()) return -1;
    long c = code ? PyLong_AsLong(code) : 0;
    if (c == -1 && PyErr_Occurred()) return -1;
    ev->flags = c & 0xff;
    ev->type_id = (double)((c >> 8) - 1);
    PyObject *limit = PyDict_GetItemWithError(s->limits, ev->type);
    if (limit == NULL && PyErr_Occurred()) return -1;
    ev->limit = limit ? PyFloat_AsDouble(limit) : INFINITY;
    return ev->limit == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* -- the graphs ------------------------------------------------------------------------ */
/* link(account, tag + other): tag 0 links another account (a referrer) */
static int graph_link(CGraph *g, PyObject *account, int tag, PyObject *other) {
    NKey a, b;
    if (nkey_make(&a, 0, account) < 0) return -1;
    if (nkey_make(&b, tag, other) < 0) {
        Py_DECREF(a.str);
        return -1;
    }
    int rc = cgraph_link(g, &a, &b, tag == 0);
    Py_DECREF(a.str);
    Py_DECREF(b.str);
    return rc;
}

/* size (which 0) or inflow (1) of an account's component as a float; add_inflow (2) */
static int graph_account(CGraph *g, PyObject *account, int which, double *out) {
    NKey k;
    if (nkey_make(&k, 0, account) < 0) return -1;
    int64_t v = which < 2 ? cgraph_measure(g, &k, which) : cgraph_add_inflow(g, &k);
    Py_DECREF(k.str);
    if (v < 0) return -1;
    if (out) *out = (double)v;
    return 0;
}

/* -- updates (OnlineFeatures.update) --------------------------------------------------------
 * An event reserves first (rules_reserve): it finds, or makes, the state of every key it
 * counts in, and makes room in every window, list, table and graph it adds to. Only then
 * does it count (rules_apply), which then allocates nothing: it cannot stop half-way for want
 * of memory. A MemoryError in the reserve leaves the state as it was: what it allocated is
 * capacity, or new state not yet in the maps (dropped), or new windows (freed). */
enum { K_PAYER, K_PAYEE, K_PAYER_WINDOWS, K_PAYEE_WINDOWS, K_DEVICE, K_IP, K_INSTRUMENT, K_COUNT };
static const int K_MAP[K_COUNT] = {F_ACCOUNTS,      F_ACCOUNTS, F_PAYER_WINDOWS, F_PAYEE_WINDOWS,
                                   F_DEVICES,       F_IPS,      F_INSTRUMENTS};
#define PLAN_WINDOWS 16 /* an event adds to at most 12 window arrays of accounts and things */

typedef struct {
    PyObject *key[K_COUNT]; /* NULL: the event has none (the payee: or it is the payer) */
    KRef ref[K_COUNT];
    WWin **fresh[PLAN_WINDOWS]; /* the window arrays the reserve allocated */
    Py_ssize_t fresh_n[PLAN_WINDOWS]; /* and how many windows each holds (to free their rings) */
    int n_fresh;
} Plan;

/* windows of one shape with room for an event at now, allocated on first use */
static int wins_room(RulesStateObject *s, Plan *p, WWin **slot, int shape, int64_t now) {
    ShapeObject *sh = s->shapes[shape];
    Py_ssize_t n = Py_SIZE(sh);
    if (*slot == NULL) {
        if (p->n_fresh >= PLAN_WINDOWS) { /* PLAN_WINDOWS too small for a new kind of event */
            PyErr_SetString(PyExc_SystemError, "rules plan: too many new window arrays");
            return -1;
        }
        WWin *w = cs_malloc((size_t)n * sizeof(WWin));
        if (w == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) wwin_init(&w[i]);
        *slot = w;
        p->fresh_n[p->n_fresh] = n;
        p->fresh[p->n_fresh++] = slot;
    }
    return windows_reserve(*slot, sh->dims, n, now);
}

static int ws_room(void *windows, int64_t now) {
    WindowSetObject *ws = windows;
    return windows_reserve(ws->w, ws->shape->dims, Py_SIZE(ws), now);
}

/* The keys' state found or made, and the maps' room for the new ones (nothing changes). */
static int plan_keys(RulesStateObject *s, Ev *ev, Plan *p) {
    PyObject **key = p->key;
    KRef *ref = p->ref;
    memset(key, 0, sizeof(p->key));
    for (int k = 0; k < K_COUNT; k++) {
        ref[k].fresh = 0;
        ref[k].value = NULL;
    }
    key[K_PAYER] = key[K_PAYER_WINDOWS] = ev->payer;
    if (ev->has_payee) {
        key[K_PAYEE_WINDOWS] = ev->payee;
        int same = PyObject_RichCompareBool(ev->payee, ev->payer, Py_EQ);
        if (same < 0) return -1;
        if (!same) key[K_PAYEE] = ev->payee;
    }
    PyObject *things[3] = {ev->device, ev->ip, ev->instrument};
    for (int k = 0; k < 3; k++) {
        int present = truthy_str(things[k]);
        if (present < 0) return -1;
        if (present) key[K_DEVICE + k] = things[k];
    }
    size_t added[F_COUNT] = {0};
    for (int k = 0; k < K_COUNT; k++) {
        if (key[k] == NULL) continue;
        KMap *m = &s->maps[K_MAP[k]];
        if (kmap_resolve(m, key[k], k == K_PAYEE && ref[K_PAYER].fresh == 1, &ref[k]) < 0)
            return -1;
        if (k == K_PAYEE && ref[k].fresh == 2 && ref[K_PAYER].fresh == 2 &&
            ref[k].slot == ref[K_PAYER].slot)
            ref[k].fresh = 3; /* the payer's new state, in the one slot both share */
        else if (ref[k].fresh)
            added[K_MAP[k]]++;
    }
    for (int f = 0; f < F_COUNT; f++)
        if (added[f] && kmap_room(&s->maps[f], added[f]) < 0) return -1;
    for (int k = 0; k < K_COUNT; k++) {
        if (ref[k].fresh == 3) {
            ref[k].value = ref[K_PAYER].value;
            ref[k].fresh = 0;
        } else if (key[k] && kmap_make(s, &s->maps[K_MAP[k]], &ref[k]) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Room in the things' windows, lists and the pair table, and the links in the shared graph. */
static int plan_things(RulesStateObject *s, Ev *ev, Plan *p, int64_t *links) {
    int declined = (ev->flags & T_DECLINED) != 0;
    size_t seen = 0;
    for (int k = 0; k < 3; k++) {
        Thing *thing = p->ref[K_DEVICE + k].value;
        if (thing == NULL) continue;
        seen++;
        if (ws_room(thing->windows, ev->now) < 0 ||
            (declined && wins_room(s, p, &thing->declines, S_DECLINE, ev->now) < 0) ||
            recent_room(&thing->accounts, 1, THING_ACCOUNTS_CAP) < 0)
            return -1;
        if (k != 1 && !declined) *links += 1;
    }
    return ptable_room(&s->seen, &s->sketch, seen);
}

/* Room for update_money and update_inflow, under the same conditions. */
static int plan_money(RulesStateObject *s, Ev *ev, Plan *p, int64_t *links) {
    Account *payer = p->ref[K_PAYER].value, *payee = p->ref[K_PAYEE].value;
    int64_t now = ev->now;
    long f = ev->flags;
    double amount = ev->amount;
    WWin **w = payer->w;
    if (((f & T_TOPUP) && wins_room(s, p, &w[W_FLOW_IN], S_FLOW, now) < 0) ||
        ((f & T_TOPUP) && (f & T_CARRIER) && wins_room(s, p, &w[W_CARRIER], S_MONTH, now) < 0) ||
        (!(f & T_TOPUP) && (f & T_OUTFLOW) && wins_room(s, p, &w[W_FLOW_OUT], S_FLOW, now) < 0) ||
        (amount > 0 && s->near_share * ev->limit <= amount && amount < ev->limit &&
         wins_room(s, p, &w[W_NEAR], S_DAY_WEEK, now) < 0) ||
        (ev->roundness >= 1.0 && wins_room(s, p, &w[W_ROUND], S_DAY, now) < 0))
        return -1;
    if ((f & T_SIGNUP) && ev->has_payee) {
        Account *referrer = payee ? payee : payer;
        if (wins_room(s, p, &referrer->w[W_REFERRALS], S_DAY_WEEK, now) < 0 ||
            cgraph_reserve_links(&s->referrals, 1) < 0)
            return -1;
    } else if ((f & T_PAYOUT) && ev->has_payee) {
        *links += 1;
    }
    if (payee == NULL || !(f & T_INFLOW)) return 0;
    /* the carrier's funds as update_inflow reads them (a carrier top-up may add to them) */
    int64_t c;
    double carrier;
    wins_peek(s, payer->w[W_CARRIER], S_MONTH, now, 0, &c, &carrier);
    int heavy = carrier >= s->heavy_ratio * s->carrier_monthly || (f & T_CARRIER);
    int32_t upstream = payer->upstream ? payer->upstream->len : 0;
    if (wins_room(s, p, &payee->w[W_FLOW_IN], S_FLOW, now) < 0 ||
        (heavy && wins_room(s, p, &payee->w[W_CARRIER_IN], S_WEEK, now) < 0) ||
        recent_room(&payee->fan_in, 1, FAN_CAP) < 0 ||
        recent_room(&payer->fan_out, 1, FAN_CAP) < 0 ||
        recent_room(&payee->upstream, 1 + upstream, UPSTREAM_CAP) < 0)
        return -1;
    return 0;
}

static void plan_undo(RulesStateObject *s, Plan *p) {
    for (int i = p->n_fresh - 1; i >= 0; i--) {
        /* nothing counted in it, but a reserve gave its windows ring buffers */
        wins_free(*p->fresh[i], p->fresh_n[i]);
        *p->fresh[i] = NULL;
    }
    for (int k = 0; k < K_COUNT; k++)
        if (p->key[k]) kmap_unmake(s, &s->maps[K_MAP[k]], &p->ref[k]);
}

static int rules_reserve(RulesStateObject *s, Ev *ev, Plan *p) {
    p->n_fresh = 0;
    int64_t links = 0;
    int rc = plan_keys(s, ev, p);
    if (rc == 0) {
        rc = ws_room(p->ref[K_PAYER_WINDOWS].value, ev->now);
        if (rc == 0 && ev->has_payee) rc = ws_room(p->ref[K_PAYEE_WINDOWS].value, ev->now);
        if (rc == 0 && ev->has_payee) rc = ptable_room(&s->pairs, &s->sketch, 1);
    }
    if (rc == 0) rc = plan_things(s, ev, p, &links);
    if (rc == 0 && (ev->flags & T_DECLINED)) {
        Account *payer = p->ref[K_PAYER].value;
        rc = wins_room(s, p, &payer->w[W_DECLINES], S_DECLINE, ev->now);
    } else if (rc == 0) {
        rc = plan_money(s, ev, p, &links);
    }
    if (rc == 0 && links) rc = cgraph_reserve_links(&s->shared, links);
    if (rc < 0) {
        plan_undo(s, p);
        return -1;
    }
    for (int k = 0; k < K_COUNT; k++)
        if (p->key[k]) kmap_commit(&s->maps[K_MAP[k]], p->key[k], &p->ref[k]);
    return 0;
}

static int update_things(RulesStateObject *s, Ev *ev, Plan *p, double amount) {
    int declined = (ev->flags & T_DECLINED) != 0;
    PyObject **keys = &p->key[K_DEVICE];
    for (int k = 0; k < 3; k++) {
        Thing *thing = p->ref[K_DEVICE + k].value;
        if (thing == NULL) continue;
        WindowSetObject *ws = (WindowSetObject *)thing->windows;
        if (windows_count(ws->w, ws->shape->dims, Py_SIZE(ws), ev->now, amount) < 0) return -1;
        if (declined && wins_add(s, &thing->declines, S_DECLINE, ev->now, amount) < 0) return -1;
        if (recent_touch(&thing->accounts, ev->payer, 0, THING_ACCOUNTS_CAP) < 0) return -1;
        if (ptable_add(&s->seen, &s->sketch, ev->payer, keys[k], k + 1) < 0) return -1;
        /* IPs are shared by whole networks (NAT): not linked */
        if (k != 1 && !declined && graph_link(&s->shared, ev->payer, k + 1, keys[k]) < 0)
            return -1;
    }
    return 0;
}

static int update_inflow(RulesStateObject *s, Ev *ev, Account *payer, Account *payee) {
    int64_t now = ev->now;
    double amount = ev->amount;
    payee->balance += amount;
    if (wins_add(s, &payee->w[W_FLOW_IN], S_FLOW, now, amount) < 0) return -1;
    if (recent_touch(&payee->fan_in, ev->payer, now, FAN_CAP) < 0) return -1;
    if (recent_touch(&payer->fan_out, ev->payee, now, FAN_CAP) < 0) return -1;
    if (graph_account(&s->shared, ev->payee, 2, NULL) < 0) return -1;
    int64_t c;
    double carrier;
    wins_read(s, payer->w[W_CARRIER], S_MONTH, now, 0, &c, &carrier);
    if (carrier >= s->heavy_ratio * s->carrier_monthly &&
        wins_add(s, &payee->w[W_CARRIER_IN], S_WEEK, now, 1.0) < 0)
        return -1;
    /* Where this money came from: the payer and what reached the payer, for cycles. */
    if (recent_touch(&payee->upstream, ev->payer, now, UPSTREAM_CAP) < 0) return -1;
    Recent *up = payer->upstream;
    if (up == NULL || up->len == 0) return 0;
    int32_t n = up->len; /* a snapshot: list(payer.upstream.items()) */
    REntry copy[UPSTREAM_CAP + 1];
    memcpy(copy, up->e, (size_t)n * sizeof(REntry));
    for (int32_t i = 0; i < n; i++) Py_INCREF(copy[i].key);
    int rc = 0;
    Py_hash_t hp = PyObject_Hash(ev->payee);
    if (hp == -1) rc = -1;
    for (int32_t i = 0; i < n && rc == 0; i++) {
        int same = keys_equal(copy[i].key, copy[i].hash, ev->payee, hp);
        if (same < 0) rc = -1;
        else if (!same && copy[i].t >= window_start(now, NS_PER_DAY))
            rc = recent_touch(&payee->upstream, copy[i].key, copy[i].t, UPSTREAM_CAP);
    }
    for (int32_t i = 0; i < n; i++) Py_DECREF(copy[i].key);
    return rc;
}

static int update_money(RulesStateObject *s, Ev *ev, Account *payer, Account *payee) {
    int64_t now = ev->now;
    double amount = ev->amount;
    long f = ev->flags;
    if (f & T_TOPUP) {
        payer->balance += amount;
        if (wins_add(s, &payer->w[W_FLOW_IN], S_FLOW, now, amount) < 0) return -1;
        if ((f & T_CARRIER) && wins_add(s, &payer->w[W_CARRIER], S_MONTH, now, amount) < 0)
            return -1;
    } else if (f & T_OUTFLOW) {
        double left = payer->balance - amount;
        payer->balance = left > 0.0 ? left : 0.0; /* max(0.0, left) */
        if (wins_add(s, &payer->w[W_FLOW_OUT], S_FLOW, now, amount) < 0) return -1;
    }
    if (amount > 0 && s->near_share * ev->limit <= amount && amount < ev->limit &&
        wins_add(s, &payer->w[W_NEAR], S_DAY_WEEK, now, amount) < 0)
        return -1;
    if (ev->roundness >= 1.0 && wins_add(s, &payer->w[W_ROUND], S_DAY, now, amount) < 0)
        return -1;
    if ((f & T_SIGNUP) && ev->has_payee) {
        Account *referrer = payee ? payee : payer; /* the payee's account (the payer's own) */
        if (wins_add(s, &referrer->w[W_REFERRALS], S_DAY_WEEK, now, 1.0) < 0) return -1;
        if (graph_link(&s->referrals, ev->payer, 0, ev->payee) < 0) return -1;
    } else if ((f & T_PAYOUT) && ev->has_payee) {
        if (graph_link(&s->shared, ev->payer, 4, ev->payee) < 0) return -1;
        if (f & T_METHOD_CHANGE) payer->method_change_ns = now;
    }
    if (payee != NULL && (f & T_INFLOW)) return update_inflow(s, ev, payer, payee);
    return 0;
}

/* The event counted, once rules_reserve found its keys' state and made room everywhere. */
static int rules_apply(RulesStateObject *s, Ev *ev, Plan *p) {
    int64_t now = ev->now;
    double amount = ev->amount;
    Account *payer = p->ref[K_PAYER].value, *payee = p->ref[K_PAYEE].value;
    if (payer->first_seen_ns < 0) payer->first_seen_ns = now;
    WindowSetObject *ws = p->ref[K_PAYER_WINDOWS].value;
    if (windows_count(ws->w, ws->shape->dims, Py_SIZE(ws), now, amount) < 0) return -1;
    if (ev->has_payee) {
        ws = p->ref[K_PAYEE_WINDOWS].value;
        if (windows_count(ws->w, ws->shape->dims, Py_SIZE(ws), now, amount) < 0) return -1;
        if (payee && payee->first_seen_ns < 0) payee->first_seen_ns = now;
        if (ptable_add(&s->pairs, &s->sketch, ev->payer, ev->payee, 0) < 0) return -1;
    }
    if (update_things(s, ev, p, amount) < 0) return -1;
    if (ev->flags & T_DECLINED) return wins_add(s, &payer->w[W_DECLINES], S_DECLINE, now, amount);
    return update_money(s, ev, payer, payee);
}

static int rules_update(RulesStateObject *s, Ev *ev) {
    Plan plan;
    if (rules_reserve(s, ev, &plan) < 0) return -1;
    return rules_apply(s, ev, &plan);
}

/* -- the row's families (OnlineFeatures._group) --------------------------------------------- */
static const int GROUP_SIZES[13] = {5, 10, 10, 10, 10, 10, 8, 11, 5, 2, 2, 3, 12};
#define ROW_SIZE 98

/* float(a - b) / divisor, as features.py computes it (the exact difference, rounded once). */
static int int_ratio(int64_t a, int64_t b, int64_t divisor, double *out) {
    int64_t d;
    if (!__builtin_sub_overflow(a, b, &d)) {
        *out = (double)d / (double)divisor;
        return 0;
    }
    PyObject *pa = PyLong_FromLongLong(a), *pb = PyLong_FromLongLong(b), *pd = NULL, *q = NULL;
    PyObject *pv = PyLong_FromLongLong(divisor), *f = NULL;
    if (pa && pb) pd = PyNumber_Subtract(pa, pb);
    if (pd) f = PyNumber_Float(pd);
    if (f && pv) q = PyNumber_TrueDivide(f, pv);
    Py_XDECREF(f);
    int rc = -1;
    if (q) {
        *out = PyFloat_AsDouble(q);
        rc = (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
    }
    Py_XDECREF(pa);
    Py_XDECREF(pb);
    Py_XDECREF(pd);
    Py_XDECREF(pv);
    Py_XDECREF(q);
    return rc;
}

/* floormod64: defined with the model's row above (the same floor modulo). */

static int group_velocity(RulesStateObject *s, Ev *ev, int family, double *out) {
    PyObject *key = (PyObject *[]){ev->payer, ev->payee, ev->device, ev->ip, ev->instrument}[family];
    for (int i = 0; i < 10; i++) out[i] = 0.0;
    int present = truthy_str(key);
    if (present <= 0) return present;
    void *found;
    if (kmap_get(&s->maps[family < 2 ? F_PAYER_WINDOWS + family : F_DEVICES + family - 2], key,
                 &found) < 0)
        return -1;
    if (found == NULL) return 0;
    WindowSetObject *ws = family < 2 ? found : (WindowSetObject *)((Thing *)found)->windows;
    Py_ssize_t n = Py_SIZE(ws);
    windows_move(ws->w, ws->shape->dims, n, ev->now);
    for (Py_ssize_t i = 0; i < n && i < 5; i++) {
        int64_t c = ws->w[i].total_count;
        out[2 * i] = (double)c;
        out[2 * i + 1] = c ? ws->w[i].total_sum : 0.0;
    }
    return 0;
}

static int get_account(RulesStateObject *s, PyObject *key, Account **out) {
    void *found;
    if (kmap_get(&s->maps[F_ACCOUNTS], key, &found) < 0) return -1;
    *out = found;
    return 0;
}

static int get_payee(RulesStateObject *s, Ev *ev, Account **out) {
    *out = NULL;
    return ev->has_payee ? get_account(s, ev->payee, out) : 0;
}

static int get_thing(RulesStateObject *s, int family, PyObject *key, Thing **out) {
    *out = NULL;
    int present = truthy_str(key);
    if (present <= 0) return present;
    void *found;
    if (kmap_get(&s->maps[family], key, &found) < 0) return -1;
    *out = found;
    return 0;
}

static int group_basics(RulesStateObject *s, Ev *ev, Account *payer, Account *payee,
                        double *out) {
    int64_t pair = ptable_get(&s->pairs, &s->sketch, ev->payer, ev->payee, 0);
    if (pair < 0) return -1;
    int64_t reverse = ptable_get(&s->pairs, &s->sketch, ev->payee, ev->payer, 0);
    if (reverse < 0) return -1;
    out[0] = out[1] = 0.0;
    if (payer && int_ratio(ev->now, payer->first_seen_ns, NS_PER_H, &out[0]) < 0) return -1;
    if (payee && int_ratio(ev->now, payee->first_seen_ns, NS_PER_H, &out[1]) < 0) return -1;
    out[2] = pair ? 0.0 : 1.0;
    out[3] = (double)pair;
    out[4] = reverse ? 1.0 : 0.0;
    PyObject *things[3] = {ev->device, ev->ip, ev->instrument};
    for (int k = 0; k < 3; k++) {
        int present = truthy_str(things[k]);
        if (present < 0) return -1;
        out[5 + k] = 0.0;
        if (!present) continue;
        int64_t seen = ptable_get(&s->seen, &s->sketch, ev->payer, things[k], k + 1);
        if (seen < 0) return -1;
        out[5 + k] = seen ? 0.0 : 1.0;
    }
    return 0;
}

static void group_flows(RulesStateObject *s, Ev *ev, Account *payer, Account *payee,
                        double *out) {
    int64_t now = ev->now, c;
    double amount = ev->amount, balance = payer ? payer->balance : 0.0;
    int outflow = (ev->flags & T_OUTFLOW) != 0;
    double drain = 0.0;
    if (outflow && amount > 0) {
        double x = amount / balance;
        drain = balance > 0 ? (x < 10.0 ? x : 10.0) : 10.0;
    }
    double flow_in, flow_out;
    wins_read(s, payer ? payer->w[W_FLOW_IN] : NULL, S_FLOW, now, 0, &c, &flow_in);
    wins_read(s, payer ? payer->w[W_FLOW_OUT] : NULL, S_FLOW, now, 0, &c, &flow_out);
    double passed = flow_out + (outflow ? amount : 0.0);
    double pass_through = 0.0;
    if (flow_in > 0) {
        double x = passed / flow_in;
        pass_through = x < 2.0 ? x : 2.0;
    }
    int64_t day_ago = window_start(now, NS_PER_DAY);
    out[0] = balance;
    out[1] = drain;
    out[2] = flow_in;
    out[3] = flow_out;
    out[4] = pass_through;
    out[5] = payer ? (double)(payer->fan_out ? payer->fan_out->len : 0) : 0.0;
    out[6] = payer ? (double)recent_since(payer->fan_out, day_ago) : 0.0;
    out[7] = payer ? (double)recent_since(payer->fan_in, day_ago) : 0.0;
    out[8] = payee ? (double)(payee->fan_in ? payee->fan_in->len : 0) : 0.0;
    out[9] = payee ? (double)recent_since(payee->fan_in, day_ago) : 0.0;
    out[10] = payee ? (double)recent_since(payee->fan_out, day_ago) : 0.0;
}

static int group_declines(RulesStateObject *s, Ev *ev, Account *payer, double *out) {
    int64_t now = ev->now;
    WWin *pd = payer ? payer->w[W_DECLINES] : NULL;
    out[0] = (double)wins_count(s, pd, S_DECLINE, now, 0);
    out[1] = (double)wins_count(s, pd, S_DECLINE, now, 1);
    Thing *instrument, *device;
    if (get_thing(s, F_INSTRUMENTS, ev->instrument, &instrument) < 0) return -1;
    if (get_thing(s, F_DEVICES, ev->device, &device) < 0) return -1;
    WWin *id = instrument ? instrument->declines : NULL, *dd = device ? device->declines : NULL;
    out[2] = (double)wins_count(s, id, S_DECLINE, now, 0);
    out[3] = (double)wins_count(s, id, S_DECLINE, now, 1);
    out[4] = (double)wins_count(s, dd, S_DECLINE, now, 1);
    return 0;
}

static int group_carrier(RulesStateObject *s, Ev *ev, Account *payer, double *out) {
    int64_t c;
    double carrier;
    wins_read(s, payer ? payer->w[W_CARRIER] : NULL, S_MONTH, ev->now, 0, &c, &carrier);
    if (s->carrier_monthly == 0.0) {
        PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
        return -1;
    }
    out[0] = carrier;
    out[1] = carrier / s->carrier_monthly;
    return 0;
}

static int group_carrier_in(RulesStateObject *s, Ev *ev, double *out) {
    Account *payee;
    if (get_payee(s, ev, &payee) < 0) return -1;
    double carrier_in =
        (double)wins_count(s, payee ? payee->w[W_CARRIER_IN] : NULL, S_WEEK, ev->now, 0);
    double payee_7d = 0.0;
    if (ev->has_payee) {
        void *found;
        if (kmap_get(&s->maps[F_PAYEE_WINDOWS], ev->payee, &found) < 0) return -1;
        if (found) {
            WindowSetObject *ws = found;
            windows_move(ws->w, ws->shape->dims, Py_SIZE(ws), ev->now);
            payee_7d = (double)ws->w[3].total_count;
        }
    }
    out[0] = carrier_in;
    out[1] = payee_7d != 0.0 ? carrier_in / payee_7d : 0.0;
    return 0;
}

static int group_graph(RulesStateObject *s, Ev *ev, Account *payer, Account *payee,
                       double *out) {
    int64_t now = ev->now;
    Thing *device, *instrument;
    if (get_thing(s, F_DEVICES, ev->device, &device) < 0) return -1;
    if (get_thing(s, F_INSTRUMENTS, ev->instrument, &instrument) < 0) return -1;
    WWin *refs = payee ? payee->w[W_REFERRALS] : NULL;
    double referrals0 = (double)wins_count(s, refs, S_DAY_WEEK, now, 0);
    double referrals1 = (double)wins_count(s, refs, S_DAY_WEEK, now, 1);
    double cycle = 0.0;
    if (payer && (ev->flags & T_INFLOW) && ev->has_payee) {
        Py_hash_t h = PyObject_Hash(ev->payee);
        if (h == -1) return -1;
        int32_t at = recent_find(payer->upstream, ev->payee, h);
        if (at == -2) return -1;
        cycle = at >= 0 && payer->upstream->e[at].t >= window_start(now, NS_PER_DAY) ? 1.0 : 0.0;
    }
    double method_age = -1.0;
    if (payer && payer->method_change_ns >= 0 &&
        int_ratio(now, payer->method_change_ns, NS_PER_H, &method_age) < 0)
        return -1;
    for (int i = 0; i < 12; i++) out[i] = 0.0;
    if (graph_account(&s->shared, ev->payer, 0, &out[0]) < 0 ||
        graph_account(&s->shared, ev->payer, 1, &out[1]) < 0)
        return -1;
    if (ev->has_payee && (graph_account(&s->shared, ev->payee, 0, &out[2]) < 0 ||
                          graph_account(&s->shared, ev->payee, 1, &out[3]) < 0))
        return -1;
    out[4] = device ? (double)(device->accounts ? device->accounts->len : 0) : 0.0;
    out[5] = instrument ? (double)(instrument->accounts ? instrument->accounts->len : 0) : 0.0;
    if (graph_account(&s->referrals, ev->payer, 0, &out[6]) < 0) return -1;
    if (ev->has_payee && graph_account(&s->referrals, ev->payee, 0, &out[7]) < 0) return -1;
    out[8] = referrals0;
    out[9] = referrals1;
    out[10] = cycle;
    out[11] = method_age;
    return 0;
}

static int rules_group(RulesStateObject *s, Ev *ev, int group, double *out) {
    int64_t now = ev->now;
    if (group == 0) {
        out[0] = ev->type_id;
        out[1] = ev->amount;
        out[2] = (double)floormod64(floordiv64(now, NS_PER_H), 24);
        out[3] = ev->roundness;
        out[4] = s->near_share * ev->limit <= ev->amount && ev->amount < ev->limit ? 1.0 : 0.0;
        return 0;
    }
    if (group <= 5) return group_velocity(s, ev, group - 1, out);
    if (group == 10) return group_carrier_in(s, ev, out);
    Account *payer, *payee = NULL;
    if (get_account(s, ev->payer, &payer) < 0) return -1;
    if (group == 8) return group_declines(s, ev, payer, out);
    if (group == 9) return group_carrier(s, ev, payer, out);
    if (group == 11) {
        WWin *near = payer ? payer->w[W_NEAR] : NULL;
        out[0] = (double)wins_count(s, near, S_DAY_WEEK, now, 0);
        out[1] = (double)wins_count(s, near, S_DAY_WEEK, now, 1);
        out[2] = (double)wins_count(s, payer ? payer->w[W_ROUND] : NULL, S_DAY, now, 0);
        return 0;
    }
    if (get_payee(s, ev, &payee) < 0) return -1;
    if (group == 6) return group_basics(s, ev, payer, payee, out);
    if (group == 7) {
        group_flows(s, ev, payer, payee, out);
        return 0;
    }
    return group_graph(s, ev, payer, payee, out);
}

/* -- RulesRow: features.LazyRow ------------------------------------------------------------- */
typedef struct {
    PyObject_HEAD RulesStateObject *state;
    PyObject *event;
    Ev ev;
    uint32_t done; /* bit g: family g computed */
    double v[ROW_SIZE];
} RulesRowObject;

static int8_t GROUP_OF[ROW_SIZE];
static int8_t GROUP_START[13];

static PyTypeObject RulesRowType;

static int row_group(RulesRowObject *row, int g) {
    if (row->done & (1u << g)) return 0;
    if (rules_group(row->state, &row->ev, g, &row->v[GROUP_START[g]]) < 0) return -1;
    row->done |= 1u << g;
    return 0;
}

static PyObject *RulesRow_item(RulesRowObject *row, Py_ssize_t i) {
    if (i < 0 || i >= ROW_SIZE) {
        PyErr_SetString(PyExc_IndexError, "feature index out of range");
        return NULL;
    }
    if (row_group(row, GROUP_OF[i]) < 0) return NULL;
    return PyFloat_FromDouble(row->v[i]);
}

static PyObject *RulesRow_all(RulesRowObject *row, PyObject *unused) {
    for (int g = 0; g < 13; g++)
        if (row_group(row, g) < 0) return NULL;
    PyObject *out = PyList_New(ROW_SIZE);
    if (out == NULL) return NULL;
    for (int i = 0; i < ROW_SIZE; i++) {
        PyObject *f = PyFloat_FromDouble(row->v[i]);
        if (f == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, f);
    }
    return out;
}

static void RulesRow_dealloc(RulesRowObject *row) {
    Py_XDECREF(row->state);
    Py_XDECREF(row->event);
    Py_TYPE(row)->tp_free((PyObject *)row);
}

static PySequenceMethods RulesRow_seq = {.sq_item = (ssizeargfunc)RulesRow_item};

static PyMethodDef RulesRow_methods[] = {
    {"all", (PyCFunction)RulesRow_all, METH_NOARGS, "all() -> every feature, in row order."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RulesRowType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "centime.risk._cstate.RulesRow",
    .tp_doc = "A feature row read by index, each family computed on its first read "
              "(centime.risk.features.LazyRow).",
    .tp_basicsize = sizeof(RulesRowObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)RulesRow_dealloc,
    .tp_as_sequence = &RulesRow_seq,
    .tp_methods = RulesRow_methods,
};

/* -- RulesState: construction and methods --------------------------------------------------- */
static void RulesState_dealloc(RulesStateObject *s) {
    for (int i = 0; i < F_COUNT; i++)
        if (s->maps[i].table) kmap_free(s, &s->maps[i]);
    ptable_free(&s->pairs);
    ptable_free(&s->seen);
    for (int i = 0; i < S_COUNT; i++) Py_XDECREF(s->shapes[i]);
    for (int i = 0; i < 4; i++) Py_XDECREF(s->prefixes[i]);
    Py_XDECREF(s->types);
    Py_XDECREF(s->limits);
    Py_XDECREF(s->scales);
    Py_XDECREF(s->scale_of);
    cgraph_free(&s->shared);
    cgraph_free(&s->referrals);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int ptable_init(PTable *t, size_t exact_max) {
    t->mask = 15;
    t->count = 0;
    t->exact_max = exact_max;
    t->sketch = NULL;
    t->table = cs_calloc(t->mask + 1, sizeof(PEntry2));
    if (t->table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

#define SKETCH_WIDTH_MAX ((uint64_t)1 << 32)

static int log2_exact(Py_ssize_t n) {
    int k = 0;
    while (((Py_ssize_t)1 << k) < n) k++;
    return ((Py_ssize_t)1 << k) == n ? k : -1;
}

static int rules_config(RulesStateObject *s, Py_ssize_t exact, Py_ssize_t slots,
                        Py_ssize_t pairs_max, Py_ssize_t width, PyObject *multipliers,
                        PyObject *specs) {
    int slot_bits = log2_exact(slots), width_bits = log2_exact(width);
    Py_ssize_t depth = PyTuple_Check(multipliers) ? PyTuple_GET_SIZE(multipliers) : 0;
    if (exact < 1 || slot_bits < 1 || width_bits < 1 || pairs_max < 0 || depth < 1 ||
        depth > SKETCH_DEPTH_MAX || !PyTuple_Check(specs) || PyTuple_GET_SIZE(specs) != S_COUNT) {
        PyErr_SetString(PyExc_ValueError, "RulesState: bad limits, sketch or window specs");
        return -1;
    }
    /* the sketch is depth x width uint32 counters, allocated when the exact pairs fill */
    if ((uint64_t)width > SKETCH_WIDTH_MAX ||
        (size_t)width > SIZE_MAX / sizeof(uint32_t) / (size_t)depth) {
        PyErr_SetString(PyExc_ValueError, "RulesState: sketch_width above 2**32");
        return -1;
    }
    s->sketch.depth = (int)depth;
    s->sketch.width = (size_t)width;
    s->sketch.width_shift = 64 - width_bits;
    for (Py_ssize_t r = 0; r < depth; r++) {
        unsigned long long m = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(multipliers, r));
        if (m == (unsigned long long)-1 && PyErr_Occurred()) return -1;
        s->sketch.multipliers[r] = m;
    }
    for (int i = 0; i < S_COUNT; i++)
        if ((s->shapes[i] = shape_of(PyTuple_GET_ITEM(specs, i))) == NULL) return -1;
    if (Py_SIZE(s->shapes[S_STANDARD]) != 5 || Py_SIZE(s->shapes[S_DECLINE]) < 2 ||
        Py_SIZE(s->shapes[S_DAY_WEEK]) < 2 || Py_SIZE(s->shapes[S_WEEK]) < 1) {
        PyErr_SetString(PyExc_ValueError, "RulesState: unexpected window shapes");
        return -1;
    }
    KFactory makes[F_COUNT] = {make_account, make_windows, make_windows,
                               make_thing,   make_thing,   make_thing};
    KFree drops[F_COUNT] = {drop_account, drop_windows, drop_windows,
                            drop_thing,   drop_thing,   drop_thing};
    for (int i = 0; i < F_COUNT; i++)
        if (kmap_init(&s->maps[i], (size_t)exact, 64 - slot_bits, makes[i], drops[i]) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    if (ptable_init(&s->pairs, (size_t)pairs_max) < 0 ||
        ptable_init(&s->seen, (size_t)pairs_max) < 0)
        return -1;
    return 0;
}

static PyObject *RulesState_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"exact_keys", "slots", "pairs_exact_max", "sketch_width",
                             "multipliers", "specs", "types", "limits", "scale_of",
                             "near_share", "carrier_monthly", "heavy_ratio", "max_graph_links",
                             NULL};
    Py_ssize_t exact, slots, pairs_max, width, links;
    PyObject *multipliers, *specs, *types, *limits, *scale_of;
    double near, monthly, heavy;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$nnnnOOO!O!Odddn:RulesState", kwlist, &exact,
                                     &slots, &pairs_max, &width, &multipliers, &specs,
                                     &PyDict_Type, &types, &PyDict_Type, &limits, &scale_of,
                                     &near, &monthly, &heavy, &links))
        return NULL;
    if (links < 10) {
        PyErr_SetString(PyExc_ValueError, "max_edges must be at least 10");
        return NULL;
    }
    RulesStateObject *s = (RulesStateObject *)type->tp_alloc(type, 0);
    if (s == NULL) return NULL;
    s->near_share = near;
    s->carrier_monthly = monthly;
    s->heavy_ratio = heavy;
    Py_INCREF(types);
    s->types = types;
    Py_INCREF(limits);
    s->limits = limits;
    Py_INCREF(scale_of);
    s->scale_of = scale_of;
    s->scales = PyDict_New();
    static const char *const tags[4] = {"p:", "d:", "n:", "i:"};
    for (int i = 0; i < 4; i++) s->prefixes[i] = PyUnicode_InternFromString(tags[i]);
    if (cgraph_init(&s->shared, links) < 0 || cgraph_init(&s->referrals, links) < 0 ||
        PyErr_Occurred() || s->scales == NULL ||
        rules_config(s, exact, slots, pairs_max, width, multipliers, specs) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s;
}

static PyObject *RulesState_update(RulesStateObject *s, PyObject *event) {
    Ev ev;
    if (ev_parse(s, event, &ev) < 0 || rules_update(s, &ev) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *RulesState_row(RulesStateObject *s, PyObject *event) {
    RulesRowObject *row = PyObject_New(RulesRowObject, &RulesRowType);
    if (row == NULL) return NULL;
    Py_INCREF(s);
    row->state = s;
    Py_INCREF(event);
    row->event = event;
    row->done = 0;
    if (ev_parse(s, event, &row->ev) < 0) {
        Py_DECREF(row);
        return NULL;
    }
    return (PyObject *)row;
}

static int family_arg(PyObject *o, int *family) {
    long f = PyLong_AsLong(o);
    if (f == -1 && PyErr_Occurred()) return -1;
    if (f < 0 || f >= F_COUNT) {
        PyErr_SetString(PyExc_ValueError, "family out of range");
        return -1;
    }
    *family = (int)f;
    return 0;
}

static PyObject *RulesState_keys(RulesStateObject *s, PyObject *arg) {
    int f;
    if (family_arg(arg, &f) < 0) return NULL;
    PyObject *out = PyList_New(0);
    KMap *m = &s->maps[f];
    for (size_t i = 0; out && i <= m->mask; i++)
        if (m->table[i].key && PyList_Append(out, m->table[i].key) < 0) Py_CLEAR(out);
    return out;
}

static PyObject *RulesState_contains(RulesStateObject *s, PyObject *const *args,
                                     Py_ssize_t nargs) {
    int f;
    if (nargs != 2 || family_arg(args[0], &f) < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "contains(family, key)");
        return NULL;
    }
    void *found;
    if (kmap_get(&s->maps[f], args[1], &found) < 0) return NULL;
    return PyBool_FromLong(found != NULL);
}

static PyObject *RulesState_windows(RulesStateObject *s, PyObject *const *args,
                                    Py_ssize_t nargs) {
    /* windows(family, key): the velocity WindowSet of a payer, payee or thing, or None */
    int f;
    if (nargs != 2 || family_arg(args[0], &f) < 0 || f == F_ACCOUNTS) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "windows(family, key)");
        return NULL;
    }
    void *found;
    if (kmap_get(&s->maps[f], args[1], &found) < 0) return NULL;
    if (found == NULL) Py_RETURN_NONE;
    PyObject *ws = f <= F_PAYEE_WINDOWS ? found : ((Thing *)found)->windows;
    Py_INCREF(ws);
    return ws;
}

static PyObject *RulesState_sizes(RulesStateObject *s, PyObject *unused) {
    /* (exact keys per family..., exact pairs, exact (payer, thing) uses, shared-thing links) */
    PyObject *out = PyTuple_New(F_COUNT + 3);
    if (out == NULL) return NULL;
    for (int i = 0; i < F_COUNT + 3; i++) {
        size_t n = i < F_COUNT        ? s->maps[i].count
                   : i == F_COUNT     ? s->pairs.count
                   : i == F_COUNT + 1 ? s->seen.count
                                      : (size_t)s->shared.n_edges;
        PyObject *v = PyLong_FromSize_t(n);
        if (v == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, v);
    }
    return out;
}

static PyObject *rules_tuple_hash(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    /* tuple2_hash(a, b): hash((a, b)) computed as RulesState computes it (tests) */
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "tuple2_hash(a, b)");
        return NULL;
    }
    Py_hash_t ha = PyObject_Hash(args[0]), hb = ha == -1 ? -1 : PyObject_Hash(args[1]);
    if (hb == -1) return NULL;
    return PyLong_FromSsize_t(tuple2_hash(ha, hb));
}

static PyMethodDef RulesState_methods[] = {
    {"update", (PyCFunction)RulesState_update, METH_O, "update(event): let the event count."},
    {"row", (PyCFunction)RulesState_row, METH_O,
     "row(event) -> the event's lazy row as of just before it."},
    {"keys", (PyCFunction)RulesState_keys, METH_O, "keys(family) -> the keys held exactly."},
    {"contains", (PyCFunction)(void (*)(void))RulesState_contains, METH_FASTCALL,
     "contains(family, key) -> whether key has a state (exact or shared)."},
    {"windows", (PyCFunction)(void (*)(void))RulesState_windows, METH_FASTCALL,
     "windows(family, key) -> the velocity WindowSet or None."},
    {"sizes", (PyCFunction)RulesState_sizes, METH_NOARGS,
     "sizes() -> exact keys per family, exact pairs, exact uses."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RulesStateType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "centime.risk._cstate.RulesState",
    .tp_doc = "The rules' online features as C state (centime.risk.features.OnlineFeatures).",
    .tp_basicsize = sizeof(RulesStateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = RulesState_new,
    .tp_dealloc = (destructor)RulesState_dealloc,
    .tp_methods = RulesState_methods,
};

static PyMethodDef rules_functions[] = {
    {"tuple2_hash", (PyCFunction)(void (*)(void))rules_tuple_hash, METH_FASTCALL,
     "tuple2_hash(a, b) -> hash((a, b)) as the C state computes it."},
    {NULL, NULL, 0, NULL},
};

static int rules_state_init(PyObject *m) {
    int i = 0;
    for (int g = 0; g < 13; g++) {
        GROUP_START[g] = (int8_t)i;
        for (int k = 0; k < GROUP_SIZES[g]; k++) GROUP_OF[i++] = (int8_t)g;
    }
    if (PyType_Ready(&RulesRowType) < 0 || PyType_Ready(&RulesStateType) < 0 ||
        PyType_Ready(&ComponentsType) < 0)
        return -1;
    if (PyModule_AddObjectRef(m, "RulesState", (PyObject *)&RulesStateType) < 0 ||
        PyModule_AddObjectRef(m, "Components", (PyObject *)&ComponentsType) < 0 ||
        PyModule_AddObjectRef(m, "RulesRow", (PyObject *)&RulesRowType) < 0 ||
        PyModule_AddFunctions(m, rules_functions) < 0 ||
        PyModule_AddIntConstant(m, "RULES_ROW_SIZE", ROW_SIZE) < 0)
        return -1;
    return 0;
}

/* ==========================================================================================
 * The module.
 */
/* _fail_alloc_after(n): the allocation after the next n fails (MemoryError), once; -1 never
 * (the default). A test hook: tests/risk/test_cstate_oom.py. Returns the allocations left
 * before it was called: -1 when none was pending or it fired, else how many more it awaited. */
static PyObject *fail_alloc_after(PyObject *module, PyObject *arg) {
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t left = alloc_countdown;
    alloc_countdown = n < 0 ? -1 : n;
    return PyLong_FromSsize_t(left);
}

static PyMethodDef module_methods[] = {
    {"_fail_alloc_after", fail_alloc_after, METH_O,
     "_fail_alloc_after(n) -> allocations that were left: the one after the next n fails."},
    {"party_rows", (PyCFunction)(void (*)(void))party_rows, METH_FASTCALL,
     "party_rows(out, payer, payee, amount, now)"},
    {"party_labels", (PyCFunction)(void (*)(void))party_labels, METH_FASTCALL,
     "party_labels(out, party, now)"},
    {"field_step", (PyCFunction)(void (*)(void))field_step, METH_FASTCALL,
     "field_step(matrix, i, payer, payee, type_id, amount, now, pair_n, device_new, ip_new,"
     " instrument_new, device_payers)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cstate_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "centime.risk._cstate",
    .m_doc = "The risk engine's windows and parties as C arrays (centime.risk.native).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__cstate(void) {
    if (PyType_Ready(&ShapeType) < 0 || PyType_Ready(&WindowSetType) < 0 ||
        PyType_Ready(&PartyType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&cstate_module);
    if (m == NULL) return NULL;
    if (rules_state_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    PyObject *dims = Py_BuildValue("(LL)(LL)(LL)", FIELD_DIMS[0], FIELD_DIMS[1], FIELD_DIMS[2],
                                   FIELD_DIMS[3], FIELD_DIMS[4], FIELD_DIMS[5]);
    if (dims == NULL || PyModule_AddObject(m, "FIELD_SHAPE", dims) < 0 ||
        PyModule_AddObjectRef(m, "WindowSet", (PyObject *)&WindowSetType) < 0 ||
        PyModule_AddObjectRef(m, "Party", (PyObject *)&PartyType) < 0 ||
        PyModule_AddIntConstant(m, "FIELD_ROW_WIDTH", FIELD_ROW_WIDTH) < 0) {
        Py_XDECREF(dims);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
