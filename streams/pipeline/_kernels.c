/* The hot loops of clustering and deduplication, which ran in Python and numpy on a few hundred items per article:
 *
 * - `weigh`: an article part's TF-IDF vector (features.py), which a dict comprehension made a key and a weight at a
 *   time, then normalised in a second pass; and its n strongest features (`keep_strongest`, as `refresh` keeps a
 *   story's), which a vector made of every term, then ranked, gave;
 * - `refresh`: re-weighing a story's profile when it gains an article, and packing it for scoring, with
 *   `pack`, which packs an article's vector (packed.py), and `pack_parts`, which splits it into unit vectors
 *   per part first (cluster.article_parts);
 * - `Postings`: the inverted index of StoryIndex, and `Postings.found`, an article's candidate stories' profiles,
 *   which dicts of dicts held and read;
 * - `weighted_cosines` and `fades`: scoring it against them, which numpy ran as a dozen calls on small
 *   arrays; here each candidate is one merge of two sorted runs of hashes, with no temporary arrays, and its
 *   days are read from the end of the same block.
 * - `minhash`: an article's MinHash signature (dedup.py), a sha1 per word shingle mixed and permuted 64 ways,
 *   which Python made with a hashlib call per shingle and numpy arrays of shingles by permutations; the sha1
 *   through the CPU's SHA instructions where it has them.
 * - `letter_words`, `word_tokens`, `alnum_words` and `term_tokens`: the words of a text as cleaning, deduplication
 *   and clustering read them, which regexes found testing each character against a class of Unicode categories.
 * - `sentence` and `Token`: the tokens of a sentence for fact extraction (facts/document.py), which a regex found
 *   one match object at a time, and a Python loop made into dataclass objects one at a time.
 * - `band_keys` and `file_bands`: the LSH bucket keys of a signature's bands, and filing an article under them
 *   (dedup.py), a slice, a hash and a dict update per band, ten per fingerprint when a restart rebuilds the index.
 *
 * What is computed, and why, is in streams/pipeline/cluster.py, packed.py and dedup.py. The arithmetic is
 * theirs, in their order (sums taken in the same sequence, ties broken the same way), so every result is the
 * same to the last bit as the Python and numpy code these replaced: stories already placed stay where they
 * are, and fingerprints stored before compare with new ones.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define PARTS 3

/* A dict read while a Python callback ran changed size: the buffers sized from it no longer fit. */
static void changed_size(void)
{
    PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
}

/* Whether a buffer holds 8-byte items of one of the struct formats given: "d" (float64), "l" or "q" (int64),
 * "L" or "Q" (uint64). */
static int holds(const Py_buffer *view, const char *formats)
{
    return view->itemsize == 8 && view->format != NULL && view->format[0] != '\0' && view->format[1] == '\0'
           && strchr(formats, view->format[0]) != NULL;
}

/* A Packed block (the bytes of a (2, n) int64 array: hashes, then the weights' float64 bits) and its bit per part.
 * A story's block ends with the days it is dated by (`refresh`): columns of DAY_HASH, each day as its weight. */
typedef struct {
    PyObject *data;  /* the bytes the hashes and weights are read from */
    Py_ssize_t n;
    const int64_t *hashes;
    const double *weights;
    long present;
} Block;

/* Its two lowest bits are 3, no part's index, so no feature's hash is it; and it sorts after every feature's. */
#define DAY_HASH INT64_MAX

static PyObject *DATA, *PRESENT;  /* a packed block's attribute names (a Packed's, a profile's), interned once */

/* A block over bytes (borrowed): its hashes and weights (and a story's days after them). Bytes exactly: a subclass's
 * instance could run code as it is let go, and the postings let go of blocks while they change their rows. */
static int read_block(PyObject *data, Block *block)
{
    if (!PyBytes_CheckExact(data) || PyBytes_GET_SIZE(data) % 16) {
        PyErr_SetString(PyExc_ValueError, "a packed block is the bytes of a (2, n) int64 array");
        return -1;
    }
    block->data = data;
    block->n = PyBytes_GET_SIZE(data) / 16;
    block->hashes = (const int64_t *)PyBytes_AS_STRING(data);
    block->weights = (const double *)(block->hashes + block->n);
    return 0;
}

/* A packed block's bytes (held in block->data): its hashes and weights (and a story's days after them), not its parts. */
static int open_data(PyObject *packed, Block *block)
{
    PyObject *data = PyObject_GetAttr(packed, DATA);
    if (data == NULL)
        return -1;
    if (read_block(data, block)) {
        Py_DECREF(data);
        return -1;
    }
    return 0;
}

static int open_block(PyObject *packed, Block *block)
{
    if (open_data(packed, block))
        return -1;
    PyObject *present = PyObject_GetAttr(packed, PRESENT);
    block->present = present == NULL ? -1 : PyLong_AsLong(present);
    Py_XDECREF(present);
    if (block->present == -1 && PyErr_Occurred()) {
        Py_DECREF(block->data);
        return -1;
    }
    return 0;
}

/* A block's columns before its days (a story's last columns, each of DAY_HASH). */
static Py_ssize_t features_in(const Block *block)
{
    Py_ssize_t n = block->n;
    while (n > 0 && block->hashes[n - 1] == DAY_HASH)
        n--;
    return n;
}

/* Ask the memory for bytes about to be read, without waiting for them. */
static void ask_for(const void *start, Py_ssize_t bytes)
{
#if defined(__GNUC__)
    for (Py_ssize_t offset = 0; offset < bytes; offset += 64)
        __builtin_prefetch((const char *)start + offset);
#else
    (void)start;
    (void)bytes;
#endif
}

/* One weight per part, in PARTS order. */
static int read_part_weights(PyObject *weights, double part_weights[PARTS])
{
    PyObject *given = PySequence_Tuple(weights);  /* held: reading a weight may run Python code (__float__) */
    if (given == NULL)
        return -1;
    if (PyTuple_GET_SIZE(given) != PARTS) {
        Py_DECREF(given);
        PyErr_SetString(PyExc_ValueError, "one weight per part");
        return -1;
    }
    for (int part = 0; part < PARTS && !PyErr_Occurred(); part++)
        part_weights[part] = PyFloat_AsDouble(PyTuple_GET_ITEM(given, part));
    Py_DECREF(given);
    return PyErr_Occurred() ? -1 : 0;
}

/* The weighted cosine of a query (its first `query_columns` columns) and another block over the parts both have,
 * 0 when they share none; -1 with an error if the other has a column of no part. */
static int weighted_cosine(const Block *query, Py_ssize_t query_columns, const Block *other, const double part_weights[PARTS],
                           double *cosine)
{
    double dots[PARTS + 1] = {0.0, 0.0, 0.0, 0.0};  /* and one for a hash of no part, which is refused */
    /* A merge of the two runs that steps by the comparison's value, not by a branch on which side is behind:
     * that branch went either way at random and was mispredicted at about every other column. Each story
     * column in turn meets the first query column not below it, as a loop advancing the query did. */
    Py_ssize_t at = 0, column = 0, columns = features_in(other);
    uint64_t odd = 0;  /* a column of no part met */
    while (column < columns && at < query_columns) {
        int64_t hash = other->hashes[column], asked = query->hashes[at];
        odd |= ((uint64_t)hash & 3) == 3;
        if (hash == asked)
            dots[(uint64_t)hash & 3] += query->weights[at] * other->weights[column];
        column += hash <= asked;
        at += asked < hash;
    }
    if (odd) {
        PyErr_SetString(PyExc_ValueError, "a packed hash's two lowest bits are its part (0 to 2)");
        return -1;
    }
    long shared = other->present & query->present;
    double weight[PARTS], total = 0.0, sum = 0.0;
    for (int part = 0; part < PARTS; part++) {
        weight[part] = (shared >> part) & 1 ? part_weights[part] : 0.0;
        total += weight[part];
        sum += dots[part] * weight[part];
    }
    *cosine = sum / (total > 0 ? total : 1.0);
    return 0;
}

/* The times an article (or a story) is dated by, in days, as floats (`count` of them; NULL with an error). A tuple (a
 * story's days) is read in place, as no code can change it; anything else through a list of its own, which code run
 * by a day's __float__ cannot empty under the reading. */
static double *read_dates(PyObject *given, Py_ssize_t *count)
{
    PyObject *dates_list = PyTuple_CheckExact(given) ? Py_NewRef(given) : PySequence_List(given);
    if (dates_list == NULL)
        return NULL;
    Py_ssize_t dates_count = PySequence_Fast_GET_SIZE(dates_list);
    double *dates = PyMem_Malloc(sizeof(double) * (dates_count ? dates_count : 1));
    if (dates == NULL) {
        Py_DECREF(dates_list);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < dates_count && !PyErr_Occurred(); i++)
        dates[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(dates_list, i));
    Py_DECREF(dates_list);
    if (PyErr_Occurred()) {
        PyMem_Free(dates);
        return NULL;
    }
    *count = dates_count;
    return dates;
}

/* A half-life in days, which a pull divides by. */
static int read_half_life(PyObject *given, double *half_life)
{
    *half_life = PyFloat_AsDouble(given);
    if (*half_life == -1.0 && PyErr_Occurred())
        return -1;
    if (*half_life == 0.0) {
        PyErr_SetString(PyExc_ZeroDivisionError, "a half-life of zero days");
        return -1;
    }
    return 0;
}

/* A story's pull on an article dated by `dates` (at least one): halved every half-life of days between the nearest
 * of them and of the days its block ends with (see `cluster.fades`). */
static double pull(const double *dates, Py_ssize_t dates_count, const Block *block, double half_life)
{
    Py_ssize_t days_count = block->n - features_in(block);  /* the block's last columns */
    const double *days = block->weights + block->n - days_count;
    double gap = 0.0;
    for (Py_ssize_t day = 0; day < days_count; day++)
        for (Py_ssize_t i = 0; i < dates_count; i++) {
            double distance = fabs(days[day] - dates[i]);
            if ((day == 0 && i == 0) || distance < gap || isnan(distance))
                gap = isnan(gap) ? gap : distance;  /* NaN wins, as in numpy's min */
        }
    double beyond = gap - 1;  /* as Python's max(gap - 1, 0) */
    return pow(0.5, (0 > beyond ? 0.0 : beyond) / half_life);
}

static PyObject *weighted_cosines(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "weighted_cosines(query, others, part_weights)");
        return NULL;
    }
    double part_weights[PARTS];
    if (read_part_weights(args[2], part_weights))
        return NULL;

    PyObject *others = PySequence_Tuple(args[1]);  /* held: reading a block may run Python code (a property) */
    if (others == NULL)
        return NULL;
    Block query;
    if (open_block(args[0], &query)) {
        Py_DECREF(others);
        return NULL;
    }
    Py_ssize_t query_columns = features_in(&query);
    /* Every block is opened, and its hashes asked for, before any is merged: the candidates' profiles lie
     * scattered over memory, and with many live stories each one's read, made in turn, stalled its merge. */
    Py_ssize_t count = PyTuple_GET_SIZE(others), opened = 0;
    Block *blocks = PyMem_Malloc((count > 0 ? count : 1) * sizeof(Block));
    PyObject *result = blocks == NULL ? PyErr_NoMemory() : PyList_New(count);
    for (; result != NULL && opened < count; opened++) {
        if (open_block(PyTuple_GET_ITEM(others, opened), &blocks[opened])) {
            Py_CLEAR(result);
            break;
        }
        ask_for(blocks[opened].hashes, blocks[opened].n * (Py_ssize_t)sizeof(int64_t));
        if (blocks[opened].n)  /* where its days end, which `fades` reads next */
            ask_for(blocks[opened].weights + blocks[opened].n - 1, 1);
    }
    for (Py_ssize_t index = 0; result != NULL && index < count; index++) {
        double value;
        if (weighted_cosine(&query, query_columns, &blocks[index], part_weights, &value)) {
            Py_CLEAR(result);
            break;
        }
        PyObject *cosine = PyFloat_FromDouble(value);
        if (cosine == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, index, cosine);
    }
    for (Py_ssize_t index = 0; index < opened; index++)
        Py_DECREF(blocks[index].data);
    PyMem_Free(blocks);
    Py_DECREF(query.data);
    Py_DECREF(others);
    return result;
}

static PyObject *fades(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "fades(article_days, stories, half_life_days)");
        return NULL;
    }
    double half_life;
    if (read_half_life(args[2], &half_life))
        return NULL;
    Py_ssize_t dates_count;
    double *dates = read_dates(args[0], &dates_count);
    if (dates == NULL)
        return NULL;
    PyObject *stories = PySequence_Tuple(args[1]);  /* held, as in `weighted_cosines` */
    if (stories == NULL) {
        PyMem_Free(dates);
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(stories);
    PyObject *result = PyList_New(count);
    for (Py_ssize_t index = 0; result != NULL && index < count; index++) {
        double faded = 1.0;
        if (dates_count) {
            Block block;
            if (open_data(PyTuple_GET_ITEM(stories, index), &block)) {  /* its days; its parts do not fade it */
                Py_CLEAR(result);
                break;
            }
            faded = pull(dates, dates_count, &block, half_life);
            Py_DECREF(block.data);
        }
        PyObject *value = PyFloat_FromDouble(faded);
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

/* A feature being weighed: a story's while its profile is re-weighed, or an article's. */
typedef struct {
    PyObject *key;  /* held, in `weigh` (an article's term) and `refresh` (see `release`); a story id, in `found` */
    PyObject *count;  /* held there: its count; the story's profile, in `found` (both borrowed there) */
    double weight;
    int64_t hash;  /* its stable hash (`refresh`); the story's row, in `found` */
} Feature;

/* Strongest first, ties to the greater key: the order of the features `weigh` and `refresh` keep, and of the stories
 * `found` ranks. */
static int strongest_order(const void *left, const void *right)
{
    const Feature *a = left, *b = right;
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return PyUnicode_Compare(b->key, a->key);
}

static void swap_rows(Feature *rows, Py_ssize_t i, Py_ssize_t j)
{
    Feature row = rows[i];
    rows[i] = rows[j];
    rows[j] = row;
}

/* Sorts of rows by a comparison, each for one type of row and one comparison: glibc's qsort (2.36) as it sorts, a
 * merge sort splitting n rows into n / 2 and the rest and taking the left row unless `compare` puts the right one
 * first, so rows come out in its order whatever the comparison says, ties and NaN weights included. qsort called
 * the comparison through a pointer and moved rows by a size read at run time: about 6 % of placing (callgrind).
 * `buffer` holds n rows; when it cannot be had, qsort sorts them. */
#define MERGE_SORT(name, Row, compare)                                                              \
    static void name##_into(Row *rows, Py_ssize_t n, Row *buffer)                                  \
    {                                                                                              \
        if (n <= 1)                                                                                \
            return;                                                                                \
        Py_ssize_t left = n / 2, right = n - left;                                                 \
        Row *a = rows, *b = rows + left, *out = buffer;                                            \
        name##_into(a, left, buffer);                                                              \
        name##_into(b, right, buffer);                                                             \
        while (left > 0 && right > 0) {                                                            \
            if (compare(a, b) <= 0)                                                                \
                *out++ = *a++, left--;                                                             \
            else                                                                                   \
                *out++ = *b++, right--;                                                            \
        }                                                                                          \
        if (left > 0)                                                                              \
            memcpy(out, a, sizeof(Row) * left);                                                    \
        memcpy(rows, buffer, sizeof(Row) * (n - right));                                           \
    }                                                                                              \
    static void name(Row *rows, Py_ssize_t n)                                                      \
    {                                                                                              \
        Row *buffer = n > 1 ? PyMem_Malloc(sizeof(Row) * n) : NULL;                                \
        if (buffer == NULL) {                                                                      \
            qsort(rows, n, sizeof(Row), compare);                                                  \
            return;                                                                                \
        }                                                                                          \
        name##_into(rows, n, buffer);                                                              \
        PyMem_Free(buffer);                                                                        \
    }

MERGE_SORT(sort_strongest, Feature, strongest_order)

/* Heaviest first, ties in no particular order: comparing weights alone reads no keys. */
static int heavier_first(const void *left, const void *right)
{
    double a = ((const Feature *)left)->weight, b = ((const Feature *)right)->weight;
    return a == b ? 0 : a > b ? -1 : 1;
}

/* Puts the row that is n-th by `order` (0 < n < count) at n - 1, the rows before it by `order` (or tied with it)
 * before it and the others after it (Hoare's quickselect): in time proportional to the rows, where sorting them
 * all (glibc's qsort, a merge sort through a buffer it allocates) was a sixth of finding candidates. */
static void select_first(Feature *rows, Py_ssize_t count, Py_ssize_t n, int (*order)(const void *, const void *))
{
    Py_ssize_t low = 0, high = count - 1, k = n - 1;
    while (low < high) {
        Feature pivot = rows[low + (high - low) / 2];
        Py_ssize_t i = low, j = high;
        while (i <= j) {
            while (i < high && order(&rows[i], &pivot) < 0)  /* bounded: a weight of NaN orders nothing */
                i++;
            while (j > low && order(&rows[j], &pivot) > 0)
                j--;
            if (i <= j)
                swap_rows(rows, i++, j--);
        }
        if (k <= j)
            high = j;
        else if (k >= i)
            low = i;
        else
            break;
    }
}

/* Moves the n strongest rows (by strongest_order) to the front, in that order (or, not `in_order`, in none: for a
 * caller that reads them as a set), and returns how many that is, or -1 if `check` (if given, with `context`)
 * refuses the rows whose keys are about to be compared; it may fill in their keys, which are read nowhere else.
 * Keys are compared only where weights tie among the n (if in order) or at the cut: sorting every row by
 * strongest_order compared the keys of every tie, and an article's few hundred hits mostly tie past the cut (stories
 * found under one feature each), which made ranking two thirds of finding candidates. */
static Py_ssize_t strongest_first(Feature *rows, Py_ssize_t count, Py_ssize_t n, int in_order,
                                  int (*check)(Feature *, Py_ssize_t, void *), void *context)
{
    if (n >= count) {
        if (!in_order)
            return count;
        if (check != NULL && check(rows, count, context))
            return -1;
        sort_strongest(rows, count);
        return count;
    }
    if (n <= 0)
        return 0;
    select_first(rows, count, n, heavier_first);
    double cut = rows[n - 1].weight;
    Py_ssize_t from = 0, to = n;  /* then: heavier rows, the rows at the cut (from to `to`), lighter rows */
    for (Py_ssize_t i = 0; i < n; i++)
        if (rows[i].weight > cut)
            swap_rows(rows, i, from++);
    for (Py_ssize_t i = n; i < count; i++)
        if (rows[i].weight == cut)
            swap_rows(rows, i, to++);
    if (check != NULL && (in_order ? check(rows, to, context) : to > n && check(rows + from, to - from, context)))
        return -1;
    if (to > n)  /* which of the rows tied at the cut make it */
        select_first(rows + from, to - from, n - from, strongest_order);
    if (in_order)
        sort_strongest(rows, n);
    return n;
}

/* A run of features' n strongest: unchanged if it has at most n, else its n strongest in order. */
static Py_ssize_t keep_strongest(Feature *features, Py_ssize_t count, Py_ssize_t n)
{
    return count <= n ? count : strongest_first(features, count, n, 1, NULL, NULL);
}

/* Reading order: heaviest first, ties to the lesser key (Python's sorted() of (-weight, key)). */
static int reading_order(const void *left, const void *right)
{
    const Feature *a = left, *b = right;
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return PyUnicode_Compare(a->key, b->key);
}

MERGE_SORT(sort_reading, Feature, reading_order)

/* The inverted index of StoryIndex: feature -> the live stories found under it. As a dict of dicts (feature ->
 * {profile: story id}) an article's lookups read, per feature, the outer dict's index and entry, the key it
 * compares with, the inner dict's object, its index and its entries: with 100,000 live stories each is a read from
 * memory, and finding the candidates took twice as long as with 1,000. Here a feature is one entry of an open
 * table (its postings' count in it, so a feature passed over costs no more), and its postings one array of the
 * stories' rows, four bytes each: finding took a third less time, and 1,000 live stories 0.7 MB less memory.
 *
 * A feature is found by Python's hash of its str, which the str keeps, so no key is compared: two features whose
 * hashes are equal (64 bits: the odds that any two of a million features are, about 3 in 10^8) share one entry,
 * which can change which stories are candidates, never a score (scoring compares the packed blocks). */
typedef struct {
    Py_hash_t hash;
    PyObject *key;  /* held, for `features`; NULL: an empty entry */
    int32_t *rows;  /* the stories' rows, in ascending order */
    int32_t count, capacity;
} Term;

/* A live story: its profile and id (held), and the hashes of the features it is posted under, ascending and each
 * once: its own, so a caller's dict that changes after cannot leave it posted where it no longer knows, in a quarter
 * of the memory a copy of that dict took (a row is found and posted by a feature's hash alone, as above). And its
 * profile's packed block and part bits as of its last `enter` or `move` (the block held), which `best` scores: read
 * through the profile, each of an article's 40 candidates cost one more read from memory with many live stories
 * (12 % of retrieving, scoring and deciding at 100,000, perf). */
typedef struct {
    PyObject *profile, *story_id;  /* NULL: a free row */
    Py_hash_t *hashes;
    Py_ssize_t count;
    PyObject *data;
    long present;
} Posted;

typedef struct {
    PyObject_HEAD
    Term *terms;
    size_t mask;  /* terms has mask + 1 entries (a power of two), at most half of them used */
    Py_ssize_t used;
    Posted *stories;
    int32_t *free;  /* rows let go, given again first */
    Py_ssize_t rows, capacity, free_count;  /* rows handed out (free ones included), room for */
} Postings;

#define MIN_TERMS 64

static Term *term_of(const Postings *self, Py_hash_t hash)
{
    for (size_t i = (size_t)hash & self->mask;; i = (i + 1) & self->mask) {
        Term *term = &self->terms[i];
        if (term->key == NULL)
            return NULL;
        if (term->hash == hash)
            return term;
    }
}

/* Where an entry of this hash goes in a table of mask + 1 entries: the first empty one from its home. */
static Term *empty_entry(Term *terms, size_t mask, Py_hash_t hash)
{
    size_t i = (size_t)hash & mask;
    while (terms[i].key != NULL)
        i = (i + 1) & mask;
    return &terms[i];
}

static int resize_terms(Postings *self, size_t capacity)
{
    Term *terms = PyMem_Calloc(capacity, sizeof(Term));
    if (terms == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i <= self->mask; i++)
        if (self->terms[i].key != NULL)
            *empty_entry(terms, capacity - 1, self->terms[i].hash) = self->terms[i];
    PyMem_Free(self->terms);
    self->terms = terms;
    self->mask = capacity - 1;
    return 0;
}

/* A feature's entry, made (empty) if it has none. Entries move when the table grows or shrinks. */
static Term *term_for(Postings *self, PyObject *key, Py_hash_t hash)
{
    Term *term = term_of(self, hash);
    if (term != NULL)
        return term;
    if (2 * (size_t)(self->used + 1) > self->mask + 1 && resize_terms(self, 2 * (self->mask + 1)))
        return NULL;
    term = empty_entry(self->terms, self->mask, hash);
    *term = (Term){hash, Py_NewRef(key), NULL, 0, 0};
    self->used++;
    return term;
}

/* Deletes a feature's entry, moving back the entries after it that its place would have had (linear probing's
 * deletion, which leaves no tombstones to slow lookups down as stories come and go for months); the table shrinks
 * when an eighth of it is used. */
static void drop_term(Postings *self, Term *term)
{
    size_t i = (size_t)(term - self->terms);
    PyObject *key = term->key;
    PyMem_Free(term->rows);
    for (size_t j = (i + 1) & self->mask; self->terms[j].key != NULL; j = (j + 1) & self->mask) {
        size_t home = (size_t)self->terms[j].hash & self->mask;
        if (((j - home) & self->mask) >= ((j - i) & self->mask)) {
            self->terms[i] = self->terms[j];
            i = j;
        }
    }
    self->terms[i] = (Term){0, NULL, NULL, 0, 0};
    self->used--;
    Py_DECREF(key);  /* a str: no code runs */
    if (self->mask + 1 > MIN_TERMS && 8 * (size_t)self->used < self->mask + 1) {
        /* A failed shrink leaves the table as large as it was, and the error a caller is cleaning up after as it was. */
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        if (resize_terms(self, (self->mask + 1) / 2))
            PyErr_Clear();
        PyErr_Restore(type, value, traceback);
    }
}

/* name(values, count, value): where `value` is, or would go, in ascending `values` (binary search). */
#define LOWER_BOUND(name, type)                                              \
    static Py_ssize_t name(const type *values, Py_ssize_t count, type value) \
    {                                                                        \
        Py_ssize_t low = 0, high = count;                                    \
        while (low < high) {                                                 \
            Py_ssize_t middle = low + (high - low) / 2;                      \
            if (values[middle] < value)                                      \
                low = middle + 1;                                            \
            else                                                             \
                high = middle;                                               \
        }                                                                    \
        return low;                                                          \
    }

LOWER_BOUND(lower_bound, int32_t)
LOWER_BOUND(hash_bound, Py_hash_t)

/* Posts a row under a feature (no matter if it is already). */
static int post_row(Postings *self, PyObject *key, Py_hash_t hash, int32_t row)
{
    Term *term = term_for(self, key, hash);
    if (term == NULL)
        return -1;
    int32_t at = (int32_t)lower_bound(term->rows, term->count, row);
    if (at < term->count && term->rows[at] == row)
        return 0;
    if (term->count == term->capacity) {
        int32_t capacity = term->capacity ? 2 * term->capacity : 4;
        int32_t *rows = PyMem_Realloc(term->rows, sizeof(int32_t) * (size_t)capacity);
        if (rows == NULL) {
            if (!term->count)
                drop_term(self, term);
            PyErr_NoMemory();
            return -1;
        }
        term->rows = rows;
        term->capacity = capacity;
    }
    memmove(term->rows + at + 1, term->rows + at, sizeof(int32_t) * (size_t)(term->count - at));
    term->rows[at] = row;
    term->count++;
    return 0;
}

/* Takes a row off a feature's postings (no matter if it is not there); a feature no story is posted under goes. */
static void unpost_row(Postings *self, Py_hash_t hash, int32_t row)
{
    Term *term = term_of(self, hash);
    if (term == NULL)
        return;
    int32_t at = (int32_t)lower_bound(term->rows, term->count, row);
    if (at == term->count || term->rows[at] != row)
        return;
    memmove(term->rows + at, term->rows + at + 1, sizeof(int32_t) * (size_t)(term->count - at - 1));
    if (!--term->count) {
        drop_term(self, term);
        return;
    }
    if (term->capacity > 4 && 4 * term->count <= term->capacity) {
        int32_t *rows = PyMem_Realloc(term->rows, sizeof(int32_t) * (size_t)(term->capacity / 2));
        if (rows != NULL) {
            term->rows = rows;
            term->capacity /= 2;
        }
    }
}

/* Features are a dict of str keys: each key's hash is then the str's own, and reading them runs no Python code. */
static int are_features(PyObject *features)
{
    if (!PyDict_CheckExact(features)) {
        PyErr_SetString(PyExc_TypeError, "features are a dict (feature -> weight)");
        return 0;
    }
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(features, &position, &key, &value))
        if (!PyUnicode_CheckExact(key)) {
            PyErr_SetString(PyExc_TypeError, "features are str");
            return 0;
        }
    return 1;
}

static Posted *posted_at(Postings *self, PyObject *given)
{
    Py_ssize_t row = PyLong_AsSsize_t(given);
    if (row == -1 && PyErr_Occurred())
        return NULL;
    if (row < 0 || row >= self->rows || self->stories[row].profile == NULL) {
        PyErr_Format(PyExc_KeyError, "no story holds row %zd", row);
        return NULL;
    }
    return &self->stories[row];
}

static int ascending_hash(const void *left, const void *right)
{
    Py_hash_t a = *(const Py_hash_t *)left, b = *(const Py_hash_t *)right;
    return (a > b) - (a < b);
}

MERGE_SORT(sort_hashes, Py_hash_t, ascending_hash)

/* The hashes of a dict's keys (str: no code runs), ascending and each once, in `hashes` (NULL: out of memory). */
static Py_hash_t *sorted_hashes(PyObject *features, Py_ssize_t *count)
{
    Py_ssize_t size = PyDict_GET_SIZE(features), position = 0, read = 0;
    Py_hash_t *hashes = PyMem_Malloc(sizeof(Py_hash_t) * (size ? size : 1));
    PyObject *key, *value;
    if (hashes == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    while (read < size && PyDict_Next(features, &position, &key, &value))
        hashes[read++] = PyObject_Hash(key);
    sort_hashes(hashes, read);
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < read; i++)
        if (!kept || hashes[kept - 1] != hashes[i])
            hashes[kept++] = hashes[i];
    *count = kept;
    return hashes;
}

static int holds_hash(const Py_hash_t *hashes, Py_ssize_t count, Py_hash_t hash)
{
    Py_ssize_t at = hash_bound(hashes, count, hash);
    return at < count && hashes[at] == hash;
}

/* Posts a story's row under every feature of `features` whose hash `besides` (count 0: none) lacks. */
static int post_new(Postings *self, int32_t row, PyObject *features, const Py_hash_t *besides, Py_ssize_t count)
{
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(features, &position, &key, &value)) {
        Py_hash_t hash = PyObject_Hash(key);
        if (!holds_hash(besides, count, hash) && post_row(self, key, hash, row))
            return -1;
    }
    return 0;
}

/* Takes a story's row off every feature hash of `hashes` that `besides` (count 0: none) lacks. */
static void unpost_gone(Postings *self, int32_t row, const Py_hash_t *hashes, Py_ssize_t count, const Py_hash_t *besides,
                        Py_ssize_t besides_count)
{
    for (Py_ssize_t i = 0; i < count; i++)
        if (!holds_hash(besides, besides_count, hashes[i]))
            unpost_row(self, hashes[i], row);
}

/* Room for one more row: none is free and every row is taken, so the arrays grow. */
static int make_room(Postings *self)
{
    if (self->free_count || self->rows < self->capacity)
        return 0;
    Py_ssize_t capacity = self->capacity ? 2 * self->capacity : 64;
    if (capacity > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "more live stories than rows");
        return -1;
    }
    Posted *stories = PyMem_Realloc(self->stories, sizeof(Posted) * (size_t)capacity);
    if (stories == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->stories = stories;
    int32_t *free = PyMem_Realloc(self->free, sizeof(int32_t) * (size_t)capacity);
    if (free == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->free = free;
    self->capacity = capacity;
    return 0;
}

static PyObject *postings_enter(Postings *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "enter(profile, story_id, features) -> row");
        return NULL;
    }
    Block block;  /* read first: reading a profile's attributes may run code, which may enter or leave stories, or
                   * change the features */
    if (open_block(args[0], &block))
        return NULL;
    Py_ssize_t count;
    Py_hash_t *hashes = NULL;
    if (!are_features(args[2]) || make_room(self) || (hashes = sorted_hashes(args[2], &count)) == NULL) {
        Py_DECREF(block.data);
        return NULL;
    }
    int32_t row = self->free_count ? self->free[--self->free_count] : (int32_t)self->rows++;
    self->stories[row] = (Posted){NULL, NULL, NULL, 0, NULL, 0};
    if (post_new(self, row, args[2], NULL, 0)) {
        unpost_gone(self, row, hashes, count, NULL, 0);
        self->free[self->free_count++] = row;
        PyMem_Free(hashes);
        Py_DECREF(block.data);
        return NULL;
    }
    Py_INCREF(args[0]);
    Py_INCREF(args[1]);
    self->stories[row] = (Posted){args[0], args[1], hashes, count, block.data, block.present};
    return PyLong_FromLong(row);
}

static PyObject *postings_move(Postings *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "move(row, features)");
        return NULL;
    }
    Posted *story = posted_at(self, args[0]);
    if (story == NULL)
        return NULL;
    /* The profile's block now (it changes as the profile is re-weighed), read first: reading a profile's attributes
     * may run code, which may move the rows or change the features. The profile is held until the row is done with,
     * as letting it go may run code too. */
    Block block;
    PyObject *profile = Py_NewRef(story->profile);
    if (open_block(profile, &block)) {
        Py_DECREF(profile);
        return NULL;
    }
    story = posted_at(self, args[0]);
    Py_hash_t *hashes = NULL;
    Py_ssize_t count;
    if (story != NULL && story->profile != profile)
        PyErr_SetString(PyExc_RuntimeError, "the row changed stories while its profile was read");
    else if (story != NULL && are_features(args[1]))
        hashes = sorted_hashes(args[1], &count);
    if (hashes == NULL) {
        Py_DECREF(block.data);
        Py_DECREF(profile);
        return NULL;
    }
    int32_t row = (int32_t)(story - self->stories);
    PyObject *old = story->data;
    story->data = block.data;
    story->present = block.present;
    unpost_gone(self, row, story->hashes, story->count, hashes, count);
    /* Out of memory half-way, it is posted under part of its new features while its record holds them all: it is
     * found under fewer until it leaves, or a feature it missed leaves its features and comes back. */
    int failed = post_new(self, row, args[1], story->hashes, story->count);
    PyMem_Free(story->hashes);
    story->hashes = hashes;
    story->count = count;
    Py_DECREF(old);  /* exact bytes (read_block): no code runs */
    Py_DECREF(profile);
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

/* Lets go of what a story's row held (the row already emptied): the profile last, as that may run Python code. */
static void release_story(Posted gone)
{
    PyMem_Free(gone.hashes);
    Py_DECREF(gone.data);
    Py_DECREF(gone.story_id);
    Py_DECREF(gone.profile);
}

static PyObject *postings_leave(Postings *self, PyObject *row_given)
{
    Posted *story = posted_at(self, row_given);
    if (story == NULL)
        return NULL;
    Posted gone = *story;
    int32_t row = (int32_t)(story - self->stories);
    unpost_gone(self, row, gone.hashes, gone.count, NULL, 0);
    *story = (Posted){NULL, NULL, NULL, 0, NULL, 0};
    self->free[self->free_count++] = row;
    release_story(gone);
    Py_RETURN_NONE;
}

/* The stories hit so far, in a table probed by their rows: a story found under several features is one hit, its
 * weights summed in reading order. At most `budget` stories can be hit (each posting read spends one), so the table
 * has twice that many slots or more and never fills. A hit is a Feature whose `hash` is the story's row; its key
 * (the story id) and `count` (the profile) are filled in only for the hits about to be ranked by id (`fill_hits`):
 * an article hits a few hundred stories, and with many live stories each row read is a read from memory. */
typedef struct {
    Py_ssize_t *slots;  /* hit + 1, or 0 for an empty slot */
    size_t mask;
    Feature *rows;
    Py_ssize_t count, capacity;
} Hits;

/* MurmurHash3's 64-bit finalizer, which datasketch's affine schemes apply to each shingle's hash before
 * permuting it (`minhash`); `found` spreads a story's row over the bits of its table of hits with it. */
static uint64_t mixed(uint64_t value)
{
    value ^= value >> 33;
    value *= 0xFF51AFD7ED558CCDULL;
    value ^= value >> 33;
    value *= 0xC4CEB9FE1A85EC53ULL;
    return value ^ (value >> 33);
}

static int hit(Hits *hits, int32_t row, double weight)
{
    if (hits->count == hits->capacity) {
        PyErr_SetString(PyExc_RuntimeError, "more postings read than the budget allows");
        return -1;
    }
    for (size_t slot = mixed((uint64_t)row) & hits->mask;; slot = (slot + 1) & hits->mask) {
        Py_ssize_t at = hits->slots[slot] - 1;
        if (at < 0) {
            hits->rows[hits->count] = (Feature){NULL, NULL, weight, row};
            hits->slots[slot] = ++hits->count;
            return 0;
        }
        if (hits->rows[at].hash == row) {
            hits->rows[at].weight += weight;
            return 0;
        }
    }
}

/* Fills in the story id and profile of the hits about to be ranked (borrowed from the postings' rows), which
 * must be str ids. */
static int fill_hits(Feature *rows, Py_ssize_t count, void *postings)
{
    const Posted *stories = ((const Postings *)postings)->stories;
    for (Py_ssize_t i = 0; i < count; i++) {
        rows[i].key = stories[rows[i].hash].story_id;
        rows[i].count = stories[rows[i].hash].profile;
        if (!PyUnicode_Check(rows[i].key)) {
            PyErr_SetString(PyExc_TypeError, "story ids are str");
            return -1;
        }
    }
    return 0;
}

/* What `found` and `best` are asked: (weighted, n, besides, budget, max_postings, ...). */
typedef struct {
    PyObject *weighted;
    Py_ssize_t n, besides, budget, max_postings;
} Asked;

static int read_asked(PyObject *const *args, Asked *asked)
{
    asked->weighted = args[0];
    asked->n = PyLong_AsSsize_t(args[1]);
    asked->besides = PyLong_AsSsize_t(args[2]);
    asked->budget = PyLong_AsSsize_t(args[3]);
    asked->max_postings = PyLong_AsSsize_t(args[4]);
    if (PyErr_Occurred())
        return -1;
    if (asked->budget < 0)
        asked->budget = 0;
    if (asked->budget > (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "a posting budget of at most 2**24");
        return -1;
    }
    if (!PyDict_Check(asked->weighted)) {
        PyErr_SetString(PyExc_TypeError, "weighted features are a dict (feature -> weight)");
        return -1;
    }
    return 0;
}

static void free_hits(Hits *hits)
{
    PyMem_Free(hits->slots);
    PyMem_Free(hits->rows);
}

/* The stories found (see StoryIndex._found): how many, their hits first in hits->rows, in rank order (or, not
 * `in_order`, in none) and each with its id and profile (borrowed from the postings) if in order; -1 with an error.
 * `hits` is for free_hits, whatever it returns. */
static Py_ssize_t rank_found(Postings *self, const Asked *asked, int in_order, Hits *hits)
{
    Py_ssize_t budget = asked->budget, count = PyDict_GET_SIZE(asked->weighted), position = 0, read = 0, n = -1;
    size_t slots = 16;
    while (slots < 2 * (size_t)budget + 1)
        slots *= 2;
    Feature *features = PyMem_Malloc(sizeof(Feature) * (count ? count : 1));
    *hits = (Hits){PyMem_Calloc(slots, sizeof(Py_ssize_t)), slots - 1, PyMem_Malloc(sizeof(Feature) * (budget ? budget : 1)), 0, budget};
    if (features == NULL || hits->slots == NULL || hits->rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *key, *weight;
    while (read < count && PyDict_Next(asked->weighted, &position, &key, &weight)) {
        if (!PyUnicode_CheckExact(key) || !PyFloat_Check(weight)) {  /* read with no Python code run */
            PyErr_SetString(PyExc_TypeError, "weighted features are str -> float");
            goto done;
        }
        if (!isfinite(PyFloat_AS_DOUBLE(weight))) {  /* summed, a story's weight would be no number to rank */
            PyErr_SetString(PyExc_ValueError, "a feature's weight is a finite number");
            goto done;
        }
        features[read++] = (Feature){key, NULL, PyFloat_AS_DOUBLE(weight)};
    }
    sort_reading(features, count);
    for (Py_ssize_t i = 0; i < count && budget; i++) {
        const Term *term = term_of(self, PyObject_Hash(features[i].key));
        if (term == NULL || term->count > (budget < asked->max_postings ? budget : asked->max_postings))
            continue;  /* no longer fits the budget: the rarer features after it still count */
        budget -= term->count;
        for (int32_t at = 0; at < term->count; at++)
            if (hit(hits, term->rows[at], features[i].weight))
                goto done;
    }
    for (Py_ssize_t row = 0; row < hits->count; row++)  /* a story is one hit at most */
        if (hits->rows[row].hash == asked->besides) {
            hits->rows[row] = hits->rows[--hits->count];
            break;
        }
    n = strongest_first(hits->rows, hits->count, asked->n, in_order, fill_hits, self);
    if (PyErr_Occurred())
        n = -1;
done:
    PyMem_Free(features);
    return n;
}

static PyObject *postings_found(Postings *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "found(weighted, n, besides, budget, max_postings)");
        return NULL;
    }
    Asked asked;
    if (read_asked(args, &asked))
        return NULL;
    Hits hits;
    Py_ssize_t n = rank_found(self, &asked, 1, &hits);
    PyObject *result = NULL;
    if (n >= 0) {
        for (Py_ssize_t i = 0; i < n; i++)  /* held before the list is made: making it may collect garbage */
            Py_INCREF(hits.rows[i].count);
        result = PyList_New(n);
        for (Py_ssize_t i = 0; i < n; i++)
            if (result != NULL)
                PyList_SET_ITEM(result, i, hits.rows[i].count);
            else
                Py_DECREF(hits.rows[i].count);
    }
    free_hits(&hits);
    return result;
}

/* The best of the stories found (as `found` finds them) for a query scored as cluster.scores scores it: the greatest
 * weighted cosine times pull, ties to the lesser story id, as (story id, score); (None, 0.0) if none is found or
 * none scores a number. In one pass, reading each candidate's block from its row, not its profile. */
static PyObject *postings_best(Postings *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError,
                        "best(weighted, n, besides, budget, max_postings, query, part_weights, days, half_life_days)");
        return NULL;
    }
    Asked asked;
    double part_weights[PARTS], half_life;
    if (read_asked(args, &asked) || read_half_life(args[8], &half_life) || read_part_weights(args[6], part_weights))
        return NULL;
    Py_ssize_t dates_count;
    double *dates = read_dates(args[7], &dates_count);
    if (dates == NULL)
        return NULL;
    Block query;
    if (open_block(args[5], &query)) {
        PyMem_Free(dates);
        return NULL;
    }
    /* No Python code runs from here on: the rows read stay as they are. The candidates' order is no matter (ties go
     * to the lesser id): they are not sorted, nor their ids read but where scores tie. */
    Hits hits;
    Py_ssize_t n = rank_found(self, &asked, 0, &hits);
    PyObject *best_id = Py_None;
    double best = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {  /* every candidate's block asked for before any is read */
        const PyObject *data = self->stories[hits.rows[i].hash].data;
        ask_for(data, 64);
        ask_for(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data) / 2);
    }
    Py_ssize_t query_columns = features_in(&query);
    for (Py_ssize_t i = 0; i < n; i++) {
        const Posted *story = &self->stories[hits.rows[i].hash];
        Block block = {.present = story->present};
        double cosine, score;
        if (read_block(story->data, &block) || weighted_cosine(&query, query_columns, &block, part_weights, &cosine)) {
            n = -1;
            break;
        }
        score = cosine * (dates_count ? pull(dates, dates_count, &block, half_life) : 1.0);
        if (isnan(score))  /* no number reaches a threshold (a story or an article dated NaN) */
            continue;
        int lesser = best_id != Py_None && score == best ? PyUnicode_Compare(story->story_id, best_id) : 0;
        if (lesser == -1 && PyErr_Occurred()) {
            n = -1;
            break;
        }
        if (best_id == Py_None || score > best || lesser < 0) {
            best = score;
            best_id = story->story_id;
        }
    }
    PyObject *result = NULL;
    if (n >= 0)  /* the winner held before the tuple is made: making it may collect garbage (see `found`) */
        result = Py_BuildValue("(Nd)", Py_NewRef(best_id), best);
    free_hits(&hits);
    PyMem_Free(dates);
    Py_DECREF(query.data);
    return result;
}

/* Every feature's stories, as {feature: {profile: story id}}. What the postings hold is taken, and held, before any
 * dict is made: making one may collect garbage and adding a profile runs its __hash__, and either may run Python
 * code that enters or leaves stories here, which reallocates what was being read. */
static PyObject *postings_features(Postings *self, PyObject *Py_UNUSED(ignored))
{
    size_t terms = 0, objects = 0;
    for (size_t i = 0; i <= self->mask; i++)
        if (self->terms[i].key != NULL) {
            terms++;
            objects += 1 + 2 * (size_t)self->terms[i].count;
        }
    PyObject **held = PyMem_Malloc(sizeof(PyObject *) * (objects ? objects : 1));
    int32_t *sizes = PyMem_Malloc(sizeof(int32_t) * (terms ? terms : 1));
    if (held == NULL || sizes == NULL) {
        PyMem_Free(held);
        PyMem_Free(sizes);
        return PyErr_NoMemory();
    }
    size_t at = 0, term_at = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        const Term *term = &self->terms[i];
        if (term->key == NULL)
            continue;
        sizes[term_at++] = term->count;
        held[at++] = Py_NewRef(term->key);
        for (int32_t r = 0; r < term->count; r++) {
            const Posted *story = &self->stories[term->rows[r]];
            held[at++] = Py_NewRef(story->profile);
            held[at++] = Py_NewRef(story->story_id);
        }
    }
    PyObject *result = PyDict_New();
    at = 0;
    for (size_t t = 0; result != NULL && t < terms; t++) {
        PyObject *key = held[at++], *stories = PyDict_New();
        for (int32_t r = 0; r < sizes[t]; r++, at += 2)
            if (stories != NULL && PyDict_SetItem(stories, held[at], held[at + 1]))
                Py_CLEAR(stories);
        if (stories == NULL || PyDict_SetItem(result, key, stories))
            Py_CLEAR(result);
        Py_XDECREF(stories);
    }
    for (size_t i = 0; i < objects; i++)
        Py_DECREF(held[i]);
    PyMem_Free(held);
    PyMem_Free(sizes);
    return result;
}

static Py_ssize_t postings_length(Postings *self)
{
    return self->used;
}

/* Lets go of every story and feature: the postings are emptied first, then the stories they held are released
 * (which may run Python code, and that code may use the postings). */
static int postings_clear(Postings *self)
{
    for (size_t i = 0; i <= self->mask; i++)
        if (self->terms[i].key != NULL) {
            PyMem_Free(self->terms[i].rows);
            Py_DECREF(self->terms[i].key);  /* a str: no code runs */
        }
    memset(self->terms, 0, sizeof(Term) * (self->mask + 1));
    self->used = 0;
    Posted *stories = self->stories;
    Py_ssize_t rows = self->rows;
    PyMem_Free(self->free);
    self->stories = NULL;
    self->free = NULL;
    self->rows = self->capacity = self->free_count = 0;
    for (Py_ssize_t row = 0; row < rows; row++)
        if (stories[row].profile != NULL)
            release_story(stories[row]);
    PyMem_Free(stories);
    return 0;
}

static int postings_traverse(Postings *self, visitproc visit, void *arg)
{
    for (Py_ssize_t row = 0; row < self->rows; row++)
        if (self->stories[row].profile != NULL)
            Py_VISIT(self->stories[row].profile);
    return 0;
}

static void postings_dealloc(Postings *self)
{
    PyObject_GC_UnTrack(self);
    postings_clear(self);
    PyMem_Free(self->terms);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *postings_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) || (kwargs != NULL && PyDict_GET_SIZE(kwargs))) {
        PyErr_SetString(PyExc_TypeError, "Postings() takes no arguments");
        return NULL;
    }
    Postings *self = (Postings *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->terms = PyMem_Calloc(MIN_TERMS, sizeof(Term));
    if (self->terms == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->mask = MIN_TERMS - 1;
    return (PyObject *)self;
}

static PyMethodDef postings_methods[] = {
    {"enter", (PyCFunction)(void (*)(void))postings_enter, METH_FASTCALL,
     "enter(profile, story_id, features) -> row: a live story, posted under the features (a dict of str keys; the "
     "row keeps their hashes, so the dict may change after)"},
    {"move", (PyCFunction)(void (*)(void))postings_move, METH_FASTCALL,
     "move(row, features): the story posted under these features instead (only the ones it gained or lost change), "
     "and scored by its profile's block as it is now"},
    {"leave", (PyCFunction)postings_leave, METH_O, "leave(row): the story taken off every feature; its row is free"},
    {"found", (PyCFunction)(void (*)(void))postings_found, METH_FASTCALL,
     "found(weighted, n, besides, budget, max_postings) -> profiles: see StoryIndex._found (besides: a row, or -1)"},
    {"best", (PyCFunction)(void (*)(void))postings_best, METH_FASTCALL,
     "best(weighted, n, besides, budget, max_postings, query, part_weights, days, half_life_days) -> (story id or "
     "None, score): see StoryIndex.decision"},
    {"features", (PyCFunction)postings_features, METH_NOARGS, "features() -> {feature: {profile: story id}}"},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods postings_mapping = {.mp_length = (lenfunc)postings_length};

static PyTypeObject PostingsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "streams.pipeline._kernels.Postings",
    .tp_doc = "Feature -> the live stories posted under it, by row; len() is the number of features.",
    .tp_basicsize = sizeof(Postings),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = postings_new,
    .tp_dealloc = (destructor)postings_dealloc,
    .tp_traverse = (traverseproc)postings_traverse,
    .tp_clear = (inquiry)postings_clear,
    .tp_methods = postings_methods,
    .tp_as_mapping = &postings_mapping,
};

/* The parts of a feature vector, in the order of packed.PARTS: body terms, entities, headline terms. A
 * feature key starts with its part's letter. */
static const char PART_LETTERS[PARTS] = {'t', 'e', 'h'};

static int part_of(PyObject *key)
{
    if (!PyUnicode_Check(key) || PyUnicode_GET_LENGTH(key) < 1) {
        PyErr_SetString(PyExc_TypeError, "a feature key is a non-empty str");
        return -1;
    }
    Py_UCS4 letter = PyUnicode_READ_CHAR(key, 0);
    for (int part = 0; part < PARTS; part++)
        if (letter == (Py_UCS4)PART_LETTERS[part])
            return part;
    PyErr_Format(PyExc_ValueError, "a feature key starts with its part's letter (t, e or h): %R", key);
    return -1;
}

/* One column of a packed block: a feature's stable hash (`feature_hash`) and its weight. */
typedef struct {
    int64_t hash;
    double weight;
} Column;

static int by_hash(const void *left, const void *right)
{
    int64_t a = ((const Column *)left)->hash, b = ((const Column *)right)->hash;
    return (a > b) - (a < b);
}

MERGE_SORT(sort_by_hash, Column, by_hash)

/* table[key], a new reference: read in place where the table holds it, else through its __missing__, which computes
 * it (english.ComputedTable). */
static PyObject *table_value(PyObject *table, PyObject *key)
{
    PyObject *value = PyDict_GetItemWithError(table, key);
    if (value != NULL)
        return Py_NewRef(value);
    return PyErr_Occurred() ? NULL : PyObject_GetItem(table, key);
}

/* A feature's numbers, as packed.FeatureNumbers keeps them: its IDF and its stable hash, 16 bytes read in place.
 * One lookup in a dict per feature: two cached functions (`functools.lru_cache`) were two calls, each moving an
 * entry of its list, and were a tenth of placing an article (perf). A feature not in it yet is computed by its
 * __missing__. */
static int numbers_of(PyObject *table, PyObject *key, double *idf, int64_t *hash)
{
    PyObject *numbers = table_value(table, key);
    if (numbers == NULL)
        return -1;
    int valid = PyBytes_Check(numbers) && PyBytes_GET_SIZE(numbers) == 16;
    if (valid) {
        memcpy(idf, PyBytes_AS_STRING(numbers), sizeof(double));
        memcpy(hash, PyBytes_AS_STRING(numbers) + sizeof(double), sizeof(int64_t));
    }
    else
        PyErr_SetString(PyExc_TypeError, "a feature's numbers are 16 bytes: its IDF (float64), its hash (int64)");
    Py_DECREF(numbers);
    return valid ? 0 : -1;
}

static int is_table(PyObject *table)
{
    if (PyDict_Check(table))
        return 1;
    PyErr_SetString(PyExc_TypeError, "a table of features' numbers is a dict (packed.FeatureNumbers)");
    return 0;
}

static int add_column(Column *columns, Py_ssize_t capacity, Py_ssize_t *count, int64_t hash, double weight)
{
    if (*count == capacity) {
        changed_size();
        return -1;
    }
    columns[(*count)++] = (Column){hash, weight};
    return 0;
}

/* The (2, n) block's bytes: the columns sorted by hash, then a column per day (DAY_HASH, the day) in the order
 * given; hashes first, then the weights' float64 bits. */
static PyObject *block_bytes(Column *columns, Py_ssize_t count, const double *days, Py_ssize_t days_count)
{
    sort_by_hash(columns, count);
    Py_ssize_t n = count + days_count;
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, 16 * n);
    if (bytes == NULL)
        return NULL;
    int64_t *out = (int64_t *)PyBytes_AS_STRING(bytes);
    for (Py_ssize_t i = 0; i < count; i++) {
        out[i] = columns[i].hash;
        memcpy(out + n + i, &columns[i].weight, sizeof(double));
    }
    for (Py_ssize_t i = 0; i < days_count; i++) {
        out[count + i] = DAY_HASH;
        memcpy(out + n + count + i, &days[i], sizeof(double));
    }
    return bytes;
}

static PyObject *pack(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "pack(parts: dict of part -> {key: weight}, numbers)");
        return NULL;
    }
    PyObject *parts = args[0], *numbers = args[1], *part_name, *vector;
    if (!is_table(numbers))
        return NULL;
    /* The parts and their dicts held: a weight's __float__, the table's __missing__ or a key's __hash__ runs Python
     * code, which may replace a part's dict or empty `parts`. */
    PyObject *items = PyDict_Items(parts);
    if (items == NULL)
        return NULL;
    Py_ssize_t total = 0, count = 0, parts_count = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < parts_count; i++) {
        vector = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (!PyDict_Check(vector)) {
            Py_DECREF(items);
            PyErr_SetString(PyExc_TypeError, "a part is a dict of key -> weight");
            return NULL;
        }
        total += PyDict_GET_SIZE(vector);
    }
    Column *columns = PyMem_Malloc(sizeof(Column) * (total ? total : 1));
    if (columns == NULL) {
        Py_DECREF(items);
        return PyErr_NoMemory();
    }
    long present = 0;
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < parts_count; i++) {
        part_name = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        vector = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        int part = part_of(part_name);
        if (part < 0)
            goto done;
        if (PyDict_GET_SIZE(vector))
            present |= 1L << part;
        PyObject *key, *weight;
        Py_ssize_t at = 0;
        while (PyDict_Next(vector, &at, &key, &weight)) {
            Py_INCREF(key);  /* held while a weight's __float__ and the table's __missing__ run Python code */
            double value = PyFloat_AsDouble(weight), idf;
            int64_t hash;
            int failed = (value == -1.0 && PyErr_Occurred()) || numbers_of(numbers, key, &idf, &hash)
                         || add_column(columns, total, &count, hash, value);
            Py_DECREF(key);
            if (failed)
                goto done;
        }
    }
    PyObject *bytes = block_bytes(columns, count, NULL, 0);
    if (bytes != NULL)
        result = Py_BuildValue("(Nl)", bytes, present);
done:
    PyMem_Free(columns);
    Py_DECREF(items);
    return result;
}

/* pack_parts(vector, numbers) -> (block bytes, present bits): an article's features, one unit vector per part,
 * packed as `scores` compares them (streams.pipeline.cluster.article_parts), in one call where Python split the
 * vector into parts, normalised each in a dict of its own, and handed those to `pack`. A part's norm is the square
 * root of its weights' squares added one by one in the vector's order, each weight divided by it, as `unit_vector`
 * did on Python 3.11; a part whose norm is 0 is left out. The columns are filed part by part, in the order the
 * parts first appear, then key by key, as `pack` got them. Keys are held from the moment they are read: a weight's
 * __float__ or the table's __missing__ runs Python code. */
typedef struct {
    PyObject *key;  /* held */
    double weight;
    int part;
} PartWeight;

static PyObject *pack_parts(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "pack_parts(vector: dict of key -> weight, numbers)");
        return NULL;
    }
    PyObject *vector = args[0], *numbers = args[1], *key, *weight, *result = NULL;
    if (!is_table(numbers))
        return NULL;
    Py_ssize_t total = PyDict_GET_SIZE(vector), read = 0, count = 0, position = 0;
    PartWeight *features = PyMem_Malloc(sizeof(PartWeight) * (total ? total : 1));
    Column *columns = PyMem_Malloc(sizeof(Column) * (total ? total : 1));
    if (features == NULL || columns == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double squares[PARTS] = {0.0};
    int order[PARTS], parts_seen = 0, seen[PARTS] = {0};
    while (PyDict_Next(vector, &position, &key, &weight)) {
        if (read == total) {
            changed_size();
            goto done;
        }
        int part = part_of(key);
        if (part < 0)
            goto done;
        features[read++] = (PartWeight){Py_NewRef(key), 0.0, part};
        Py_INCREF(weight);  /* its __float__ may remove it from the vector */
        double value = PyFloat_AsDouble(weight);
        Py_DECREF(weight);
        if (value == -1.0 && PyErr_Occurred())
            goto done;
        features[read - 1].weight = value;
        squares[part] += value * value;
        if (!seen[part]) {
            seen[part] = 1;
            order[parts_seen++] = part;
        }
    }
    if (read != total || PyDict_GET_SIZE(vector) != total) {  /* a weight's __float__ changed the vector */
        changed_size();
        goto done;
    }
    long present = 0;
    for (int at = 0; at < parts_seen; at++) {
        int part = order[at];
        double norm = sqrt(squares[part]);
        if (norm == 0.0)
            continue;
        present |= 1L << part;
        for (Py_ssize_t i = 0; i < read; i++) {
            double idf;
            int64_t hash;
            if (features[i].part != part)
                continue;
            if (numbers_of(numbers, features[i].key, &idf, &hash)
                || add_column(columns, total, &count, hash, features[i].weight / norm))
                goto done;
        }
    }
    PyObject *bytes = block_bytes(columns, count, NULL, 0);
    if (bytes != NULL)
        result = Py_BuildValue("(Nl)", bytes, present);
done:
    for (Py_ssize_t i = 0; i < read; i++)
        Py_DECREF(features[i].key);
    PyMem_Free(features);
    PyMem_Free(columns);
    return result;
}

/* Let go of the keys and counts `weigh` and `refresh` hold: each is held from the moment it is read, since reading
 * the next one may run Python code (a term's IDF, a table's __missing__) that removes it from the dict it was
 * borrowed from. */
static void release(Feature *features, Py_ssize_t count)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_DECREF(features[i].key);
        Py_DECREF(features[i].count);
    }
}

/* dict[key] = weight, a new float; -1 on failure. */
static int append_weight(PyObject *dict, PyObject *key, double weight)
{
    PyObject *value = PyFloat_FromDouble(weight);
    int failed = value == NULL || PyDict_SetItem(dict, key, value);
    Py_XDECREF(value);
    return failed ? -1 : 0;
}

/* weigh(key_prefix, counts, term_idf, most) -> {key_prefix + term: weight}, a unit vector: an article part's TF-IDF,
 * see streams.pipeline.features._weigh. Each term's weight is (1 + ln n) * term_idf(term) for its count n, the
 * norm the square root of the squares summed in the counts' order, as the Python it replaced computed them. With
 * `most` (not None) only the `most` strongest are kept (`keep_strongest`: largest first, ties to the greater key; at
 * most `most` as they are); their keys alone are made: an article's body has two or three times as many terms as it
 * keeps, and making every key, then ranking them all, took about a tenth of `features` more. */
static PyObject *weigh(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "weigh(key_prefix str, counts: dict of term -> count, term_idf, most)");
        return NULL;
    }
    PyObject *prefix = args[0], *counts = args[1], *term_idf = args[2], *term, *n, *result = NULL;
    Py_ssize_t most = args[3] == Py_None ? -1 : PyLong_AsSsize_t(args[3]);
    if (most == -1 && PyErr_Occurred())
        return NULL;
    if (most < 0 && args[3] != Py_None) {
        PyErr_SetString(PyExc_ValueError, "the terms to keep are a number from 0, or None for all");
        return NULL;
    }
    Py_ssize_t count = PyDict_GET_SIZE(counts), read = 0, position = 0;
    Feature *terms = PyMem_Malloc(sizeof(Feature) * (count ? count : 1));  /* each term held, with its count */
    double squares = 0.0;
    if (terms == NULL)
        return PyErr_NoMemory();
    while (PyDict_Next(counts, &position, &term, &n)) {
        if (read == count) {
            changed_size();
            goto done;
        }
        if (!PyUnicode_Check(term)) {
            PyErr_SetString(PyExc_TypeError, "a term is a str");
            goto done;
        }
        Py_ssize_t times = PyLong_AsSsize_t(n);
        if (times == -1 && PyErr_Occurred())
            goto done;
        if (times < 0) {
            PyErr_SetString(PyExc_ValueError, "a term's count is never negative");
            goto done;
        }
        terms[read] = (Feature){Py_NewRef(term), Py_NewRef(n), 0.0, 0};  /* the dict is read again after the call */
        PyObject *idf = PyObject_CallOneArg(term_idf, term);
        double term_weight = idf == NULL ? -1.0 : PyFloat_AsDouble(idf);
        Py_XDECREF(idf);
        read++;
        if (idf == NULL || PyErr_Occurred())
            goto done;
        terms[read - 1].weight = (times ? 1.0 + log((double)times) : 0.0) * term_weight;
        squares += terms[read - 1].weight * terms[read - 1].weight;
    }
    if (read != count || PyDict_GET_SIZE(counts) != count) {
        changed_size();
        goto done;
    }
    double norm = sqrt(squares);
    if ((result = PyDict_New()) == NULL || norm == 0.0)  /* a part of no weight is absent */
        goto done;
    for (Py_ssize_t i = 0; i < read; i++)
        terms[i].weight /= norm;
    /* The terms, not their keys, ranked: two keys of one prefix compare as their terms do. */
    Py_ssize_t kept = most < 0 ? read : keep_strongest(terms, read, most);
    for (Py_ssize_t i = 0; i < kept && result != NULL; i++) {
        PyObject *key = PyErr_Occurred() ? NULL : PyUnicode_Concat(prefix, terms[i].key);
        if (key == NULL || append_weight(result, key, terms[i].weight))
            Py_CLEAR(result);
        Py_XDECREF(key);
    }
done:
    release(terms, read);
    PyMem_Free(terms);
    return result;
}

/* rounded(vector, digits) -> {key: round(weight, digits)}: as Python's round does it, the decimal of `digits`
 * places correctly rounded by David Gay's dtoa, read back; without a method call per weight. */
static PyObject *rounded(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "rounded(vector: dict of key -> weight, digits)");
        return NULL;
    }
    long digits = PyLong_AsLong(args[1]);
    if (digits == -1 && PyErr_Occurred())
        return NULL;
    if (digits < 0 || digits > 300) {  /* past 300 places every weight is itself */
        PyErr_SetString(PyExc_ValueError, "rounded to 0 to 300 digits after the point");
        return NULL;
    }
    PyObject *result = PyDict_New(), *key, *weight;
    Py_ssize_t position = 0;
    while (result != NULL && PyDict_Next(args[0], &position, &key, &weight)) {
        if (!PyFloat_Check(weight)) {  /* read as it is: no Python code runs while the dict is walked */
            PyErr_SetString(PyExc_TypeError, "a weight is a float");
            Py_CLEAR(result);
            break;
        }
        char *text = PyOS_double_to_string(PyFloat_AS_DOUBLE(weight), 'f', (int)digits, 0, NULL);
        double read = text == NULL ? -1.0 : PyOS_string_to_double(text, NULL, NULL);
        PyMem_Free(text);
        if (text == NULL || (read == -1.0 && PyErr_Occurred()) || append_weight(result, key, read))
            Py_CLEAR(result);
    }
    return result;
}

static PyObject *refresh(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "refresh(counts: dict, numbers, per_part, posting, days)");
        return NULL;
    }
    PyObject *counts = args[0], *numbers = args[1];
    Py_ssize_t per_part = PyLong_AsSsize_t(args[2]), posting = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred() || !is_table(numbers))
        return NULL;
    PyObject *given_days = PySequence_Tuple(args[4]);  /* held: reading a day may run Python code (__float__) */
    if (given_days == NULL)
        return NULL;
    Py_ssize_t total = PyDict_GET_SIZE(counts), days_count = PyTuple_GET_SIZE(given_days);
    Feature *features = PyMem_Malloc(sizeof(Feature) * (total ? total : 1) * 2);
    Column *columns = PyMem_Malloc(sizeof(Column) * (total ? total : 1));
    double *days = PyMem_Malloc(sizeof(double) * (days_count ? days_count : 1));
    PyObject *kept = PyDict_New(), *salient = PyDict_New(), *result = NULL;
    Py_ssize_t read = 0;  /* features read into `scratch`, each held */
    Feature *scratch = features != NULL ? features + total : NULL;  /* read into, then split by part */
    if (features == NULL || columns == NULL || days == NULL || kept == NULL || salient == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < days_count; i++) {
        days[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(given_days, i));
        if (days[i] == -1.0 && PyErr_Occurred())
            goto done;
    }
    /* Each part's features in the counts' order, parts in the order they first appear (as by_part groups them). */
    Feature *by_part[PARTS];
    Py_ssize_t sizes[PARTS] = {0, 0, 0}, seen = 0, position = 0, column_count = 0;
    int order[PARTS];  /* the parts, in the order they first appear */
    PyObject *key, *count;
    while (PyDict_Next(counts, &position, &key, &count)) {
        if (read == total) {  /* computing a feature's numbers changed the counts */
            changed_size();
            break;
        }
        int part = part_of(key);
        if (part < 0)
            break;
        double n = PyLong_AsDouble(count);
        if (n == -1.0 && PyErr_Occurred())
            break;
        if (!(n >= 1)) {
            PyErr_Format(PyExc_ValueError, "a feature is counted at least once: %R", key);
            break;
        }
        double idf;
        int64_t hash;
        scratch[read++] = (Feature){Py_NewRef(key), Py_NewRef(count), 0.0, 0};
        if (numbers_of(numbers, key, &idf, &hash))
            break;
        scratch[read - 1].weight = (1 + log(n)) * idf;
        scratch[read - 1].hash = hash;
        if (sizes[part]++ == 0)
            order[seen++] = part;
    }
    if (!PyErr_Occurred() && (read != total || PyDict_GET_SIZE(counts) != total))
        changed_size();
    if (PyErr_Occurred())
        goto done;
    Py_ssize_t start = 0;
    for (int part = 0; part < PARTS; part++) {
        by_part[part] = features + start;
        start += sizes[part];
        sizes[part] = 0;
    }
    for (Py_ssize_t i = 0; i < total; i++) {
        int part = part_of(scratch[i].key);  /* a valid key: checked as it was read */
        by_part[part][sizes[part]++] = scratch[i];
    }
    long present = 0;
    for (Py_ssize_t rank = 0; rank < seen; rank++) {
        int part = order[rank];
        Feature *members = by_part[part];
        Py_ssize_t kept_count = keep_strongest(members, sizes[part], per_part);
        if (PyErr_Occurred())
            goto done;
        double squares = 0.0;
        for (Py_ssize_t i = 0; i < kept_count; i++) {
            if (PyDict_SetItem(kept, members[i].key, members[i].count))
                goto done;
            squares += members[i].weight * members[i].weight;
        }
        double norm = sqrt(squares);
        if (!norm)
            continue;  /* unit_vector of nothing: the part is absent */
        present |= 1L << part;
        for (Py_ssize_t i = 0; i < kept_count; i++) {
            members[i].weight /= norm;
            if (add_column(columns, total, &column_count, members[i].hash, members[i].weight))
                goto done;
        }
        Py_ssize_t found_under = keep_strongest(members, kept_count, posting);
        if (PyErr_Occurred())
            goto done;
        for (Py_ssize_t i = 0; i < found_under; i++)
            if (append_weight(salient, members[i].key, members[i].weight))
                goto done;
    }
    PyObject *bytes = block_bytes(columns, column_count, days, days_count);
    if (bytes != NULL)
        result = Py_BuildValue("(ONlO)", kept, bytes, present, salient);
done:
    if (features != NULL)
        release(scratch, read);
    Py_DECREF(given_days);
    PyMem_Free(days);
    PyMem_Free(features);
    PyMem_Free(columns);
    Py_XDECREF(kept);
    Py_XDECREF(salient);
    return result;
}

/* SHA-1 (FIPS 180-4) of one message: only its first 8 bytes are used, as datasketch's sha1_hash64 uses them. A block
 * goes through the CPU's SHA instructions where it has them (`sha1_block_instructions`), else through the portable
 * rounds (`sha1_block_portable`): the same digest either way. */
static uint32_t rotl(uint32_t value, int bits)
{
    return (value << bits) | (value >> (32 - bits));
}

static void sha1_block_portable(uint32_t state[5], const unsigned char *block)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8
               | (uint32_t)block[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
    /* The four rounds of twenty, each its own loop, where one loop tested which round it was in: this runs for every
     * shingle of every article, and the MinHash of the five seeds took 13.05 M instructions that way, 11.18 M so. */
#define SHA1_STEP(f, k)                                         \
    do {                                                        \
        uint32_t next = rotl(a, 5) + (f) + e + (k) + w[i];      \
        e = d, d = c, c = rotl(b, 30), b = a, a = next;         \
    } while (0)
    int i = 0;
    for (; i < 20; i++)
        SHA1_STEP((b & c) | (~b & d), 0x5A827999);
    for (; i < 40; i++)
        SHA1_STEP(b ^ c ^ d, 0x6ED9EBA1);
    for (; i < 60; i++)
        SHA1_STEP((b & c) | (b & d) | (c & d), 0x8F1BBCDC);
    for (; i < 80; i++)
        SHA1_STEP(b ^ c ^ d, 0xCA62C1D6);
#undef SHA1_STEP
    state[0] += a, state[1] += b, state[2] += c, state[3] += d, state[4] += e;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

/* Four rounds of group g (0-19) with round function f (g / 5), the message words of groups g - 4 to g - 1 in
 * w[g % 4], w[(g + 1) % 4], ...: from group 4 on, w[g % 4] becomes group g's words, by the schedule
 * w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1) four words at a time (sha1msg1, a xor, sha1msg2). */
#define SHA1_GROUP(g, f)                                                                                          \
    do {                                                                                                          \
        if ((g) >= 4)                                                                                             \
            w[(g) % 4] = _mm_sha1msg2_epu32(                                                                      \
                _mm_xor_si128(_mm_sha1msg1_epu32(w[(g) % 4], w[((g) + 1) % 4]), w[((g) + 2) % 4]), w[((g) + 3) % 4]); \
        e = (g) == 0 ? _mm_add_epi32(e, w[0]) : _mm_sha1nexte_epu32(previous, w[(g) % 4]);                      \
        previous = abcd;                                                                                          \
        abcd = _mm_sha1rnds4_epu32(abcd, e, f);                                                                   \
    } while (0)

/* One block through the SHA instructions (sha1rnds4 runs four rounds, sha1nexte derives the next e): a shingle's
 * SHA-1 in about a quarter of the portable rounds' time, and the MinHash's SHA-1s were 6 % of preparing an article. */
__attribute__((target("sha,ssse3,sse4.1"))) static void sha1_block_instructions(uint32_t state[5],
                                                                                const unsigned char *block)
{
    const __m128i big_endian = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0x1B);  /* a in the highest lane */
    __m128i e = _mm_set_epi32((int)state[4], 0, 0, 0), previous = abcd;
    const __m128i abcd_before = abcd, e_before = e;
    __m128i w[4];
    for (int i = 0; i < 4; i++)
        w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), big_endian);
    SHA1_GROUP(0, 0); SHA1_GROUP(1, 0); SHA1_GROUP(2, 0); SHA1_GROUP(3, 0); SHA1_GROUP(4, 0);
    SHA1_GROUP(5, 1); SHA1_GROUP(6, 1); SHA1_GROUP(7, 1); SHA1_GROUP(8, 1); SHA1_GROUP(9, 1);
    SHA1_GROUP(10, 2); SHA1_GROUP(11, 2); SHA1_GROUP(12, 2); SHA1_GROUP(13, 2); SHA1_GROUP(14, 2);
    SHA1_GROUP(15, 3); SHA1_GROUP(16, 3); SHA1_GROUP(17, 3); SHA1_GROUP(18, 3); SHA1_GROUP(19, 3);
    e = _mm_sha1nexte_epu32(previous, e_before);
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi32(_mm_add_epi32(abcd, abcd_before), 0x1B));
    state[4] = (uint32_t)_mm_extract_epi32(e, 3);
}
#undef SHA1_GROUP

/* Whether this CPU has the SHA extensions and the SSSE3 and SSE4.1 shuffles and extracts used with them. */
static int has_sha_instructions(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_SSSE3) || !(ecx & bit_SSE4_1))
        return 0;
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & bit_SHA);
}
#else
static void sha1_block_instructions(uint32_t state[5], const unsigned char *block) { sha1_block_portable(state, block); }
static int has_sha_instructions(void) { return 0; }
#endif

typedef void (*Sha1Block)(uint32_t state[5], const unsigned char *block);
static Sha1Block sha1_block = sha1_block_portable;  /* sha1_block_instructions from import where the CPU has them */

/* The first 8 bytes of the SHA-1 of `length` bytes, read little-endian. */
static uint64_t sha1_hash64(Sha1Block block_of, const unsigned char *message, Py_ssize_t length)
{
    uint32_t state[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    Py_ssize_t done = 0;
    for (; length - done >= 64; done += 64)
        block_of(state, message + done);
    unsigned char tail[128] = {0};
    Py_ssize_t rest = length - done, padded = rest < 56 ? 64 : 128;
    memcpy(tail, message + done, rest);
    tail[rest] = 0x80;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++)
        tail[padded - 1 - i] = (unsigned char)(bits >> (8 * i));
    block_of(state, tail);
    if (padded == 128)
        block_of(state, tail + 64);
    unsigned char digest[8];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            digest[4 * i + j] = (unsigned char)(state[i] >> (24 - 8 * j));
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = value << 8 | digest[i];
    return value;
}

/* minhash(joined, size, a, b) -> signature bytes: per permutation (a[i] * h + b[i], mod 2**64), the least
 * permuted hash of the text's shingles, each `size` words of `joined` (words joined by single spaces; a text of
 * fewer words is one shingle), hashed as above and mixed. */
static PyObject *minhash(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "minhash(joined bytes, size, a, b)");
        return NULL;
    }
    Py_ssize_t size = PyLong_AsSsize_t(args[1]);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    if (size < 1) {
        PyErr_SetString(PyExc_ValueError, "a shingle has one word or more");
        return NULL;
    }
    Py_buffer a, b;
    if (PyObject_GetBuffer(args[2], &a, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT))
        return NULL;
    if (PyObject_GetBuffer(args[3], &b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)) {
        PyBuffer_Release(&a);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t *starts = NULL;
    if (!holds(&a, "LQ") || !holds(&b, "LQ") || a.len != b.len || a.len == 0) {
        PyErr_SetString(PyExc_ValueError, "a and b are uint64 arrays of one length");
        goto done;
    }
    Py_ssize_t permutations = a.len / 8;
    const uint64_t *multipliers = a.buf, *offsets = b.buf;
    const unsigned char *text = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t length = PyBytes_GET_SIZE(args[0]), words = 1;
    for (Py_ssize_t i = 0; i < length; i++)
        words += text[i] == ' ';
    /* Word i runs from starts[i] to starts[i + 1] - 1 (the space after it, or the end). */
    starts = PyMem_Malloc(sizeof(Py_ssize_t) * (words + 1));
    result = PyBytes_FromStringAndSize(NULL, permutations * 8);
    if (starts == NULL || result == NULL) {
        if (starts == NULL)
            PyErr_NoMemory();
        Py_CLEAR(result);
        goto done;
    }
    starts[0] = 0;
    for (Py_ssize_t i = 0, word = 1; i < length; i++)
        if (text[i] == ' ')
            starts[word++] = i + 1;
    starts[words] = length + 1;
    uint64_t *least = (uint64_t *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < permutations; i++)
        least[i] = UINT64_MAX;
    int whole = words - 1 < size;  /* fewer spaces than a shingle has words: the text is one shingle */
    Py_ssize_t shingles = whole ? 1 : words - size + 1;
    for (Py_ssize_t i = 0; i < shingles; i++) {
        Py_ssize_t end = whole ? length : starts[i + size] - 1;
        uint64_t hash = mixed(sha1_hash64(sha1_block, text + starts[i], end - starts[i]));
        for (Py_ssize_t j = 0; j < permutations; j++) {
            uint64_t permuted = multipliers[j] * hash + offsets[j];
            if (permuted < least[j])
                least[j] = permuted;
        }
    }
done:
    PyMem_Free(starts);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return result;
}

/* sha1_hash64(message, portable) -> int: the first 8 bytes of the message's SHA-1, little-endian, as the MinHash
 * reads each shingle's; through the portable rounds when `portable` is true, else as `minhash` runs here (the SHA
 * instructions where the CPU has them). Both are checked against hashlib. */
static PyObject *sha1_hash64_of(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "sha1_hash64(message bytes, portable)");
        return NULL;
    }
    int portable = PyObject_IsTrue(args[1]);
    if (portable < 0)
        return NULL;
    const unsigned char *message = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    return PyLong_FromUnsignedLongLong(
        sha1_hash64(portable ? sha1_block_portable : sha1_block, message, PyBytes_GET_SIZE(args[0])));
}

/* The classes below for ASCII characters, read from a table: Py_UNICODE_ISALNUM is four lookups in Unicode's
 * tables for a character that is not a letter (a space, a stop), and the scanners ask on every character. The table
 * is filled at import from the same macros (`fill_ascii_classes`), so it cannot disagree with them. */
enum { ASCII_ALNUM = 1, ASCII_DECIMAL = 2 };
static unsigned char ASCII_CLASSES[128];

static void fill_ascii_classes(void)
{
    for (Py_UCS4 c = 0; c < 128; c++)
        ASCII_CLASSES[c] = (Py_UNICODE_ISALNUM(c) ? ASCII_ALNUM : 0) | (Py_UNICODE_ISDECIMAL(c) ? ASCII_DECIMAL : 0);
}

static inline int is_alnum(Py_UCS4 c) { return c < 128 ? ASCII_CLASSES[c] & ASCII_ALNUM : Py_UNICODE_ISALNUM(c); }  /* [^\W_] */
static inline int is_decimal(Py_UCS4 c) { return c < 128 ? ASCII_CLASSES[c] & ASCII_DECIMAL : Py_UNICODE_ISDECIMAL(c); }

/* Python's regex engine's classes of characters, which the scanners below share: \w is Py_UNICODE_ISALNUM or "_",
 * \d Py_UNICODE_ISDECIMAL, \s Py_UNICODE_ISSPACE, [A-Z] ASCII capitals.
 * `token_end` finds the tokens of text[start:end] as the regex TOKEN_RE of tests/streams/pipeline/test_kernels.py
 * finds them (its finditer). Every quantifier of the pattern is possessive or cannot give back (nothing follows it in its
 * group), so each alternative takes the longest run it can, in one pass; the first that matches wins. */
static inline int is_word(Py_UCS4 c) { return is_alnum(c) || c == '_'; }
static inline int is_letter(Py_UCS4 c) { return is_alnum(c) && !is_decimal(c); }  /* [^\W\d_] */

/* (?:-[^\W\d_]\w*+)*+ from i: a hyphenated tail ("-Chinese", "-nation"); where it ends. */
static Py_ssize_t hyphen_words(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    while (i + 1 < end && PyUnicode_READ(kind, data, i) == '-' && is_letter(PyUnicode_READ(kind, data, i + 1))) {
        i += 2;
        while (i < end && is_word(PyUnicode_READ(kind, data, i)))
            i++;
    }
    return i;
}

/* Where the token starting at i ends, or i when none starts there. */
static Py_ssize_t token_end(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    Py_ssize_t j = i;
    /* (?:[A-Z]\.){2,}+ then hyphenated words: U.S., U.S.-Chinese */
    while (j + 1 < end && PyUnicode_READ(kind, data, j) >= 'A' && PyUnicode_READ(kind, data, j) <= 'Z'
           && PyUnicode_READ(kind, data, j + 1) == '.')
        j += 2;
    if (j - i >= 4)
        return hyphen_words(kind, data, j, end);
    if (is_decimal(c)) {  /* \d++(?:,\d{3})*+(?:\.\d+)?+ then hyphenated words: 100,000  2.5  57-nation */
        j = i + 1;
        while (j < end && is_decimal(PyUnicode_READ(kind, data, j)))
            j++;
        while (j + 3 < end && PyUnicode_READ(kind, data, j) == ',' && is_decimal(PyUnicode_READ(kind, data, j + 1))
               && is_decimal(PyUnicode_READ(kind, data, j + 2)) && is_decimal(PyUnicode_READ(kind, data, j + 3)))
            j += 4;
        if (j + 1 < end && PyUnicode_READ(kind, data, j) == '.' && is_decimal(PyUnicode_READ(kind, data, j + 1))) {
            j += 2;
            while (j < end && is_decimal(PyUnicode_READ(kind, data, j)))
                j++;
        }
        return hyphen_words(kind, data, j, end);
    }
    if (is_letter(c)) {  /* [^\W\d_]\w*+(?:[-'’]\w++)*+: words, hyphenated words, O'Brien, Norway's */
        j = i + 1;
        for (;;) {
            while (j < end && is_word(PyUnicode_READ(kind, data, j)))
                j++;
            if (j + 1 < end && is_word(PyUnicode_READ(kind, data, j + 1))) {
                Py_UCS4 joint = PyUnicode_READ(kind, data, j);
                if (joint == '-' || joint == '\'' || joint == 0x2019) {
                    j += 2;
                    continue;
                }
            }
            return j;
        }
    }
    if (!is_word(c) && !Py_UNICODE_ISSPACE(c))  /* [^\w\s]: one punctuation character */
        return i + 1;
    return i;  /* a space, or "_" */
}

/* Appends an item to a list, and drops the caller's reference to it; -1 on failure. */
static int append_new(PyObject *list, PyObject *item)
{
    if (item == NULL)
        return -1;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

/* The words of a text as four regexes find them (their findall), scanned in one pass each: the regex engine tested
 * each character against a class of Unicode categories, and these ran on every paragraph, sentence and article.
 * Each function says where the match starting at i ends, or i when none starts there; the regexes are in
 * tests/streams/pipeline/test_kernels.py, which checks them against these. */
typedef Py_ssize_t (*MatchEnd)(int kind, const void *data, Py_ssize_t i, Py_ssize_t end);

/* [^\W\d_]+(?:['’][^\W\d_]+)*: words of letters, inner apostrophes kept ("don't", "Norway’s") */
static Py_ssize_t letter_word_end(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    if (!is_letter(PyUnicode_READ(kind, data, i)))
        return i;
    Py_ssize_t j = i + 1;
    for (;;) {
        while (j < end && is_letter(PyUnicode_READ(kind, data, j)))
            j++;
        if (j + 1 < end && is_letter(PyUnicode_READ(kind, data, j + 1))) {
            Py_UCS4 joint = PyUnicode_READ(kind, data, j);
            if (joint == '\'' || joint == 0x2019) {
                j += 2;
                continue;
            }
        }
        return j;
    }
}

/* \w+|[^\w\s]: runs of word characters and single symbols */
static Py_ssize_t word_or_symbol_end(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    if (!is_word(c))
        return Py_UNICODE_ISSPACE(c) ? i : i + 1;
    Py_ssize_t j = i + 1;
    while (j < end && is_word(PyUnicode_READ(kind, data, j)))
        j++;
    return j;
}

/* [^\W_]+: runs of letters and digits */
static Py_ssize_t alnum_run_end(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    Py_ssize_t j = i;
    while (j < end && is_alnum(PyUnicode_READ(kind, data, j)))
        j++;
    return j;
}

/* [^\W\d_][\w'’-]*[^\W_]|[^\W\d_]: a letter, then word characters, apostrophes and hyphens up to the last letter or
 * digit among them (the regex backs off to it), or the letter alone */
static Py_ssize_t term_token_end(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    if (!is_letter(PyUnicode_READ(kind, data, i)))
        return i;
    Py_ssize_t last = i + 1;
    for (Py_ssize_t j = i + 1; j < end; j++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, j);
        if (is_alnum(c))
            last = j + 1;
        else if (!(c == '_' || c == '\'' || c == 0x2019 || c == '-'))
            break;
    }
    return last;
}

/* A call of `least` to `most_args` arguments whose first `strs` are str, made ready to be read; 0, or -1 with an
 * error set (`usage`). */
static int str_args(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t least, Py_ssize_t most_args, Py_ssize_t strs,
                    const char *usage)
{
    int fits = nargs >= least && nargs <= most_args;
    for (Py_ssize_t k = 0; fits && k < strs; k++)
        fits = PyUnicode_Check(args[k]);
    if (!fits) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    for (Py_ssize_t k = 0; k < strs; k++)
        if (PyUnicode_READY(args[k]) == -1)
            return -1;
#endif
    return 0;
}

/* Appends to `found` the matches of `match_end` in text[i:end], left to right, until `found` holds `most` of them
 * (never, when `most` < 0) or, when `stop` is given, up to where a match of `stop` starts; returns where it stopped,
 * or -1 with an error set. */
static Py_ssize_t append_matches(PyObject *found, PyObject *text, int kind, const void *data, Py_ssize_t i,
                                 Py_ssize_t end, MatchEnd match_end, MatchEnd stop, Py_ssize_t most)
{
    while (i < end && PyList_GET_SIZE(found) != most) {
        if (stop != NULL && stop(kind, data, i, end) > i)
            return i;
        Py_ssize_t j = match_end(kind, data, i, end);
        if (j == i) {
            i++;
            continue;
        }
        if (append_new(found, PyUnicode_Substring(text, i, j)))
            return -1;
        i = j;
    }
    return i;
}

/* The matches of one of the above in text, left to right, at most `most` of them (all when `most` < 0). */
static PyObject *matches(PyObject *const *args, Py_ssize_t nargs, MatchEnd match_end, const char *usage)
{
    if (str_args(args, nargs, 1, 2, 1, usage))
        return NULL;
    Py_ssize_t most = nargs == 2 ? PyLong_AsSsize_t(args[1]) : -1;
    if (most == -1 && PyErr_Occurred())
        return NULL;
    PyObject *text = args[0];
    PyObject *found = PyList_New(0);
    if (found == NULL)
        return NULL;
    if (append_matches(found, text, PyUnicode_KIND(text), PyUnicode_DATA(text), 0, PyUnicode_GET_LENGTH(text),
                       match_end, NULL, most) < 0) {
        Py_DECREF(found);
        return NULL;
    }
    return found;
}

static PyObject *letter_words(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    return matches(args, nargs, letter_word_end, "letter_words(text str, most=-1)");
}

static PyObject *word_tokens(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    return matches(args, nargs, word_or_symbol_end, "word_tokens(text str, most=-1)");
}

static PyObject *alnum_words(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    return matches(args, nargs, alnum_run_end, "alnum_words(text str, most=-1)");
}

static PyObject *term_tokens(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    return matches(args, nargs, term_token_end, "term_tokens(text str, most=-1)");
}

/* Where a sentence end starting at i ends, or i when none starts there: [.!?]['"”’]?\s+, as
 * streams.pipeline.features.sentence_tokens splits a text. */
static Py_ssize_t sentence_end(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    if (c != '.' && c != '!' && c != '?')
        return i;
    Py_ssize_t j = i + 1;
    if (j + 1 < end && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j + 1))) {
        Py_UCS4 quote = PyUnicode_READ(kind, data, j);
        if (quote == '\'' || quote == '"' || quote == 0x201D || quote == 0x2019)
            j++;
    }
    if (j >= end || !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j)))
        return i;
    while (j < end && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j)))
        j++;
    return j;
}

/* The term tokens of each sentence of text: [term_tokens(s) for s in re.split(r"[.!?]['"”’]?\s+", text)], in one
 * pass (a sentence end never falls inside a term token: see streams.pipeline.features.sentence_tokens). */
static PyObject *sentence_terms(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (str_args(args, nargs, 1, 1, 1, "sentence_terms(text str)"))
        return NULL;
    PyObject *text = args[0];
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t end = PyUnicode_GET_LENGTH(text);
    PyObject *sentences = PyList_New(0);
    if (sentences == NULL)
        return NULL;
    for (Py_ssize_t i = 0;;) {
        PyObject *current = PyList_New(0);
        if (current == NULL || PyList_Append(sentences, current)) {
            Py_XDECREF(current);
            Py_DECREF(sentences);
            return NULL;
        }
        Py_DECREF(current);  /* held by `sentences` */
        i = append_matches(current, text, kind, data, i, end, term_token_end, sentence_end, -1);
        if (i < 0) {
            Py_DECREF(sentences);
            return NULL;
        }
        if (i >= end)
            return sentences;
        i = sentence_end(kind, data, i, end);
    }
}

/* A set of characters given as a str: a table of those below 256, and the str itself for the others (few). */
typedef struct {
    unsigned char latin1[256];
    int kind;
    const void *data;
    Py_ssize_t length, wide;
} CharSet;

static void char_set(CharSet *set, PyObject *chars)
{
    memset(set->latin1, 0, sizeof set->latin1);
    set->kind = PyUnicode_KIND(chars);
    set->data = PyUnicode_DATA(chars);
    set->length = PyUnicode_GET_LENGTH(chars);
    set->wide = 0;
    for (Py_ssize_t k = 0; k < set->length; k++) {
        Py_UCS4 c = PyUnicode_READ(set->kind, set->data, k);
        if (c < 256)
            set->latin1[c] = 1;
        else
            set->wide++;
    }
}

static inline int in_char_set(const CharSet *set, Py_UCS4 c)
{
    if (c < 256)
        return set->latin1[c];
    for (Py_ssize_t k = 0; set->wide && k < set->length; k++)
        if (PyUnicode_READ(set->kind, set->data, k) == c)
            return 1;
    return 0;
}

/* How many characters of text are among those of chars, counting up to `most` (all when `most` < 0): a regex of one
 * character class scanned a whole text testing each character against the class in a generic loop, and cleaning
 * and decoding ran several such scans on every article only to learn that the text had none. */
static PyObject *count_chars(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (str_args(args, nargs, 2, 3, 2, "count_chars(text str, chars str, most=-1)"))
        return NULL;
    Py_ssize_t most = nargs == 3 ? PyLong_AsSsize_t(args[2]) : -1;
    if (most == -1 && PyErr_Occurred())
        return NULL;
    CharSet set;
    char_set(&set, args[1]);
    int kind = PyUnicode_KIND(args[0]);
    const void *data = PyUnicode_DATA(args[0]);
    Py_ssize_t length = PyUnicode_GET_LENGTH(args[0]), count = 0;
    for (Py_ssize_t i = 0; i < length && count != most; i++)
        count += in_char_set(&set, PyUnicode_READ(kind, data, i));
    return PyLong_FromSsize_t(count);
}

/* Where the words that open with one of chars, or with a decimal digit when `digits` is true, start: each i where
 * text[i] is one and text[i - 1], if any, is not a word character; what the regex [<chars>\d](?<!\w.) finds. Finding
 * where a date can start (streams.pipeline.clean.dates) scanned every article that way, a class test per character. */
static PyObject *word_starts(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (str_args(args, nargs, 3, 3, 2, "word_starts(text str, chars str, digits bool)"))
        return NULL;
    int digits = PyObject_IsTrue(args[2]);
    if (digits < 0)
        return NULL;
    CharSet set;
    char_set(&set, args[1]);
    int kind = PyUnicode_KIND(args[0]);
    const void *data = PyUnicode_DATA(args[0]);
    Py_ssize_t length = PyUnicode_GET_LENGTH(args[0]);
    PyObject *found = PyList_New(0);
    if (found == NULL)
        return NULL;
    int after_word = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!after_word && (in_char_set(&set, c) || (digits && is_decimal(c)))
            && append_new(found, PyLong_FromSsize_t(i))) {
            Py_DECREF(found);
            return NULL;
        }
        after_word = is_word(c);
    }
    return found;
}

/* A token of fact extraction (streams.pipeline.facts.document.Tok): made here, where a Python object per token
 * (a dataclass's __init__) cost more than finding the tokens. Read-only: every pass reads the same tokens. */
typedef struct {
    PyObject_HEAD
    PyObject *text;  /* surface form, possessive 's removed; an abbreviation with its period ("Mr.") */
    PyObject *low;
    Py_ssize_t start, end, sent;
    char initial, poss;
} Token;

static PyMemberDef token_members[] = {
    {"text", T_OBJECT_EX, offsetof(Token, text), READONLY, "surface form, possessive 's removed"},
    {"start", T_PYSSIZET, offsetof(Token, start), READONLY, NULL},
    {"end", T_PYSSIZET, offsetof(Token, end), READONLY, NULL},
    {"low", T_OBJECT_EX, offsetof(Token, low), READONLY, "the text in lowercase"},
    {"sent", T_PYSSIZET, offsetof(Token, sent), READONLY, "its sentence's index"},
    {"initial", T_BOOL, offsetof(Token, initial), READONLY, "first word of a sentence, of a quote, or after a colon"},
    {"poss", T_BOOL, offsetof(Token, poss), READONLY, "it had a possessive 's"},
    {NULL},
};

static PyTypeObject TokenType;

/* A new token; it takes the references to text and low. */
static PyObject *new_token(PyObject *text, Py_ssize_t start, Py_ssize_t end, PyObject *low, Py_ssize_t sent,
                           int initial, int poss)
{
    Token *token = PyObject_New(Token, &TokenType);
    if (token == NULL) {
        Py_DECREF(text);
        Py_DECREF(low);
        return NULL;
    }
    token->text = text;
    token->low = low;
    token->start = start;
    token->end = end;
    token->sent = sent;
    token->initial = (char)initial;
    token->poss = (char)poss;
    return (PyObject *)token;
}

static PyObject *token_new(PyTypeObject *Py_UNUSED(type), PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"text", "start", "end", "low", "sent", "initial", "poss", NULL};
    PyObject *text, *low;
    Py_ssize_t start, end, sent;
    int initial = 0, poss = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UnnUn|pp", names, &text, &start, &end, &low, &sent, &initial, &poss))
        return NULL;
    Py_INCREF(text);
    Py_INCREF(low);
    return new_token(text, start, end, low, sent, initial, poss);
}

static void token_dealloc(Token *token)
{
    Py_DECREF(token->text);
    Py_DECREF(token->low);
    PyObject_Free(token);
}

static PyObject *token_repr(Token *token)
{
    return PyUnicode_FromFormat("Tok(text=%R, start=%zd, end=%zd, low=%R, sent=%zd, initial=%s, poss=%s)", token->text,
                                token->start, token->end, token->low, token->sent, token->initial ? "True" : "False",
                                token->poss ? "True" : "False");
}

/* Tokens are equal when all their fields are, as the dataclass they replaced compared them. */
static PyObject *token_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(b, &TokenType))
        Py_RETURN_NOTIMPLEMENTED;
    Token *x = (Token *)a, *y = (Token *)b;
    int same = x->start == y->start && x->end == y->end && x->sent == y->sent && x->initial == y->initial
               && x->poss == y->poss;
    if (same) {
        same = PyUnicode_Compare(x->text, y->text) == 0 && PyUnicode_Compare(x->low, y->low) == 0;
        if (PyErr_Occurred())
            return NULL;
    }
    return PyBool_FromLong(op == Py_EQ ? same : !same);
}

static PyTypeObject TokenType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "streams.pipeline._kernels.Token",
    .tp_basicsize = sizeof(Token),
    .tp_dealloc = (destructor)token_dealloc,
    .tp_repr = (reprfunc)token_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Token(text, start, end, low, sent, initial=False, poss=False): see streams.pipeline.facts.document.Tok",
    .tp_richcompare = token_richcompare,
    .tp_members = token_members,
    .tp_new = token_new,
};

/* The kinds of token `_token_form` gives (streams.pipeline.facts.document, in the same order). */
enum { PLAIN, WORD, NUMBER, MARK, OPENER };

static int append_index(PyObject *list, Py_ssize_t index)
{
    return append_new(list, PyLong_FromSsize_t(index));
}

/* sentence(text, start, end, sent, openers, token_forms, tokens, numbers, capital_tokens, capitalised, lowercase)
 *   -> (words, capitals, capital_stopwords)
 * The tokens of one sentence, as `Token`s appended to `tokens`, and on the way what Doc notes of them: the indexes of
 * tokens that may start a number and of capitalised tokens, the capitalised words not opening the sentence and the
 * lowercase words. `token_forms[surface]` says what each surface form is (document.TOKEN_FORMS); `openers` holds the
 * offsets of the quote marks opening in the sentence. What it does with them: see document._add_sentence. */
static PyObject *sentence(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 11 || !PyUnicode_Check(args[0]) || !PyAnySet_Check(args[4]) || !PyDict_Check(args[5])
        || !PyList_Check(args[6]) || !PyList_Check(args[7]) || !PyList_Check(args[8]) || !PyList_Check(args[9])
        || !PyList_Check(args[10])) {
        PyErr_SetString(PyExc_TypeError, "sentence(text str, start, end, sent, openers set, token_forms dict, "
                                         "tokens list, numbers list, capital_tokens list, capitalised list, "
                                         "lowercase list)");
        return NULL;
    }
    PyObject *text = args[0], *openers = args[4], *token_forms = args[5], *tokens = args[6], *numbers = args[7];
    PyObject *capital_tokens = args[8], *capitalised = args[9], *lowercase = args[10];
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) == -1)  /* a string made by the legacy API: its data in the canonical form first */
        return NULL;
#endif
    Py_ssize_t start = PyLong_AsSsize_t(args[1]), end = PyLong_AsSsize_t(args[2]), sent = PyLong_AsSsize_t(args[3]);
    if ((start == -1 || end == -1 || sent == -1) && PyErr_Occurred())
        return NULL;
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    start = start < 0 ? 0 : start > length ? length : start;
    end = end < start ? start : end > length ? length : end;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t words = 0, capitals = 0, capital_stopwords = 0;
    int next_initial = 1;
    for (Py_ssize_t i = start; i < end;) {
        Py_ssize_t e = token_end(kind, data, i, end), s = i;
        if (e == i) {
            i++;
            continue;
        }
        i = e;
        PyObject *surface = PyUnicode_Substring(text, s, e);
        if (surface == NULL)
            return NULL;
        PyObject *form = table_value(token_forms, surface);
        Py_DECREF(surface);
        if (form == NULL)
            return NULL;
        long token_kind = -1;
        if (PyTuple_Check(form) && PyTuple_GET_SIZE(form) == 9 && PyUnicode_Check(PyTuple_GET_ITEM(form, 0))
            && PyUnicode_Check(PyTuple_GET_ITEM(form, 1)) && PyLong_Check(PyTuple_GET_ITEM(form, 2))) {
            token_kind = PyLong_AsLong(PyTuple_GET_ITEM(form, 2));
            PyErr_Clear();  /* a kind out of range is no kind */
        }
        if (token_kind < PLAIN || token_kind > OPENER) {
            Py_DECREF(form);
            PyErr_SetString(PyExc_TypeError, "a token form is (text, low, kind, poss, abbreviation, capital, lower, "
                                             "capital stopword, number)");
            return NULL;
        }
        PyObject *word = PyTuple_GET_ITEM(form, 0), *low = PyTuple_GET_ITEM(form, 1);
        int flags[6];  /* poss, abbreviation, capital, lower, capital stopword, number */
        for (int f = 0; f < 6; f++)
            if ((flags[f] = PyObject_IsTrue(PyTuple_GET_ITEM(form, 3 + f))) < 0) {
                Py_DECREF(form);
                return NULL;
            }
        int poss = flags[0], abbreviation = flags[1], capital = flags[2], lower = flags[3];
        int capital_stopword = flags[4], number = flags[5];
        Py_INCREF(word);
        Py_INCREF(low);
        Py_DECREF(form);
        int initial;
        if (token_kind == PLAIN) {  /* the common case: a lowercase word with nothing else to note */
            if (PyList_Append(lowercase, word)) {
                Py_DECREF(word);
                Py_DECREF(low);
                return NULL;
            }
            if (append_new(tokens, new_token(word, s, e, low, sent, next_initial, 0)))
                return NULL;
            next_initial = 0;
            words++;
            continue;
        }
        if (token_kind == WORD) {
            if (abbreviation && e < end && PyUnicode_READ(kind, data, e) == '.') {
                /* the period, which the abbreviation takes ("Mr.", "J."): always a token of its own */
                PyObject *with_word = PyUnicode_FromFormat("%U.", word), *with_low = PyUnicode_FromFormat("%U.", low);
                Py_DECREF(word);
                Py_DECREF(low);
                if (with_word == NULL || with_low == NULL) {
                    Py_XDECREF(with_word);
                    Py_XDECREF(with_low);
                    return NULL;
                }
                word = with_word;
                low = with_low;
                i = e = e + 1;
            } else {
                if (poss)
                    e -= 2;
                if (capital_stopword && !next_initial)
                    capital_stopwords++;
            }
            initial = next_initial;
            next_initial = 0;
            words++;
            capitals += capital;
        } else if (token_kind == NUMBER) {
            initial = next_initial;
            next_initial = 0;
        } else {
            initial = 0;
            if (token_kind == OPENER)
                next_initial = 1;
            else {
                PyObject *offset = PyLong_FromSsize_t(s);
                int opens = offset == NULL ? -1 : PySet_Contains(openers, offset);
                Py_XDECREF(offset);
                if (opens < 0) {
                    Py_DECREF(word);
                    Py_DECREF(low);
                    return NULL;
                }
                next_initial |= opens;
            }
        }
        Py_ssize_t at = PyList_GET_SIZE(tokens);
        int failed = (number && append_index(numbers, at))
                     || (capital && (append_index(capital_tokens, at) || (!initial && PyList_Append(capitalised, word))))
                     || (!capital && lower && PyList_Append(lowercase, word));
        if (failed) {
            Py_DECREF(word);
            Py_DECREF(low);
            return NULL;
        }
        if (append_new(tokens, new_token(word, s, e, low, sent, initial, poss)))
            return NULL;
    }
    return Py_BuildValue("(nnn)", words, capitals, capital_stopwords);
}

/* The bands of a MinHash signature, each `width` bytes: the signature's bytes and how many bands they hold. */
static const char *signature_bands(PyObject *const *args, Py_ssize_t *bands, Py_ssize_t *width)
{
    if (!PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "the signature must be bytes");
        return NULL;
    }
    *bands = PyLong_AsSsize_t(args[1]);
    *width = PyLong_AsSsize_t(args[2]);
    if ((*bands == -1 || *width == -1) && PyErr_Occurred())
        return NULL;
    if (*bands < 0 || *width <= 0 || *bands > PyBytes_GET_SIZE(args[0]) / *width) {
        PyErr_SetString(PyExc_ValueError, "the signature holds fewer bands than asked for");
        return NULL;
    }
    return PyBytes_AS_STRING(args[0]);
}

/* The bucket key of band `b`: the hash Python gives the band's bytes (`hash(bytes)`), as an int. */
static PyObject *band_key(const char *bytes, Py_ssize_t b, Py_ssize_t width)
{
    return PyLong_FromSsize_t(_Py_HashBytes(bytes + b * width, width));
}

/* band_keys(signature, bands, width) -> [key per band]: each band's `band_key`. */
static PyObject *band_keys(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t bands, width;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "band_keys(signature, bands, width)");
        return NULL;
    }
    const char *bytes = signature_bands(args, &bands, &width);
    if (bytes == NULL)
        return NULL;
    PyObject *keys = PyList_New(bands);
    for (Py_ssize_t b = 0; keys != NULL && b < bands; b++) {
        PyObject *key = band_key(bytes, b, width);
        if (key == NULL) {
            Py_CLEAR(keys);
            break;
        }
        PyList_SET_ITEM(keys, b, key);
    }
    return keys;
}

/* file_bands(buckets, signature, bands, width, article_id): the article filed under each band's key in `buckets`
 * (key -> the article id, or a list of the ids once two share it), the keys of `band_keys`. A restart files a
 * whole dedup window this way, ten bands per fingerprint. */
static PyObject *file_bands(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t bands, width;
    if (nargs != 5 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "file_bands(buckets: dict, signature, bands, width, article_id)");
        return NULL;
    }
    PyObject *buckets = args[0], *article = args[4];
    const char *bytes = signature_bands(args + 1, &bands, &width);
    if (bytes == NULL)
        return NULL;
    for (Py_ssize_t b = 0; b < bands; b++) {
        PyObject *key = band_key(bytes, b, width);
        if (key == NULL)
            return NULL;
        PyObject *held = PyDict_GetItemWithError(buckets, key);  /* borrowed */
        int failed;
        if (held == NULL) {
            failed = PyErr_Occurred() != NULL || PyDict_SetItem(buckets, key, article) < 0;
        } else if (PyList_CheckExact(held)) {
            failed = PyList_Append(held, article) < 0;
        } else {
            PyObject *both = PyList_New(2);
            failed = both == NULL;
            if (!failed) {
                Py_INCREF(held);
                Py_INCREF(article);
                PyList_SET_ITEM(both, 0, held);
                PyList_SET_ITEM(both, 1, article);
                failed = PyDict_SetItem(buckets, key, both) < 0;
                Py_DECREF(both);
            }
        }
        Py_DECREF(key);
        if (failed)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"pack", (PyCFunction)(void (*)(void))pack, METH_FASTCALL,
     "pack(parts, numbers) -> (block bytes, present bits): see streams.pipeline.packed.Packed.of"},
    {"pack_parts", (PyCFunction)(void (*)(void))pack_parts, METH_FASTCALL,
     "pack_parts(vector, numbers) -> (block bytes, present bits), one unit vector per part: see "
     "streams.pipeline.cluster.article_parts"},
    {"weigh", (PyCFunction)(void (*)(void))weigh, METH_FASTCALL,
     "weigh(key_prefix, counts, term_idf, most) -> {key: weight}, a unit vector (its `most` strongest, unless None): "
     "see streams.pipeline.features._weigh"},
    {"rounded", (PyCFunction)(void (*)(void))rounded, METH_FASTCALL,
     "rounded(vector, digits) -> {key: round(weight, digits)}: see streams.pipeline.features.features"},
    {"refresh", (PyCFunction)(void (*)(void))refresh, METH_FASTCALL,
     "refresh(counts, numbers, per_part, posting, days) -> (kept counts, block bytes, present bits, "
     "salient): see streams.pipeline.cluster.StoryProfile._refresh"},
    {"weighted_cosines", (PyCFunction)(void (*)(void))weighted_cosines, METH_FASTCALL,
     "weighted_cosines(query, others, part_weights): see streams.pipeline.packed.weighted_cosines"},
    {"fades", (PyCFunction)(void (*)(void))fades, METH_FASTCALL,
     "fades(article_days, stories, half_life_days): see streams.pipeline.cluster.fades"},
    {"minhash", (PyCFunction)(void (*)(void))minhash, METH_FASTCALL,
     "minhash(joined, size, a, b) -> signature bytes (uint64): see streams.pipeline.dedup.minhash"},
    {"sha1_hash64", (PyCFunction)(void (*)(void))sha1_hash64_of, METH_FASTCALL,
     "sha1_hash64(message, portable) -> the first 8 bytes of its SHA-1 as minhash reads them, little-endian"},
    {"band_keys", (PyCFunction)(void (*)(void))band_keys, METH_FASTCALL,
     "band_keys(signature, bands, width) -> [hash of each band's bytes]: see streams.pipeline.dedup._band_keys"},
    {"file_bands", (PyCFunction)(void (*)(void))file_bands, METH_FASTCALL,
     "file_bands(buckets, signature, bands, width, article_id): see streams.pipeline.dedup.DuplicateIndex.add"},
    {"letter_words", (PyCFunction)(void (*)(void))letter_words, METH_FASTCALL,
     "letter_words(text, most=-1, /) -> the first `most` (all) words of letters: see streams.pipeline.english"},
    {"word_tokens", (PyCFunction)(void (*)(void))word_tokens, METH_FASTCALL,
     "word_tokens(text, most=-1, /) -> runs of word characters and single symbols: see streams.pipeline.english"},
    {"alnum_words", (PyCFunction)(void (*)(void))alnum_words, METH_FASTCALL,
     "alnum_words(text, most=-1, /) -> runs of letters and digits: see streams.pipeline.english"},
    {"term_tokens", (PyCFunction)(void (*)(void))term_tokens, METH_FASTCALL,
     "term_tokens(text, most=-1, /) -> words as clustering reads them: see streams.pipeline.english"},
    {"count_chars", (PyCFunction)(void (*)(void))count_chars, METH_FASTCALL,
     "count_chars(text, chars, most=-1, /) -> how many characters of text are in chars, counting up to `most` (all)"},
    {"word_starts", (PyCFunction)(void (*)(void))word_starts, METH_FASTCALL,
     "word_starts(text, chars, digits, /) -> where the words opening with one of chars (or a decimal digit) start"},
    {"sentence_terms", (PyCFunction)(void (*)(void))sentence_terms, METH_FASTCALL,
     "sentence_terms(text, /) -> the term tokens of each sentence: see streams.pipeline.features.sentence_tokens"},
    {"sentence", (PyCFunction)(void (*)(void))sentence, METH_FASTCALL,
     "sentence(text, start, end, sent, openers, token_forms, tokens, numbers, capital_tokens, capitalised, "
     "lowercase) -> (words, capitals, capital_stopwords): see streams.pipeline.facts.document._add_sentence"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, 0, methods};

PyMODINIT_FUNC PyInit__kernels(void)
{
    DATA = PyUnicode_InternFromString("data");
    PRESENT = PyUnicode_InternFromString("present");
    if (DATA == NULL || PRESENT == NULL || PyType_Ready(&TokenType) < 0 || PyType_Ready(&PostingsType) < 0)
        return NULL;
    fill_ascii_classes();
    if (has_sha_instructions())
        sha1_block = sha1_block_instructions;
    PyObject *created = PyModule_Create(&module);
    if (created != NULL
        && (PyModule_AddObjectRef(created, "Token", (PyObject *)&TokenType) < 0
            || PyModule_AddObjectRef(created, "Postings", (PyObject *)&PostingsType) < 0
            || PyModule_AddObjectRef(created, "SHA1_INSTRUCTIONS", sha1_block == sha1_block_instructions ? Py_True : Py_False) < 0))
        Py_CLEAR(created);
    return created;
}
