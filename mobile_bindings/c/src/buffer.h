/* buffer.h: growing a reusable heap buffer, shared by the decoder, the preprocessing
 * scratch and the skin mask (not installed).
 *
 * Why one place: each of them keeps its buffer between calls so a steady stream of frames
 * of one size allocates nothing; only the growth step (grow to fit, keep the old buffer
 * when the allocation fails) is common, and it is here. */
#ifndef FACELITE_SRC_BUFFER_H
#define FACELITE_SRC_BUFFER_H

#include <stddef.h>

/** Make *buffer (of *capacity bytes) hold at least `bytes`; 1 on success, 0 when the
 *  allocation fails (the old buffer and capacity stay, so the caller can still free it). */
int fl_buffer_reserve(void **buffer, size_t *capacity, size_t bytes);

#endif
