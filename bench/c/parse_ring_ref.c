/* The plain C parser with frame offsets already known (what a ring-buffer I/O backend hands
 * over): one loop over a FRAME_DTYPE-layout index into a caller's record array. The reference
 * for fastpath's parse_frames on in-memory frames.
 *
 * Exported (ctypes):
 *   void ref_parse_ring(const uint8_t *buf, int64_t size, const ref_frame *index, int64_t n,
 *                       int64_t base, ref_record *out)
 *   int  ref_record_size(void), ref_frame_size(void), ref_nfields(void);
 *   ref_field_name/offset/size(i): the record's layout by name
 */
#include "ref_parse.h"

void ref_parse_ring(const uint8_t *buf, int64_t size, const ref_frame *index, int64_t n,
                    int64_t base, ref_record *out) {
    int64_t i;
    for (i = 0; i < n; i++) {
        const ref_frame *f = &index[i];
        ref_record *r = &out[i];
        int64_t pos = (int64_t)f->data_off - base;
        r->ts_ns = f->ts_ns;
        r->data_off = f->data_off;
        r->wirelen = f->wirelen;
        r->iface = f->iface;
        if (pos < 0 || pos + (int64_t)f->caplen > size) {   /* an index entry outside the buffer */
            ref_blank(r);
            r->ts_ns = f->ts_ns;
            r->data_off = f->data_off;
            r->wirelen = f->wirelen;
            r->caplen = f->caplen;
            r->linktype = f->linktype;
            r->error = ERR_BAD_FRAME;
            continue;
        }
#ifdef REF_PREFETCH
        /* Not part of the plain reference: built with -DREF_PREFETCH=k to show what fetching
         * frame i+k's first two cache lines ahead buys when frames are far apart in memory. */
        if (i + REF_PREFETCH < n) {
            int64_t ahead = (int64_t)index[i + REF_PREFETCH].data_off - base;
            if (ahead >= 0 && ahead < size) {
                __builtin_prefetch(buf + ahead);
                __builtin_prefetch(buf + ahead + 64);
            }
        }
#endif
        ref_parse_frame(buf + pos, f->caplen, f->linktype, r);
    }
}

int ref_record_size(void) { return (int)sizeof(ref_record); }
int ref_frame_size(void) { return (int)sizeof(ref_frame); }
int ref_nfields(void) { return REF_NFIELDS; }
const char *ref_field_name(int i) { return REF_FIELDS[i].name; }
long ref_field_offset(int i) { return REF_FIELDS[i].offset; }
long ref_field_size(int i) { return REF_FIELDS[i].size; }
