"""CFFI builder for the native driver (out-of-line API mode).

Placeholder: the native-driver issue fills in the declarations.
"""

from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef("int close(int fd);")
ffibuilder.set_source("sansock_native._sansock_native", "#include <unistd.h>")

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
