/* buffer.c: growing a reusable heap buffer (see buffer.h). */
#include "buffer.h"

#include <stdlib.h>

int fl_buffer_reserve(void **buffer, size_t *capacity, size_t bytes)
{
    void *grown;
    if (bytes <= *capacity)
        return 1;
    grown = realloc(*buffer, bytes);
    if (grown == NULL)
        return 0;
    *buffer = grown;
    *capacity = bytes;
    return 1;
}
