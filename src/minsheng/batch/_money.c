/* Fen as two-decimal texts, the buffers of an Arrow string array, in one compiled loop.
 *
 * minsheng.batch.money_text formats the batch outputs' money (ten columns per claim) with
 * this module when it was built (setup.py; optional) and with Arrow and numpy otherwise.
 * Both give exactly minsheng.core.money.format_fen's texts ("580.00", "0.05", "-1.20");
 * tests/batch/test_money_text.py compares them. This is text formatting only: no policy
 * rule is computed here (the settlement kernel is numpy, the same in every engine).
 *
 * fen_texts(fen, absent) -> (offsets, data)
 *   fen:    a C-contiguous buffer of int64 (numpy int64 array)
 *   absent: None, or a buffer of as many bytes (numpy bool array): 1 = empty text (null)
 *   offsets: bytes, (n + 1) little-endian int32: Arrow's offsets buffer
 *   data:    bytes, the texts one after another: Arrow's data buffer
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static const char PAIRS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

#define LONGEST 22 /* "-92233720368547758.08": sign, 17 yuan digits, ".", 2 cents */

/* The number of decimal digits of v (at least one). */
static int digits(uint64_t v) {
    int d = 1;
    while (v >= 10000) {
        v /= 10000;
        d += 4;
    }
    if (v >= 100) {
        v /= 100;
        d += 2;
    }
    return d + (v >= 10);
}

/* Write one text so that it ends just before `end` (its length: text_length). */
static void write_text(int64_t fen, char *end) {
    uint64_t m = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    uint64_t yuan = m / 100;
    unsigned cents = (unsigned)(m % 100);
    char *p = end - 2;
    memcpy(p, PAIRS + 2 * cents, 2);
    *--p = '.';
    while (yuan >= 100) {
        unsigned pair = (unsigned)(yuan % 100);
        yuan /= 100;
        p -= 2;
        memcpy(p, PAIRS + 2 * pair, 2);
    }
    if (yuan >= 10) {
        p -= 2;
        memcpy(p, PAIRS + 2 * yuan, 2);
    } else {
        *--p = (char)('0' + yuan);
    }
    if (fen < 0) {
        *--p = '-';
    }
}

static int32_t text_length(int64_t fen) {
    uint64_t m = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    return (int32_t)((fen < 0) + digits(m / 100) + 3);
}

static PyObject *fen_texts(PyObject *self, PyObject *args) {
    PyObject *fen_obj, *absent_obj;
    Py_buffer fen, absent;
    PyObject *offsets_obj = NULL, *data_obj = NULL, *result = NULL;
    int have_absent;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &fen_obj, &absent_obj)) {
        return NULL;
    }
    if (PyObject_GetBuffer(fen_obj, &fen, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return NULL;
    }
    if (fen.itemsize != 8 || fen.format == NULL || (strcmp(fen.format, "l") != 0
                                                    && strcmp(fen.format, "q") != 0)) {
        PyErr_SetString(PyExc_TypeError, "fen must be a contiguous int64 buffer");
        PyBuffer_Release(&fen);
        return NULL;
    }
    Py_ssize_t n = fen.len / 8;
    have_absent = absent_obj != Py_None;
    if (have_absent) {
        if (PyObject_GetBuffer(absent_obj, &absent, PyBUF_C_CONTIGUOUS) < 0) {
            PyBuffer_Release(&fen);
            return NULL;
        }
        if (absent.len != n) {
            PyErr_SetString(PyExc_ValueError, "absent must have one byte per value");
            goto done;
        }
    }
    if (n > (Py_ssize_t)(INT32_MAX / LONGEST)) {
        PyErr_SetString(PyExc_OverflowError, "too many values for int32 offsets");
        goto done;
    }
    offsets_obj = PyBytes_FromStringAndSize(NULL, (n + 1) * 4);
    data_obj = PyBytes_FromStringAndSize(NULL, n * LONGEST); /* room for the longest texts */
    if (offsets_obj == NULL || data_obj == NULL) {
        goto done;
    }
    const int64_t *values = (const int64_t *)fen.buf;
    const uint8_t *skip = have_absent ? (const uint8_t *)absent.buf : NULL;
    int32_t *offsets = (int32_t *)PyBytes_AS_STRING(offsets_obj);
    char *data = PyBytes_AS_STRING(data_obj);
    int32_t pos = 0;
    Py_BEGIN_ALLOW_THREADS
    offsets[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(skip && skip[i])) { /* the length first, then the text written in place */
            pos += text_length(values[i]);
            write_text(values[i], data + pos);
        }
        offsets[i + 1] = pos;
    }
    Py_END_ALLOW_THREADS
    if (_PyBytes_Resize(&data_obj, pos) < 0) {
        goto done;
    }
    result = PyTuple_Pack(2, offsets_obj, data_obj);
done:
    Py_XDECREF(offsets_obj);
    Py_XDECREF(data_obj);
    if (have_absent) {
        PyBuffer_Release(&absent);
    }
    PyBuffer_Release(&fen);
    return result;
}

static PyMethodDef methods[] = {
    {"fen_texts", fen_texts, METH_VARARGS,
     "fen_texts(fen, absent) -> (offsets, data): int64 fen as two-decimal texts, the "
     "offsets (int32) and data buffers of an Arrow string array; absent rows are empty."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "minsheng.batch._money",
    "Fen as two-decimal texts in one compiled loop (see minsheng.batch.money_text).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__money(void) {
    return PyModule_Create(&module);
}
