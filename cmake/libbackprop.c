/* libbackprop.c: the one source CMake asks of the shared libbackprop
 * (cmake/install.cmake), which is otherwise made whole of bpengine's
 * archive: the engine's code is compiled once, in bpengine, and the
 * installed libraries are that code. Nothing here is exported. */
typedef int libbackprop_is_bpengine;
