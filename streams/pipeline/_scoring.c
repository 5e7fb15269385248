/* Scoring an article against its candidate stories: the two loops of placing that numpy ran as a dozen
 * calls on small arrays (a third of the place stage's time went to their overhead). Here each candidate is
 * one merge of two sorted runs of hashes, with no temporary arrays.
 *
 * The arithmetic is numpy's, in numpy's order (products summed per part in the story's hash order, the three
 * parts summed left to right), so the scores are the same to the last bit: see streams/pipeline/packed.py
 * and cluster.py for what is computed and why.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define PARTS 3

/* Whether a buffer holds 8-byte items of a struct format: "d" (float64), "l" or "q" (int64). */
static int holds(const Py_buffer *view, const char *formats)
{
    return view->itemsize == 8 && view->format != NULL && view->format[0] != '\0' && view->format[1] == '\0'
           && strchr(formats, view->format[0]) != NULL;
}

/* A Packed block (a (2, n) int64 array: hashes, then the weights' float64 bits) and its bit per part. */
typedef struct {
    Py_buffer view;
    Py_ssize_t n;
    const int64_t *hashes;
    const double *weights;
    long present;
} Block;

static int open_block(PyObject *packed, Block *block)
{
    PyObject *array = PyObject_GetAttrString(packed, "block");
    if (array == NULL)
        return -1;
    int failed = PyObject_GetBuffer(array, &block->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT);
    Py_DECREF(array);
    if (failed)
        return -1;
    if (!holds(&block->view, "lq") || block->view.len % 16) {
        PyBuffer_Release(&block->view);
        PyErr_SetString(PyExc_ValueError, "a packed block is a (2, n) int64 array");
        return -1;
    }
    block->n = block->view.len / 16;
    block->hashes = (const int64_t *)block->view.buf;
    block->weights = (const double *)(block->hashes + block->n);
    PyObject *present = PyObject_GetAttrString(packed, "present");
    if (present == NULL) {
        PyBuffer_Release(&block->view);
        return -1;
    }
    block->present = PyLong_AsLong(present);
    Py_DECREF(present);
    if (block->present == -1 && PyErr_Occurred()) {
        PyBuffer_Release(&block->view);
        return -1;
    }
    return 0;
}

static PyObject *weighted_cosines(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "weighted_cosines(query, others, part_weights)");
        return NULL;
    }
    double part_weights[PARTS];
    PyObject *given = PySequence_Fast(args[2], "part weights are a sequence");
    if (given == NULL)
        return NULL;
    if (PySequence_Fast_GET_SIZE(given) != PARTS) {
        Py_DECREF(given);
        PyErr_SetString(PyExc_ValueError, "one weight per part");
        return NULL;
    }
    for (int part = 0; part < PARTS; part++)
        part_weights[part] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(given, part));
    Py_DECREF(given);
    if (PyErr_Occurred())
        return NULL;

    PyObject *others = PySequence_Fast(args[1], "others are a sequence");
    if (others == NULL)
        return NULL;
    Block query;
    if (open_block(args[0], &query)) {
        Py_DECREF(others);
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(others);
    PyObject *result = PyList_New(count);
    for (Py_ssize_t index = 0; result != NULL && index < count; index++) {
        Block other;
        if (open_block(PySequence_Fast_GET_ITEM(others, index), &other)) {
            Py_CLEAR(result);
            break;
        }
        double dots[PARTS] = {0.0, 0.0, 0.0};
        Py_ssize_t at = 0;
        for (Py_ssize_t column = 0; column < other.n && at < query.n; column++) {
            int64_t hash = other.hashes[column];
            while (at < query.n && query.hashes[at] < hash)
                at++;
            if (at < query.n && query.hashes[at] == hash)
                dots[(uint64_t)hash & 3] += query.weights[at] * other.weights[column];
        }
        long shared = other.present & query.present;
        double weight[PARTS], total = 0.0, sum = 0.0;
        for (int part = 0; part < PARTS; part++) {
            weight[part] = (shared >> part) & 1 ? part_weights[part] : 0.0;
            total += weight[part];
            sum += dots[part] * weight[part];
        }
        PyBuffer_Release(&other.view);
        PyObject *cosine = PyFloat_FromDouble(sum / (total > 0 ? total : 1.0));
        if (cosine == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, index, cosine);
    }
    PyBuffer_Release(&query.view);
    Py_DECREF(others);
    return result;
}

static PyObject *fades(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "fades(article_days, stories_days, half_life_days)");
        return NULL;
    }
    double half_life = PyFloat_AsDouble(args[2]);
    if (half_life == -1.0 && PyErr_Occurred())
        return NULL;
    PyObject *dates_list = PySequence_List(args[0]);
    if (dates_list == NULL)
        return NULL;
    Py_ssize_t dates_count = PyList_GET_SIZE(dates_list);
    double *dates = PyMem_Malloc(sizeof(double) * (dates_count ? dates_count : 1));
    if (dates == NULL) {
        Py_DECREF(dates_list);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < dates_count; i++)
        dates[i] = PyFloat_AsDouble(PyList_GET_ITEM(dates_list, i));
    Py_DECREF(dates_list);
    PyObject *stories = PyErr_Occurred() ? NULL : PySequence_Fast(args[1], "stories' days are a sequence");
    if (stories == NULL) {
        PyMem_Free(dates);
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(stories);
    PyObject *result = PyList_New(count);
    for (Py_ssize_t index = 0; result != NULL && index < count; index++) {
        double pull = 1.0;
        if (dates_count) {
            Py_buffer view;
            if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(stories, index), &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)) {
                Py_CLEAR(result);
                break;
            }
            const double *days = (const double *)view.buf;
            Py_ssize_t days_count = holds(&view, "d") ? view.len / 8 : -1;
            double gap = 0.0;
            for (Py_ssize_t day = 0; day < days_count; day++)
                for (Py_ssize_t i = 0; i < dates_count; i++) {
                    double distance = fabs(days[day] - dates[i]);
                    if ((day == 0 && i == 0) || distance < gap)
                        gap = distance;
                }
            PyBuffer_Release(&view);
            if (days_count < 0) {
                PyErr_SetString(PyExc_ValueError, "a story's days are a float64 array");
                Py_CLEAR(result);
                break;
            }
            double beyond = gap - 1;  /* as Python's max(gap - 1, 0) */
            pull = pow(0.5, (0 > beyond ? 0.0 : beyond) / half_life);
        }
        PyObject *value = PyFloat_FromDouble(pull);
        if (value == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, index, value);
    }
    PyMem_Free(dates);
    Py_DECREF(stories);
    return result;
}

static PyMethodDef methods[] = {
    {"weighted_cosines", (PyCFunction)(void (*)(void))weighted_cosines, METH_FASTCALL,
     "weighted_cosines(query, others, part_weights): see streams.pipeline.packed.weighted_cosines"},
    {"fades", (PyCFunction)(void (*)(void))fades, METH_FASTCALL,
     "fades(article_days, stories_days, half_life_days): see streams.pipeline.cluster.fades"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scoring", NULL, 0, methods};

PyMODINIT_FUNC PyInit__scoring(void)
{
    return PyModule_Create(&module);
}
