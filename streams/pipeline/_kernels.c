/* The hot loops of clustering, which ran in Python and numpy on a few hundred items per article:
 *
 * - `found`: an article's candidate stories, read from the inverted index (StoryIndex._found);
 * - `weighted_cosines` and `fades`: scoring it against them, which numpy ran as a dozen calls on small
 *   arrays; here each candidate is one merge of two sorted runs of hashes, with no temporary arrays.
 *
 * What is computed, and why, is in streams/pipeline/cluster.py and packed.py. The arithmetic is theirs, in
 * their order (sums taken in the same sequence, ties broken the same way), so every result is the same to
 * the last bit as the Python and numpy code these replaced: stories already placed stay where they are.
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

/* A (weight, key) pair, for sorting: keys are str, compared as Python compares them. */
typedef struct {
    double weight;
    PyObject *key;
} Pair;

/* Reading order: heaviest first, ties to the lesser key (Python's sorted() of (-weight, key)). */
static int reading_order(const void *left, const void *right)
{
    const Pair *a = left, *b = right;
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return PyUnicode_Compare(a->key, b->key);
}

/* Ranking order: heaviest first, ties to the greater key (features.largest). */
static int ranking_order(const void *left, const void *right)
{
    const Pair *a = left, *b = right;
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return PyUnicode_Compare(b->key, a->key);
}

static PyObject *found(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "found(weighted, postings, n, besides, budget, max_postings)");
        return NULL;
    }
    PyObject *postings = args[1], *besides = args[3];
    Py_ssize_t n = PyLong_AsSsize_t(args[2]), budget = PyLong_AsSsize_t(args[4]);
    Py_ssize_t max_postings = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred())
        return NULL;
    if (!PyDict_Check(postings)) {
        PyErr_SetString(PyExc_TypeError, "postings are a dict of sets");
        return NULL;
    }
    PyObject *weighted = PySequence_Fast(args[0], "weighted features are a sequence of (key, weight)");
    if (weighted == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(weighted);
    Pair *features = PyMem_Malloc(sizeof(Pair) * (count ? count : 1));
    PyObject *index_of = PyDict_New();  /* story id -> its row in `hits` */
    Py_ssize_t rows = 0, capacity = 64;
    Pair *hits = PyMem_Malloc(sizeof(Pair) * capacity);
    PyObject *result = NULL;
    if (features == NULL || hits == NULL || index_of == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(weighted, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(item, 0))) {
            PyErr_SetString(PyExc_TypeError, "weighted features are (str, float) pairs");
            goto done;
        }
        features[i].key = PyTuple_GET_ITEM(item, 0);
        features[i].weight = PyFloat_AsDouble(PyTuple_GET_ITEM(item, 1));
        if (PyErr_Occurred())
            goto done;
    }
    qsort(features, count, sizeof(Pair), reading_order);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *stories = PyDict_GetItemWithError(postings, features[i].key);
        if (stories == NULL) {
            if (PyErr_Occurred())
                goto done;
            continue;
        }
        if (!PyAnySet_Check(stories)) {
            PyErr_SetString(PyExc_TypeError, "postings are a dict of sets");
            goto done;
        }
        Py_ssize_t size = PySet_GET_SIZE(stories);
        if (!size || size > (budget < max_postings ? budget : max_postings))
            continue;  /* no longer fits the budget: the rarer features after it still count */
        budget -= size;
        PyObject *iterator = PyObject_GetIter(stories), *story;
        if (iterator == NULL)
            goto done;
        while ((story = PyIter_Next(iterator)) != NULL) {
            PyObject *row = PyDict_GetItemWithError(index_of, story);
            Py_ssize_t at;
            if (row != NULL) {
                at = PyLong_AsSsize_t(row);
            } else if (PyErr_Occurred()) {
                Py_DECREF(story);
                break;
            } else if (!PyUnicode_Check(story)) {
                PyErr_SetString(PyExc_TypeError, "story ids are str");
                Py_DECREF(story);
                break;
            } else {
                if (rows == capacity) {
                    Pair *grown = PyMem_Realloc(hits, sizeof(Pair) * capacity * 2);
                    if (grown == NULL) {
                        Py_DECREF(story);
                        PyErr_NoMemory();
                        break;
                    }
                    hits = grown;
                    capacity *= 2;
                }
                at = rows;
                PyObject *number = PyLong_FromSsize_t(at);
                if (number == NULL || PyDict_SetItem(index_of, story, number)) {
                    Py_XDECREF(number);
                    Py_DECREF(story);
                    break;
                }
                Py_DECREF(number);
                hits[rows++] = (Pair){0.0, story};  /* index_of holds the reference */
            }
            hits[at].weight += features[i].weight;
            Py_DECREF(story);
        }
        Py_DECREF(iterator);
        if (PyErr_Occurred())
            goto done;
        if (!budget)
            break;
    }
    Py_ssize_t kept = 0;
    for (Py_ssize_t row = 0; row < rows; row++) {
        int same = besides == Py_None ? 0 : PyObject_RichCompareBool(hits[row].key, besides, Py_EQ);
        if (same < 0)
            goto done;
        if (!same)
            hits[kept++] = hits[row];
    }
    qsort(hits, kept, sizeof(Pair), ranking_order);
    if (PyErr_Occurred())
        goto done;
    if (n > kept)
        n = kept;
    result = PyList_New(n < 0 ? 0 : n);
    for (Py_ssize_t i = 0; result != NULL && i < n; i++) {
        Py_INCREF(hits[i].key);
        PyList_SET_ITEM(result, i, hits[i].key);
    }
done:
    PyMem_Free(features);
    PyMem_Free(hits);
    Py_XDECREF(index_of);
    Py_DECREF(weighted);
    if (PyErr_Occurred())
        Py_CLEAR(result);
    return result;
}

static PyMethodDef methods[] = {
    {"found", (PyCFunction)(void (*)(void))found, METH_FASTCALL,
     "found(weighted, postings, n, besides, budget, max_postings): see StoryIndex._found"},
    {"weighted_cosines", (PyCFunction)(void (*)(void))weighted_cosines, METH_FASTCALL,
     "weighted_cosines(query, others, part_weights): see streams.pipeline.packed.weighted_cosines"},
    {"fades", (PyCFunction)(void (*)(void))fades, METH_FASTCALL,
     "fades(article_days, stories_days, half_life_days): see streams.pipeline.cluster.fades"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, 0, methods};

PyMODINIT_FUNC PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
