/* A C program without Python: under the preload it must behave exactly as without it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
    char *p = malloc(100);
    strcpy(p, "hello from C");
    puts(p);
    free(p);
    return argc > 1 ? atoi(argv[1]) : 0;
}
