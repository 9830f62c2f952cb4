/*
 * Attaching to a running interpreter (`mprofile attach PID`, tools/attach, docs/attach.md): the
 * library is loaded with dlopen into a process that was started without the preload, then
 * started from settings given as text rather than read from the environment; `mprofile detach`
 * stops it and writes the snapshot.
 *
 * Settings are newline-separated MPROFILE_NAME=value lines, parsed as the environment would be
 * (config.h); the program's own environment is not read. Two more names are the tool's:
 *
 *   MPROFILE_ATTACH_RESULT=<path>  where the outcome goes: a file made beside it and renamed to
 *                                  it (so that it appears complete), holding "<rc>\n<one line>\n"
 *                                  where rc is 0 or -errno and the line says what happened.
 *                                  Nothing is printed in the program.
 *   MPROFILE_ATTACH_TICKET=<path>  the request's ticket: it runs only if it can unlink the file
 *                                  first. A tool that gave up waiting unlinks it itself, so a
 *                                  request that runs later does nothing at all.
 *
 * The exported entry points are declared in attach.c (they are not part of the public header:
 * only the attach tool calls them, by name, through ctypes or a debugger).
 */
#ifndef MP_ATTACH_H
#define MP_ATTACH_H

/* Longest settings text accepted, terminating zero included. */
#define MP_ATTACH_SETTINGS_MAX 8192

#endif
