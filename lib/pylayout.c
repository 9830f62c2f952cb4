#include "pylayout.h"

#include <stddef.h>

const mp_pylayout_t *
mp_pylayout_for(unsigned long version_hex)
{
    unsigned major = (unsigned)(version_hex >> 24) & 0xff;
    unsigned minor = (unsigned)(version_hex >> 16) & 0xff;
    if (major != 3) {
        return NULL;
    }
    switch (minor) {
    case 11:
        return &mp_pylayout_311;
    default:
        return NULL;
    }
}
