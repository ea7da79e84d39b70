/* Which CFFI wrappers keep the GIL.
 *
 * CFFI's API-mode wrapper for every C function releases the GIL around the
 * call (Py_BEGIN_ALLOW_THREADS / Py_END_ALLOW_THREADS in the generated
 * _cffi_f_<name>, which _build.py places after this file).  CPython's own
 * socket module releases it around the calls that may block (sock_call_ex,
 * bind, connect, close...), but not around getsockopt(2) and setsockopt(2):
 * socketmodule.c's sock_getsockopt and sock_setsockopt call them with the GIL
 * held (they never block).  Releasing and taking the GIL back costs more than
 * the syscall's user-space part (~35 ns per call on the reference machine;
 * see docs/figures.rst), so the wrappers of the functions named below keep
 * it, as CPython does.
 *
 * The generated wrapper is named "_cffi_f_" + the C function's name, and
 * __func__ is known at compile time: GCC and Clang fold the comparisons, so
 * every wrapper compiles to either the plain call or CFFI's usual release.
 * A compiler that did not fold them would only compare a few strings per
 * call.  tests/test_native_gil.py checks which wrappers hold the GIL, on the
 * installed CFFI (a CFFI that stopped using these macros would make it fail).
 */
#define SANSOCK_KEEPS_GIL(func)                                                  \
    (__builtin_strcmp((func), "_cffi_f_sansock_getsockopt_int") == 0             \
     || __builtin_strcmp((func), "_cffi_f_sansock_getsockopt_buf") == 0          \
     || __builtin_strcmp((func), "_cffi_f_sansock_setsockopt_int") == 0          \
     || __builtin_strcmp((func), "_cffi_f_sansock_setsockopt_buf") == 0          \
     || __builtin_strcmp((func), "_cffi_f_sansock_probe_gil_kept") == 0)

#undef Py_BEGIN_ALLOW_THREADS
#undef Py_END_ALLOW_THREADS
#define Py_BEGIN_ALLOW_THREADS                                                   \
    {                                                                            \
        PyThreadState *_save = SANSOCK_KEEPS_GIL(__func__) ? NULL : PyEval_SaveThread();
#define Py_END_ALLOW_THREADS                                                     \
        if (_save != NULL)                                                       \
            PyEval_RestoreThread(_save);                                         \
    }

/* For tests: whether the calling thread holds the GIL inside the wrapper,
 * through one that keeps it (1) and one that releases it (0). */
static int sansock_probe_gil_kept(void) { return PyGILState_Check(); }
static int sansock_probe_gil_released(void) { return PyGILState_Check(); }
