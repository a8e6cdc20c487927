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
 * One window of a WindowSet: the non-empty buckets (bucket, count, sum), oldest first, in
 * buf[start:start+len], with the running totals.
 */
typedef struct {
    int64_t bucket;
    int64_t count;
    double sum;
} WEntry;

typedef struct {
    WEntry *buf;
    int64_t head;
    int64_t total_count;
    double total_sum;
    int32_t start, len, cap;
} WWin;

static void wwin_init(WWin *w) {
    w->buf = NULL;
    w->head = -1;
    w->total_count = 0;
    w->total_sum = 0.0;
    w->start = w->len = w->cap = 0;
}

static void wwin_advance(WWin *w, int64_t size, int64_t bucket) {
    int64_t head = w->head;
    if (head < 0 || bucket - head >= size) {
        w->start = w->len = 0;
        w->total_count = 0;
        w->total_sum = 0.0;
    } else {
        int64_t oldest = bucket - size; /* buckets at or before it leave the window */
        int64_t total_count = w->total_count;
        double total_sum = w->total_sum;
        WEntry *e = w->buf + w->start;
        int32_t k = 0;
        while (k < w->len && e[k].bucket <= oldest) {
            total_count -= e[k].count;
            total_sum -= e[k].sum;
            k++;
        }
        w->start += k;
        w->len -= k;
        if (w->len == 0) w->start = 0;
        w->total_count = total_count;
        w->total_sum = total_sum;
    }
    w->head = bucket;
}

/* Room for one more entry at the end (nothing else changes). */
static int wwin_reserve(WWin *w) {
    if (w->start + w->len < w->cap) return 0;
    if (w->start > 0) {
        memmove(w->buf, w->buf + w->start, (size_t)w->len * sizeof(WEntry));
        w->start = 0;
        return 0;
    }
    if (w->cap >= (1 << 29)) {
        PyErr_NoMemory();
        return -1;
    }
    int32_t cap = w->cap ? w->cap * 2 : 1;
    WEntry *buf = PyMem_Realloc(w->buf, (size_t)cap * sizeof(WEntry));
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    w->buf = buf;
    w->cap = cap;
    return 0;
}

static void wwin_put(WWin *w, double value, int64_t count) {
    if (w->len && w->buf[w->start + w->len - 1].bucket == w->head) {
        WEntry *last = &w->buf[w->start + w->len - 1]; /* an older event counts in the newest */
        last->count += count;
        last->sum += value;
    } else {
        WEntry *e = &w->buf[w->start + w->len];
        e->bucket = w->head;
        e->count = count;
        e->sum = value;
        w->len++;
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
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) PyMem_Free(self->w[i].buf);
    Py_XDECREF(self->shape);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void windows_move(WWin *w, const int64_t *dims, Py_ssize_t n, int64_t now) {
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t bucket = floordiv64(now, dims[2 * i]);
        if (bucket > w[i].head) wwin_advance(&w[i], dims[2 * i + 1], bucket);
    }
}

static int windows_add(WWin *w, const int64_t *dims, Py_ssize_t n, int64_t t, double value,
                       int64_t count) {
    /* Windows are independent: moving them all first, then adding, is the reference's
     * per-window move-then-add; room is made before anything is counted. */
    windows_move(w, dims, n, t);
    for (Py_ssize_t i = 0; i < n; i++)
        if (wwin_reserve(&w[i]) < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++) wwin_put(&w[i], value, count);
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
        PyObject *v = PyLong_FromLong(self->w[i].len);
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
    PEntry *buf;
    int64_t head;
    int64_t n;
    double total, extra;
    int32_t start, len, cap;
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
        w->buf = NULL;
        w->head = -1;
        w->n = 0;
        w->total = w->extra = 0.0;
        w->start = w->len = w->cap = 0;
    }
    self->frauds = NULL;
    return (PyObject *)self;
}

static void Party_dealloc(PartyObject *self) {
    for (int i = 0; i < 3; i++) PyMem_Free(self->w[i].buf);
    if (self->frauds) {
        for (int i = 0; i < 3; i++) PyMem_Free(self->frauds[i].buf);
        PyMem_Free(self->frauds);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void pwin_advance(PWin *w, int64_t size, int64_t bucket) {
    int64_t head = w->head;
    if (head < 0 || bucket - head >= size) {
        w->start = w->len = 0;
        w->n = 0;
        w->total = 0.0;
        w->extra = 0.0;
    } else {
        int64_t oldest = bucket - size;
        int64_t n = w->n;
        double total = w->total, extra = w->extra;
        PEntry *e = w->buf + w->start;
        int32_t k = 0;
        while (k < w->len && e[k].bucket <= oldest) {
            n -= e[k].count;
            total -= e[k].sum;
            extra -= e[k].extra;
            k++;
        }
        w->start += k;
        w->len -= k;
        if (w->len == 0) w->start = 0;
        w->n = n;
        w->total = total;
        w->extra = extra;
    }
    w->head = bucket;
}

static int pwin_reserve(PWin *w) {
    if (w->start + w->len < w->cap) return 0;
    if (w->start > 0) {
        memmove(w->buf, w->buf + w->start, (size_t)w->len * sizeof(PEntry));
        w->start = 0;
        return 0;
    }
    if (w->cap >= (1 << 29)) {
        PyErr_NoMemory();
        return -1;
    }
    int32_t cap = w->cap ? w->cap * 2 : 1;
    PEntry *buf = PyMem_Realloc(w->buf, (size_t)cap * sizeof(PEntry));
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    w->buf = buf;
    w->cap = cap;
    return 0;
}

static void party_move(PartyObject *p, int64_t now) {
    for (int i = 0; i < 3; i++) {
        int64_t bucket = floordiv64(now, FIELD_DIMS[2 * i]);
        if (bucket > p->w[i].head) pwin_advance(&p->w[i], FIELD_DIMS[2 * i + 1], bucket);
    }
}

/* Counts an event (field._Party.add); -1 with an exception set when memory runs out. */
static int party_add(PartyObject *self, int64_t t, double amount, int64_t first_payer) {
    party_move(self, t);
    for (int i = 0; i < 3; i++)
        if (pwin_reserve(&self->w[i]) < 0) return -1;
    if (self->first_ns < 0) self->first_ns = t;
    self->last_ns = t;
    for (int i = 0; i < 3; i++) {
        PWin *w = &self->w[i];
        double extra = i == 2 ? amount * amount : (double)first_payer;
        if (w->len && w->buf[w->start + w->len - 1].bucket == w->head) {
            PEntry *last = &w->buf[w->start + w->len - 1];
            last->count += 1;
            last->sum += amount;
            last->max = amount > last->max ? amount : last->max; /* max(last, amount) */
            last->extra += extra;
        } else {
            PEntry *e = &w->buf[w->start + w->len];
            e->bucket = w->head;
            e->count = 1;
            e->sum = amount;
            e->max = amount;
            e->extra = extra;
            w->len++;
        }
        w->n += 1;
        w->total += amount;
        w->extra += extra;
    }
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
    if (self->frauds == NULL) {
        self->frauds = PyMem_Malloc(3 * sizeof(WWin));
        if (self->frauds == NULL) return PyErr_NoMemory();
        for (int i = 0; i < 3; i++) wwin_init(&self->frauds[i]);
    }
    if (windows_add(self->frauds, FIELD_DIMS, 3, arrival, 1.0, 1) < 0) return NULL;
    if (arrival > self->last_fraud_ns) self->last_fraud_ns = arrival;
    Py_RETURN_NONE;
}

static PyObject *Party_held(PartyObject *self, PyObject *unused) {
    return Py_BuildValue("[iii]", self->w[0].len, self->w[1].len, self->w[2].len);
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
            double best = NAN;
            if (w->len) {
                PEntry *e = w->buf + w->start;
                best = e[0].max;
                for (int32_t k = 1; k < w->len; k++) best = e[k].max > best ? e[k].max : best;
            }
            if (append_float(out, (double)c) < 0 || append_float(out, w->total / (double)c) < 0 ||
                append_float(out, best) < 0)
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
            double best = NAN;
            if (w->len) {
                PEntry *e = w->buf + w->start;
                best = e[0].max;
                for (int32_t k = 1; k < w->len; k++) best = e[k].max > best ? e[k].max : best;
            }
            out[3 * i] = (double)c;
            out[3 * i + 1] = w->total / (double)c;
            out[3 * i + 2] = best;
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
    if (payer && party_add(payer, now, amount, 0) < 0) return NULL;
    if (payee && party_add(payee, now, amount, things[0] == 0.0 ? 1 : 0) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
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
