/* Takes the ledger's long-lived records out of the cyclic garbage collector's sight
 * (centime.ledger.records; docs/ledger.md, "Records and the garbage collector").
 *
 * CPython untracks an exact tuple whose items are all atomic when a collection first looks
 * at it: such a tuple can never be part of a reference cycle. It does not do so for tuple
 * subclasses, so every Account and Transfer record (NamedTuples) stays tracked for its whole
 * life, and every collection of its generation traverses it again: the SQLite store's
 * account cache holds thousands of them, replaced group after group. untrack() does for
 * these records what CPython does for exact tuples, under the same conditions, and nothing
 * for anything else:
 *
 *   - the object is a tuple or a subclass that adds no state of its own (no instance
 *     dictionary, no slots, no weak references: its size is a tuple's), so its items are
 *     all it references;
 *   - every item is of a type the collector does not track (int, str, bool, None, ...).
 *
 * Such an object cannot reference anything that could lead back to it, now or later (a
 * tuple's items never change), so untracking it cannot leave a cycle uncollected. Its
 * memory is still freed by reference counting, as always.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int
untrackable(PyObject *op)
{
    if (!PyTuple_Check(op) || !PyObject_GC_IsTracked(op)) {
        return 0;
    }
    PyTypeObject *type = Py_TYPE(op);
    if (type != &PyTuple_Type
        && (type->tp_basicsize != PyTuple_Type.tp_basicsize
            || type->tp_itemsize != PyTuple_Type.tp_itemsize || type->tp_dictoffset != 0
            || type->tp_weaklistoffset != 0)) {
        return 0;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(op);
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *item = PyTuple_GET_ITEM(op, i);
        if (item == NULL || PyObject_IS_GC(item)) {
            return 0;
        }
    }
    return 1;
}

PyDoc_STRVAR(untrack_doc,
             "untrack(records) -> int\n\n"
             "Untrack, for the cyclic garbage collector, each of ``records`` that is a tuple "
             "(or a subclass adding no state) of untracked-type items only; return how many "
             "were untracked. Anything else is left as it is.");

static PyObject *
untrack(PyObject *module, PyObject *records)
{
    (void)module;
    PyObject *iterator = PyObject_GetIter(records);
    if (iterator == NULL) {
        return NULL;
    }
    Py_ssize_t count = 0;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        if (untrackable(item)) {
            PyObject_GC_UnTrack(item);
            count++;
        }
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromSsize_t(count);
}

static PyMethodDef records_methods[] = {
    {"untrack", untrack, METH_O, untrack_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef records_module = {
    PyModuleDef_HEAD_INIT,
    "centime.ledger._records",
    "Untracks the ledger's atomic records for the cyclic garbage collector.",
    -1,
    records_methods,
};

PyMODINIT_FUNC
PyInit__records(void)
{
    return PyModule_Create(&records_module);
}
