/* centime.risk._trees: LightGBM's numerical trees evaluated natively, bit for bit.
 *
 * A Forest holds the trees of one LightGBM model as flat arrays (built from the model's text
 * by centime.risk.trees, which refuses what this file does not implement: categorical splits,
 * linear trees, several trees per iteration, averaged output). ``predict`` walks every row
 * through every tree with the rules of LightGBM's own prediction:
 *
 * - the row as the C API reads a dense float64 matrix: a value whose magnitude is at most
 *   kZeroThreshold (the float 1e-35f widened to double) is not passed on, so it reads as 0.0;
 *   NaN is passed on (c_api.cpp, RowPairFunctionFromDenseMatric);
 * - each split as Tree::NumericalDecision (include/LightGBM/tree.h): NaN reads as 0.0 unless
 *   the missing type is NaN; with missing type Zero a value within kZeroThreshold of zero,
 *   with missing type NaN a NaN, goes the default way; otherwise ``value <= threshold`` goes
 *   left;
 * - the raw score as GBDT::PredictRaw: a double starting at 0.0, plus each tree's leaf value
 *   in the model's order;
 * - the probability of the binary objective as BinaryLogLoss::ConvertOutput:
 *   1.0 / (1.0 + exp(-sigmoid * raw)).
 *
 * How: each row is first read three ways, one per missing type, so that every split is one
 * comparison: ``value <= threshold``, or NaN going left when the node sends missing values
 * left (see Node). Rows then go through the trees a block at a time: for each tree, every
 * row of the block takes one step per level without a branch (independent walks the
 * processor overlaps) until all are on leaves; a leftover row walks alone, with branches.
 *
 * The loop runs without the GIL. The Forest is immutable once built, so threads share it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* LightGBM's include/LightGBM/meta.h: const double kZeroThreshold = 1e-35f; */
static const double kZeroThreshold = (double)1e-35f;

enum { MISSING_NONE = 0, MISSING_ZERO = 1, MISSING_NAN = 2 };

/* How a row is read for the splits of each missing type (READINGS values per feature):
 * - MISSING_NAN nodes read the value as the C API passes it (zeros as 0.0, NaN kept):
 *   NaN fails ``value <= threshold`` and so goes right, or left when nan_left is set;
 * - MISSING_NONE nodes read NaN as 0.0 (then it compares as 0.0);
 * - MISSING_ZERO nodes read zeros and NaN as NaN: both go the default way, as NaN above.
 * Every other value reads as itself in all three. */
enum { READ_KEPT = 0, READ_NAN_AS_ZERO = 1, READ_ZERO_AS_NAN = 2, READINGS = 3 };

/* One node. The trees' internal nodes come first (global numbering), then one node per leaf
 * (index n_nodes + global leaf, its children itself): a child >= n_nodes is a leaf. */
typedef struct {
    double threshold;
    int32_t column;   /* reading * n_features + feature: the value it compares */
    int32_t child[2]; /* [0] right, [1] left */
    int32_t nan_left; /* 1: a NaN read here goes left (the default way is left) */
} Node;

typedef struct {
    PyObject_HEAD
    Node *nodes;           /* n_nodes internal nodes, then n_leaves leaf nodes */
    double *leaf_values;
    int32_t *roots;        /* per tree: its root node (its leaf node for a one-leaf tree) */
    int32_t *leaf_offsets; /* per tree: the global index of its leaf 0 */
    Py_ssize_t n_nodes;
    Py_ssize_t n_leaves;
    Py_ssize_t n_trees;
    Py_ssize_t n_features;
    double sigmoid;        /* NaN: no probability (not a binary objective) */
} Forest;

/* -- buffers ------------------------------------------------------------------------------ */

/* A C-contiguous buffer of ``count`` items of ``itemsize`` bytes in format ``fmt``. */
static int
get_vector(PyObject *obj, Py_buffer *view, const char *fmt, Py_ssize_t itemsize,
           const char *name, int writable)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    const char *format = view->format ? view->format : "B";
    if (format[0] == '<' || format[0] == '=' || format[0] == '@') {
        format++;
    }
    if (view->itemsize != itemsize || strcmp(format, fmt) != 0) {
        PyErr_Format(PyExc_TypeError, "%s: expected items of format '%s' (%zd bytes), got '%s'",
                     name, fmt, itemsize, view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static Py_ssize_t
items(const Py_buffer *view)
{
    return view->len / view->itemsize;
}

/* -- construction ------------------------------------------------------------------------- */

static void
Forest_dealloc(Forest *self)
{
    PyMem_Free(self->nodes);
    PyMem_Free(self->leaf_values);
    PyMem_Free(self->roots);
    PyMem_Free(self->leaf_offsets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Forest(num_leaves, split_feature, threshold, decision_type, left_child, right_child,
 *        leaf_value, n_features, sigmoid)
 *
 * Per tree t: num_leaves[t] (int32); its num_leaves[t] - 1 nodes' split_feature (int32),
 * threshold (float64), decision_type (int8), left_child and right_child (int32, LightGBM's
 * tree-local numbering: >= 0 a node, < 0 ~leaf), all concatenated in tree order; its
 * num_leaves[t] leaf values (float64), concatenated likewise. Everything is checked: every
 * child is a later node of the same tree or one of its leaves (so every walk ends), every
 * feature is below n_features, no split is categorical. */
static int
Forest_init(Forest *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"num_leaves", "split_feature", "threshold", "decision_type",
                             "left_child", "right_child", "leaf_value", "n_features",
                             "sigmoid", NULL};
    PyObject *o_leaves, *o_feature, *o_threshold, *o_decision, *o_left, *o_right, *o_value;
    Py_ssize_t n_features;
    double sigmoid;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOnd", kwlist, &o_leaves, &o_feature,
                                     &o_threshold, &o_decision, &o_left, &o_right, &o_value,
                                     &n_features, &sigmoid)) {
        return -1;
    }
    if (self->nodes != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a Forest is built once");
        return -1;
    }
    Py_buffer v_leaves, v_feature, v_threshold, v_decision, v_left, v_right, v_value;
    Py_buffer *views[] = {&v_leaves, &v_feature, &v_threshold, &v_decision, &v_left, &v_right,
                          &v_value};
    int got = 0;
    int status = -1;
    if (get_vector(o_leaves, &v_leaves, "i", 4, "num_leaves", 0) < 0) goto done;
    got++;
    if (get_vector(o_feature, &v_feature, "i", 4, "split_feature", 0) < 0) goto done;
    got++;
    if (get_vector(o_threshold, &v_threshold, "d", 8, "threshold", 0) < 0) goto done;
    got++;
    if (get_vector(o_decision, &v_decision, "b", 1, "decision_type", 0) < 0) goto done;
    got++;
    if (get_vector(o_left, &v_left, "i", 4, "left_child", 0) < 0) goto done;
    got++;
    if (get_vector(o_right, &v_right, "i", 4, "right_child", 0) < 0) goto done;
    got++;
    if (get_vector(o_value, &v_value, "d", 8, "leaf_value", 0) < 0) goto done;
    got++;

    const int32_t *num_leaves = v_leaves.buf;
    Py_ssize_t n_trees = items(&v_leaves);
    Py_ssize_t n_nodes = items(&v_feature);
    Py_ssize_t n_leaves = items(&v_value);
    if (n_features < 1 || n_features > INT32_MAX / READINGS || n_trees < 1) {
        PyErr_SetString(PyExc_ValueError, "a forest needs at least one tree and one feature");
        goto done;
    }
    if (items(&v_threshold) != n_nodes || items(&v_decision) != n_nodes ||
        items(&v_left) != n_nodes || items(&v_right) != n_nodes) {
        PyErr_SetString(PyExc_ValueError, "the node arrays differ in length");
        goto done;
    }
    Py_ssize_t leaves_total = 0;
    for (Py_ssize_t t = 0; t < n_trees; t++) {
        if (num_leaves[t] < 1) {
            PyErr_Format(PyExc_ValueError, "tree %zd has %d leaves", t, (int)num_leaves[t]);
            goto done;
        }
        leaves_total += num_leaves[t];
    }
    if (leaves_total != n_leaves || leaves_total - n_trees != n_nodes ||
        n_nodes + leaves_total > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "the trees' leaf counts do not match the arrays");
        goto done;
    }
    self->nodes = PyMem_Calloc((size_t)(n_nodes + n_leaves), sizeof(Node));
    self->leaf_values = PyMem_Calloc((size_t)n_leaves, sizeof(double));
    self->roots = PyMem_Calloc((size_t)n_trees, sizeof(int32_t));
    self->leaf_offsets = PyMem_Calloc((size_t)n_trees, sizeof(int32_t));
    if (!self->nodes || !self->leaf_values || !self->roots || !self->leaf_offsets) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(self->leaf_values, v_value.buf, (size_t)n_leaves * sizeof(double));
    for (Py_ssize_t l = 0; l < n_leaves; l++) {
        Node *leaf_node = &self->nodes[n_nodes + l];
        leaf_node->child[0] = leaf_node->child[1] = (int32_t)(n_nodes + l);
    }
    const int32_t *feature = v_feature.buf;
    const double *threshold = v_threshold.buf;
    const int8_t *decision = v_decision.buf;
    const int32_t *left = v_left.buf;
    const int32_t *right = v_right.buf;
    Py_ssize_t node0 = 0, leaf0 = 0;
    for (Py_ssize_t t = 0; t < n_trees; t++) {
        int32_t inner = num_leaves[t] - 1; /* internal nodes of this tree */
        self->roots[t] = (int32_t)(inner > 0 ? node0 : n_nodes + leaf0);
        self->leaf_offsets[t] = (int32_t)leaf0;
        for (int32_t i = 0; i < inner; i++) {
            Py_ssize_t g = node0 + i;
            int8_t type = decision[g];
            int missing = (type >> 2) & 3;
            if ((type & 1) || missing > MISSING_NAN) {
                PyErr_Format(PyExc_ValueError,
                             "tree %zd node %d: decision type %d is not a numerical split", t,
                             (int)i, (int)type);
                goto done;
            }
            if (feature[g] < 0 || feature[g] >= n_features) {
                PyErr_Format(PyExc_ValueError, "tree %zd node %d: feature %d out of range", t,
                             (int)i, (int)feature[g]);
                goto done;
            }
            Node *node = &self->nodes[g];
            static const int reading[3] = {READ_NAN_AS_ZERO, READ_ZERO_AS_NAN, READ_KEPT};
            node->threshold = threshold[g];
            node->column = (int32_t)(reading[missing] * n_features + feature[g]);
            node->nan_left = missing != MISSING_NONE && (type & 2) ? 1 : 0;
            int32_t children[2] = {right[g], left[g]};
            for (int side = 0; side < 2; side++) {
                int32_t c = children[side];
                if (c >= 0) {
                    /* a later node of the tree: every walk ends on a leaf */
                    if (c <= i || c >= inner) {
                        PyErr_Format(PyExc_ValueError,
                                     "tree %zd node %d: child node %d is not a later node", t,
                                     (int)i, (int)c);
                        goto done;
                    }
                    node->child[side] = (int32_t)(node0 + c);
                } else {
                    int32_t leaf = ~c;
                    if (leaf >= num_leaves[t]) {
                        PyErr_Format(PyExc_ValueError, "tree %zd node %d: leaf %d out of range",
                                     t, (int)i, (int)leaf);
                        goto done;
                    }
                    node->child[side] = (int32_t)(n_nodes + leaf0 + leaf);
                }
            }
        }
        node0 += inner;
        leaf0 += num_leaves[t];
    }
    self->n_nodes = n_nodes;
    self->n_leaves = n_leaves;
    self->n_trees = n_trees;
    self->n_features = n_features;
    self->sigmoid = sigmoid;
    status = 0;
done:
    for (int i = 0; i < got; i++) {
        PyBuffer_Release(views[i]);
    }
    if (status < 0) {
        PyMem_Free(self->nodes);
        PyMem_Free(self->leaf_values);
        PyMem_Free(self->roots);
        PyMem_Free(self->leaf_offsets);
        self->nodes = NULL;
        self->leaf_values = NULL;
        self->roots = NULL;
        self->leaf_offsets = NULL;
    }
    return status;
}

/* -- prediction --------------------------------------------------------------------------- */

/* ``row`` (n_features values) read the three ways into ``x`` (READINGS * n_features). */
static inline void
read_row(const double *row, Py_ssize_t n_features, double *x)
{
    for (Py_ssize_t j = 0; j < n_features; j++) {
        double value = row[j];
        int nan = isnan(value);
        int zero = !nan && fabs(value) <= kZeroThreshold; /* passed on as 0.0 */
        x[READ_KEPT * n_features + j] = zero ? 0.0 : value;
        x[READ_NAN_AS_ZERO * n_features + j] = (zero || nan) ? 0.0 : value;
        x[READ_ZERO_AS_NAN * n_features + j] = (zero || nan) ? NAN : value;
    }
}

/* Whether the value read at ``n`` goes left: one comparison, NaN left only if nan_left. */
static inline unsigned
goes_left(const Node *n, double value)
{
    return (unsigned)(value <= n->threshold) | ((unsigned)(value != value) & n->nan_left);
}

/* The raw score of one row read into ``x`` (and its leaf in each tree), one tree after the
 * other, with branches the processor predicts and runs ahead on. */
static double
row_value(const Forest *f, const double *x, int32_t *row_leaves)
{
    const Node *nodes = f->nodes;
    const int32_t n_nodes = (int32_t)f->n_nodes;
    double raw = 0.0;
    for (Py_ssize_t t = 0; t < f->n_trees; t++) {
        int32_t at = f->roots[t];
        while (at < n_nodes) {
            const Node *n = &nodes[at];
            if (goes_left(n, x[n->column])) {
                at = n->child[1];
            } else {
                at = n->child[0];
            }
        }
        int32_t leaf = at - n_nodes;
        raw += f->leaf_values[leaf]; /* in the trees' order, as PredictRaw */
        if (row_leaves) {
            row_leaves[t] = leaf - f->leaf_offsets[t];
        }
    }
    return raw;
}

#define BLOCK 8

/* The raw scores of BLOCK rows read into ``x`` (BLOCK * READINGS * n_features values). */
static void
block_values(const Forest *f, const double *x, double *raw, int32_t *leaves)
{
    const Node *nodes = f->nodes;
    const Py_ssize_t stride = READINGS * f->n_features;
    const Py_ssize_t n_trees = f->n_trees;
    const int32_t n_nodes = (int32_t)f->n_nodes;
    int32_t at[BLOCK];
    for (int k = 0; k < BLOCK; k++) {
        raw[k] = 0.0;
    }
    for (Py_ssize_t t = 0; t < n_trees; t++) {
        const int32_t root = f->roots[t];
        for (int k = 0; k < BLOCK; k++) {
            at[k] = root;
        }
        for (;;) {
            int on_leaves = 1;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
            for (int k = 0; k < BLOCK; k++) {
                const Node *n = &nodes[at[k]];
                at[k] = n->child[goes_left(n, x[k * stride + n->column])];
                on_leaves &= at[k] >= n_nodes;
            }
            if (on_leaves) {
                break;
            }
        }
        for (int k = 0; k < BLOCK; k++) {
            int32_t leaf = at[k] - n_nodes;
            raw[k] += f->leaf_values[leaf]; /* in the trees' order, as PredictRaw */
            if (leaves) {
                leaves[k * n_trees + t] = leaf - f->leaf_offsets[t];
            }
        }
    }
}

static inline double
probability(const Forest *f, double raw)
{
    return 1.0 / (1.0 + exp(-f->sigmoid * raw)); /* BinaryLogLoss::ConvertOutput */
}

/* ``buffer``: BLOCK * READINGS * n_features doubles. */
static void
predict_rows(const Forest *f, const double *rows, Py_ssize_t n_rows, double *buffer,
             double *margins, double *probabilities, int32_t *leaves)
{
    const Py_ssize_t n_features = f->n_features;
    const Py_ssize_t n_trees = f->n_trees;
    const Py_ssize_t stride = READINGS * n_features;
    double raw[BLOCK];
    Py_ssize_t r = 0;
    for (; r + BLOCK <= n_rows; r += BLOCK) {
        for (int k = 0; k < BLOCK; k++) {
            read_row(rows + (r + k) * n_features, n_features, buffer + k * stride);
        }
        block_values(f, buffer, raw, leaves ? leaves + r * n_trees : NULL);
        for (int k = 0; k < BLOCK; k++) {
            if (margins) {
                margins[r + k] = raw[k];
            }
            if (probabilities) {
                probabilities[r + k] = probability(f, raw[k]);
            }
        }
    }
    for (; r < n_rows; r++) {
        read_row(rows + r * n_features, n_features, buffer);
        double value = row_value(f, buffer, leaves ? leaves + r * n_trees : NULL);
        if (margins) {
            margins[r] = value;
        }
        if (probabilities) {
            probabilities[r] = probability(f, value);
        }
    }
}

/* predict(rows, margins=None, probabilities=None, leaves=None): rows is a C-contiguous
 * float64 buffer of n_rows x n_features values; each output given is a writable C-contiguous
 * buffer to fill: margins and probabilities float64 (n_rows), leaves int32 (n_rows x n_trees,
 * the leaf index of each row in each tree as LightGBM's pred_leaf). Returns n_rows. */
static PyObject *
Forest_predict(Forest *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"rows", "margins", "probabilities", "leaves", NULL};
    PyObject *o_rows, *o_margins = Py_None, *o_probabilities = Py_None, *o_leaves = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOO", kwlist, &o_rows, &o_margins,
                                     &o_probabilities, &o_leaves)) {
        return NULL;
    }
    if (self->nodes == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the Forest was not built");
        return NULL;
    }
    Py_buffer v_rows, v_margins, v_probabilities, v_leaves;
    int have_margins = 0, have_probabilities = 0, have_leaves = 0;
    double *buffer = NULL;
    PyObject *result = NULL;
    if (get_vector(o_rows, &v_rows, "d", 8, "rows", 0) < 0) {
        return NULL;
    }
    Py_ssize_t n_values = items(&v_rows);
    Py_ssize_t n_rows = n_values / self->n_features;
    if (n_values % self->n_features != 0) {
        PyErr_Format(PyExc_ValueError, "rows: %zd values are not rows of %zd features",
                     n_values, self->n_features);
        goto done;
    }
    if (o_probabilities != Py_None && isnan(self->sigmoid)) {
        PyErr_SetString(PyExc_ValueError, "this forest's objective has no probability here");
        goto done;
    }
    if (o_margins != Py_None) {
        if (get_vector(o_margins, &v_margins, "d", 8, "margins", 1) < 0) goto done;
        have_margins = 1;
        if (items(&v_margins) != n_rows) {
            PyErr_SetString(PyExc_ValueError, "margins: one value per row");
            goto done;
        }
    }
    if (o_probabilities != Py_None) {
        if (get_vector(o_probabilities, &v_probabilities, "d", 8, "probabilities", 1) < 0)
            goto done;
        have_probabilities = 1;
        if (items(&v_probabilities) != n_rows) {
            PyErr_SetString(PyExc_ValueError, "probabilities: one value per row");
            goto done;
        }
    }
    if (o_leaves != Py_None) {
        if (get_vector(o_leaves, &v_leaves, "i", 4, "leaves", 1) < 0) goto done;
        have_leaves = 1;
        if (items(&v_leaves) != n_rows * self->n_trees) {
            PyErr_SetString(PyExc_ValueError, "leaves: one value per row and tree");
            goto done;
        }
    }
    buffer = PyMem_Malloc((size_t)(BLOCK * READINGS) * (size_t)self->n_features * sizeof(double));
    if (buffer == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    predict_rows(self, v_rows.buf, n_rows, buffer, have_margins ? v_margins.buf : NULL,
                 have_probabilities ? v_probabilities.buf : NULL,
                 have_leaves ? v_leaves.buf : NULL);
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(n_rows);
done:
    PyMem_Free(buffer);
    PyBuffer_Release(&v_rows);
    if (have_margins) PyBuffer_Release(&v_margins);
    if (have_probabilities) PyBuffer_Release(&v_probabilities);
    if (have_leaves) PyBuffer_Release(&v_leaves);
    return result;
}

static PyObject *
Forest_get_n_trees(Forest *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->n_trees);
}

static PyObject *
Forest_get_n_features(Forest *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->n_features);
}

static PyMethodDef Forest_methods[] = {
    {"predict", (PyCFunction)(void (*)(void))Forest_predict, METH_VARARGS | METH_KEYWORDS,
     "predict(rows, margins=None, probabilities=None, leaves=None) -> number of rows"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Forest_getset[] = {
    {"n_trees", (getter)Forest_get_n_trees, NULL, "trees in the forest", NULL},
    {"n_features", (getter)Forest_get_n_features, NULL, "values per row", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ForestType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "centime.risk._trees.Forest",
    .tp_doc = "A LightGBM model's numerical trees, evaluated as LightGBM predicts.",
    .tp_basicsize = sizeof(Forest),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Forest_init,
    .tp_dealloc = (destructor)Forest_dealloc,
    .tp_methods = Forest_methods,
    .tp_getset = Forest_getset,
};

/* -- path credits (the model's reasons, centime.risk.explain) ----------------------------
 *
 * Credits(indptr, features, values, leaves_per_tree, width): the non-zero entries of
 * PathExplainer's dense (trees * leaves_per_tree) x width table as CSR arrays (global leaf
 * g = t * leaves_per_tree + leaf holds the pairs (features[k], values[k]) for k in
 * [indptr[g], indptr[g + 1]): a path's few features), checked and copied once.
 * sum(leaves, out): for each row r, out[r] = the sum over the trees t, in order, of the
 * credits of the leaf the row reached in t; each feature's value added in tree order starting
 * from 0.0, as numpy sums the dense table over the trees (adding the zeros left out changes
 * nothing): bit for bit its sums (tests/risk/test_trees.py). leaves int32 (rows x trees), out
 * float64 (rows x width), C-contiguous; every leaf is checked before anything is summed.
 */
typedef struct {
    PyObject_HEAD
    int64_t *indptr;
    int32_t *features;
    double *values;
    Py_ssize_t per_tree, n_trees, width;
} Credits;

static void
Credits_dealloc(Credits *self)
{
    PyMem_Free(self->indptr);
    PyMem_Free(self->features);
    PyMem_Free(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
credits_check(const Py_buffer *ip, const Py_buffer *ft, const Py_buffer *vl, Py_ssize_t per_tree,
              Py_ssize_t width)
{
    const int64_t *indptr = ip->buf;
    const int32_t *features = ft->buf;
    Py_ssize_t n_groups = items(ip) - 1, n_entries = items(vl);
    if (per_tree <= 0 || per_tree > INT32_MAX || width <= 0 || width > INT32_MAX ||
        n_groups <= 0 || n_groups % per_tree != 0 ||
        items(ft) != n_entries || indptr[0] != 0) {
        PyErr_SetString(PyExc_ValueError, "Credits: inconsistent credit arrays");
        return -1;
    }
    for (Py_ssize_t g = 0; g < n_groups; g++) {
        if (indptr[g] > indptr[g + 1] || indptr[g + 1] > n_entries) {
            PyErr_SetString(PyExc_ValueError, "Credits: indptr out of range");
            return -1;
        }
    }
    for (Py_ssize_t k = 0; k < n_entries; k++) {
        if (features[k] < 0 || features[k] >= width) {
            PyErr_SetString(PyExc_ValueError, "Credits: a feature out of range");
            return -1;
        }
    }
    return 0;
}

static void *
copy_of(const Py_buffer *view)
{
    void *out = PyMem_Malloc(view->len ? (size_t)view->len : 1);
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(out, view->buf, (size_t)view->len);
    return out;
}

static int
Credits_init(Credits *self, PyObject *args, PyObject *kwds)
{
    PyObject *o_indptr, *o_features, *o_values;
    Py_ssize_t per_tree, width;
    if (!PyArg_ParseTuple(args, "OOOnn", &o_indptr, &o_features, &o_values, &per_tree, &width)) {
        return -1;
    }
    if (self->indptr != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Credits are built once");
        return -1;
    }
    Py_buffer ip, ft, vl;
    int status = -1;
    if (get_vector(o_indptr, &ip, "l", 8, "indptr", 0) < 0) {
        return -1;
    }
    if (get_vector(o_features, &ft, "i", 4, "features", 0) < 0) {
        PyBuffer_Release(&ip);
        return -1;
    }
    if (get_vector(o_values, &vl, "d", 8, "values", 0) < 0) {
        PyBuffer_Release(&ip);
        PyBuffer_Release(&ft);
        return -1;
    }
    if (credits_check(&ip, &ft, &vl, per_tree, width) == 0) {
        self->indptr = copy_of(&ip);
        self->features = copy_of(&ft);
        self->values = copy_of(&vl);
        if (self->indptr && self->features && self->values) {
            self->per_tree = per_tree;
            self->n_trees = (items(&ip) - 1) / per_tree;
            self->width = width;
            status = 0;
        } else {
            PyMem_Free(self->indptr);
            PyMem_Free(self->features);
            PyMem_Free(self->values);
            self->indptr = NULL;
            self->features = NULL;
            self->values = NULL;
        }
    }
    PyBuffer_Release(&ip);
    PyBuffer_Release(&ft);
    PyBuffer_Release(&vl);
    return status;
}

static PyObject *
Credits_sum(Credits *self, PyObject *args)
{
    PyObject *o_leaves, *o_out;
    if (!PyArg_ParseTuple(args, "OO", &o_leaves, &o_out)) {
        return NULL;
    }
    if (self->indptr == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the Credits were not built");
        return NULL;
    }
    Py_buffer v_leaves, v_out;
    if (get_vector(o_leaves, &v_leaves, "i", 4, "leaves", 0) < 0) {
        return NULL;
    }
    if (get_vector(o_out, &v_out, "d", 8, "out", 1) < 0) {
        PyBuffer_Release(&v_leaves);
        return NULL;
    }
    PyObject *result = NULL;
    const int32_t *leaves = v_leaves.buf;
    Py_ssize_t n_trees = self->n_trees, width = self->width, per_tree = self->per_tree;
    Py_ssize_t n_rows = items(&v_leaves) / n_trees;
    if (items(&v_leaves) % n_trees != 0 || n_rows > PY_SSIZE_T_MAX / width ||
        items(&v_out) != n_rows * width) {
        PyErr_SetString(PyExc_ValueError, "Credits.sum: leaves rows x trees, out rows x width");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_rows * n_trees; i++) {
        if (leaves[i] < 0 || leaves[i] >= per_tree) {
            PyErr_SetString(PyExc_ValueError, "Credits.sum: a leaf out of range");
            goto done;
        }
    }
    {
        const int64_t *indptr = self->indptr;
        const int32_t *features = self->features;
        const double *values = self->values;
        double *out = v_out.buf;
        int moved = 0; /* leaves is a buffer another thread may write once the GIL is off */
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < n_rows; r++) {
            double *row = out + r * width;
            for (Py_ssize_t j = 0; j < width; j++) row[j] = 0.0;
            const int32_t *row_leaves = leaves + r * n_trees;
            for (Py_ssize_t t = 0; t < n_trees; t++) {
                int32_t leaf = row_leaves[t];
                if ((uint32_t)leaf >= (uint32_t)per_tree) {
                    moved = 1;
                    continue;
                }
                Py_ssize_t g = t * per_tree + leaf;
                for (int64_t k = indptr[g]; k < indptr[g + 1]; k++) row[features[k]] += values[k];
            }
        }
        Py_END_ALLOW_THREADS
        if (moved) {
            PyErr_SetString(PyExc_ValueError, "Credits.sum: a leaf changed while summing");
            goto done;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&v_leaves);
    PyBuffer_Release(&v_out);
    return result;
}

static PyMethodDef Credits_methods[] = {
    {"sum", (PyCFunction)Credits_sum, METH_VARARGS,
     "sum(leaves, out): each row's credits summed over the leaves it reached"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CreditsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "centime.risk._trees.Credits",
    .tp_doc = "The reasons' path credits of a model's leaves, summed per row natively.",
    .tp_basicsize = sizeof(Credits),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Credits_init,
    .tp_dealloc = (destructor)Credits_dealloc,
    .tp_methods = Credits_methods,
};

static struct PyModuleDef trees_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "centime.risk._trees",
    .m_doc = "LightGBM's numerical trees evaluated natively (see centime.risk.trees).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__trees(void)
{
    if (PyType_Ready(&ForestType) < 0 || PyType_Ready(&CreditsType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&trees_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&ForestType);
    if (PyModule_AddObject(module, "Forest", (PyObject *)&ForestType) < 0) {
        Py_DECREF(&ForestType);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Credits", (PyObject *)&CreditsType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
