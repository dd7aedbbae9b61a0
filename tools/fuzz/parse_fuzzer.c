/* libFuzzer harness for the packet parser's C core (fastpath.wire.parse.parse_frame).
 *
 * The parser is a Cython cdef function; its C pointer is exported through the module's
 * __pyx_capi__ capsule, so this harness starts Python once, takes the pointer, and then calls
 * the parser directly for every input -- at C speed, with libFuzzer's coverage of the
 * instrumented extension and AddressSanitizer watching every read. Built and run by
 * tools/fuzz.sh.
 *
 * Input layout: byte 0 picks the link type, byte 1 bit 0 turns checksum verification on,
 * byte 2 bit 0 marks the frame as cut short by a snapshot length; the rest is the frame. */
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_MAX 512         /* room for a PacketRecord; its real size comes from the dtype */

/* Field offsets, read from fastpath.wire.record.PACKET_DTYPE at start. */
static long record_size, off_wirelen, off_error, off_offsets[4], err_count;
static const char *offset_fields[4] = {"l3_off", "l4_off", "payload_off", "inner_off"};

typedef void (*parse_frame_fn)(const uint8_t *, uint32_t, uint16_t, void *, int);
static parse_frame_fn parse_frame;
static const uint16_t linktypes[] = {1, 0, 101, 12, 14, 108, 113, 228, 229, 276, 9, 50, 104, 239, 147};

static void die(const char *what) {
    fprintf(stderr, "parse_fuzzer: %s\n", what);
    if (PyErr_Occurred())
        PyErr_Print();
    abort();
}

static long field_offset(PyObject *fields, const char *name) {
    /* dtype.fields maps a name to (dtype, offset). */
    PyObject *entry = PyMapping_GetItemString(fields, name);
    if (!entry || !PyTuple_Check(entry))
        die("PACKET_DTYPE lacks a field the harness reads");
    long off = PyLong_AsLong(PyTuple_GetItem(entry, 1));
    Py_DECREF(entry);
    return off;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    Py_Initialize();
    PyObject *mod = PyImport_ImportModule("fastpath.wire.parse");
    if (!mod)
        die("cannot import fastpath.wire.parse (set PYTHONPATH to the instrumented build)");
    PyObject *capi = PyObject_GetAttrString(mod, "__pyx_capi__");
    PyObject *cap = capi ? PyDict_GetItemString(capi, "parse_frame") : NULL;
    if (!cap)
        die("fastpath.wire.parse exports no parse_frame");
    parse_frame = (parse_frame_fn)PyCapsule_GetPointer(cap, PyCapsule_GetName(cap));
    if (!parse_frame)
        die("bad parse_frame capsule");
    PyObject *rec = PyImport_ImportModule("fastpath.wire.record");
    PyObject *dt = rec ? PyObject_GetAttrString(rec, "PACKET_DTYPE") : NULL;
    PyObject *size = dt ? PyObject_GetAttrString(dt, "itemsize") : NULL;
    PyObject *fields = dt ? PyObject_GetAttrString(dt, "fields") : NULL;
    PyObject *count = rec ? PyObject_GetAttrString(rec, "ERR_COUNT") : NULL;
    if (!size || !fields || !count)
        die("cannot read PACKET_DTYPE");
    record_size = PyLong_AsLong(size);
    err_count = PyLong_AsLong(count);
    if (record_size > RECORD_MAX)
        die("PacketRecord is larger than RECORD_MAX");
#define FIELD_OFFSET(name) field_offset(fields, name)
    off_wirelen = FIELD_OFFSET("wirelen");
    off_error = FIELD_OFFSET("error");
    for (int k = 0; k < 4; k++)
        off_offsets[k] = FIELD_OFFSET(offset_fields[k]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char record[RECORD_MAX];
    if (size < 3 || size - 3 > 0xFFFF)
        return 0;
    uint16_t linktype = linktypes[data[0] % (sizeof linktypes / sizeof linktypes[0])];
    int verify = data[1] & 1;
    size_t n = size - 3;
    /* An exact-size heap copy: one byte read past the frame is a heap-buffer-overflow. */
    uint8_t *frame = malloc(n ? n : 1);
    memcpy(frame, data + 3, n);
    memset(record, 0, sizeof record);
    uint32_t wirelen = (uint32_t)n + ((data[2] & 1) ? 100u : 0u);
    memcpy(record + off_wirelen, &wirelen, 4);
    parse_frame(frame, (uint32_t)n, linktype, record, verify);
    if (record[off_error] >= err_count) {
        fprintf(stderr, "parse_fuzzer: error code %d out of range\n", record[off_error]);
        abort();
    }
    for (int k = 0; k < 4; k++) {
        uint16_t off;
        memcpy(&off, record + off_offsets[k], 2);
        if (off != 0xFFFF && off > n) {
            fprintf(stderr, "parse_fuzzer: %s %u is past the frame (%zu bytes)\n",
                    offset_fields[k], off, n);
            abort();
        }
    }
    free(frame);
    return 0;
}
