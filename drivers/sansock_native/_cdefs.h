/* cdef of sansock_native: what Python sees of the C side.
 *
 * Read by cffi's parser, not by a C compiler: no preprocessor directives.
 * "..." lets the compiler fill integer typedefs, constant values and struct
 * layouts (cffi "API mode"); every declaration below is checked against the
 * real headers when _sansock_native.c is compiled.  Buffer parameters are
 * "char *" so that Python bytes pass straight through without a copy.
 */

typedef int... socklen_t;
typedef int... ssize_t;


/* ---- <netdb.h>: getaddrinfo(3), getnameinfo(3), gethostbyname_r(3) ---- */
struct sockaddr { ...; };
struct addrinfo {
    int ai_flags;
    int ai_family;
    int ai_socktype;
    int ai_protocol;
    socklen_t ai_addrlen;
    struct sockaddr *ai_addr;
    char *ai_canonname;
    struct addrinfo *ai_next;
    ...;
};
struct hostent {
    char *h_name;
    char **h_aliases;
    int h_addrtype;
    int h_length;
    char **h_addr_list;
    ...;
};
struct servent {
    char *s_name;
    char **s_aliases;
    int s_port;
    char *s_proto;
    ...;
};
struct protoent {
    char *p_name;
    char **p_aliases;
    int p_proto;
    ...;
};
struct if_nameindex {
    unsigned int if_index;
    char *if_name;
    ...;
};

static const int EAI_SYSTEM;
static const int NI_MAXHOST;
static const int NI_MAXSERV;
static const int IF_NAMESIZE;

void freeaddrinfo(struct addrinfo *res);
const char *gai_strerror(int errcode);
const char *hstrerror(int err);

void if_freenameindex(struct if_nameindex *ptr);

/* The reentrant netdb calls (glibc and musl): results live in buf. */
int gethostbyname_r(const char *name, struct hostent *ret, char *buf,
                    size_t buflen, struct hostent **result, int *h_errnop);
int gethostbyaddr_r(const char *addr, socklen_t len, int type,
                    struct hostent *ret, char *buf, size_t buflen,
                    struct hostent **result, int *h_errnop);
int getservbyname_r(const char *name, const char *proto, struct servent *ret,
                    char *buf, size_t buflen, struct servent **result);
int getservbyport_r(int port, const char *proto, struct servent *ret,
                    char *buf, size_t buflen, struct servent **result);
int getprotobyname_r(const char *name, struct protoent *ret,
                     char *buf, size_t buflen, struct protoent **result);

/* ---- sansock helpers (_helpers.h): one C call per multi-step job ------ */
/* Every helper returns its error in band, never in errno (which a signal
 * handler's CFFI call could replace before Python reads it): -errno where
 * results are >= 0; the other encodings are noted below. */
int sansock_socket(int domain, int type, int protocol);
int sansock_socketpair(int domain, int type, int protocol, int sv[2]);
int sansock_listen(int fd, int backlog);
int sansock_shutdown(int fd, int how);
int sansock_close(int fd);
int sansock_gethostname(char *name, size_t len);
int sansock_sethostname(const char *name, size_t len);
long long sansock_if_nametoindex(const char *name);
/* 0, -errno, or INT_MIN for a failure that set no errno. */
int sansock_if_indextoname(unsigned int index, char *name);
/* NULL with *err = errno on failure. */
struct if_nameindex *sansock_if_nameindex(int *err);
/* getaddrinfo(3)/getnameinfo(3): 0, the EAI_* code, or INT_MIN + errno for
 * EAI_SYSTEM. */
int sansock_getaddrinfo(const char *node, const char *service,
                        const struct addrinfo *hints, struct addrinfo **res);
int sansock_dup_cloexec(int fd);
int sansock_get_nonblocking(int fd);
int sansock_set_nonblocking(int fd, int nonblocking);
int sansock_get_inheritable(int fd);
int sansock_set_inheritable(int fd, int inheritable);
int sansock_poll1(int fd, int events, int timeout_ms);
long long sansock_monotonic_ns(void);
/* PollCallDriver: clock, poll(fd, events, 0), the syscall when ready;
 * out[0] the clock.  Returns the syscall's result or -errno (above
 * -SANSOCK_ERRNO_SPAN), SANSOCK_NOT_READY, or SANSOCK_POLL_FAILED - errno. */
ssize_t sansock_poll_send(int fd, const char *buf, size_t len, int flags, long long out[1]);
ssize_t sansock_poll_recv(int fd, char *buf, size_t cap, size_t len, int flags, long long out[1]);
static const int SANSOCK_ERRNO_SPAN;
static const int SANSOCK_NOT_READY;
static const int SANSOCK_POLL_FAILED;

int sansock_bind(int fd, const char *addr, int addrlen);
int sansock_connect(int fd, const char *addr, int addrlen);
int sansock_accept(int fd, char *addr, int *addrlen, int flags);
int sansock_getsockname(int fd, char *addr);
int sansock_getpeername(int fd, char *addr);

/* The int value, or INT_MIN - errno. */
long long sansock_getsockopt_int(int fd, int level, int option);
/* PyGILState_Check() inside a wrapper that keeps the GIL and one that
 * releases it (_gil.h; for tests). */
int sansock_probe_gil_kept(void);
int sansock_probe_gil_released(void);
/* The *_buf, recv*, recvmmsg and sendmmsg helpers take the capacity of the
 * buffer they touch and refuse (EFAULT) a length beyond it. */
ssize_t sansock_recv(int fd, char *buf, size_t cap, size_t len, int flags);
/* sansock.driver.DirectCalls: the count, or -errno. */
ssize_t sansock_direct_send(int fd, const char *buf, size_t n, int flags);
ssize_t sansock_direct_recv(int fd, char *buf, int cap, int len);  /* ints: CFFI converts them faster */
/* recv_into of a bytearray's export: nbytes 0 is cap; below -65535 (SANSOCK_RECV_INTO_ARGUMENT): nbytes refused. */
ssize_t sansock_direct_recv_into(int fd, char *buf, int cap, int nbytes, int flags);
static const int SANSOCK_RECV_INTO_ARGUMENT;
/* DirectCalls.recvmsg: recvmsg(2) of one buffer into a message block (the
 * data first, then the out-values msg_flags, controllen and namelen, the
 * name and the control buffer); DirectCalls.sendmsg: one bytes buffer and
 * control data, no address. */
#define SANSOCK_MSG_DATA ...
#define SANSOCK_MSG_CONTROL ...
struct sansock_msgbuf {
    char data[...];
    long long out[3];
    char name[...];
    char control[...];
};
ssize_t sansock_direct_recvmsg(int fd, struct sansock_msgbuf *m, int len, int controllen, int flags);
ssize_t sansock_direct_sendmsg(int fd, const char *buf, size_t len, const char *control, int controllen,
                               int flags);
int sansock_getsockopt_buf(int fd, int level, int option, char *buf, size_t cap, int buflen);
int sansock_setsockopt_int(int fd, int level, int option, int value);
int sansock_setsockopt_buf(int fd, int level, int option, const char *buf, size_t cap,
                           unsigned int buflen);

ssize_t sansock_sendto(int fd, const char *buf, size_t len, int flags,
                       const char *addr, int addrlen);
ssize_t sansock_recvfrom(int fd, char *buf, size_t cap, size_t len, int flags,
                         char *addr, int *addrlen);
ssize_t sansock_sendmsg(int fd, char **bases, size_t *lens, int nbuffers,
                        const char *control, size_t controllen,
                        const char *name, int namelen, int flags);
ssize_t sansock_recvmsg(int fd, char **bases, size_t *lens, int nbuffers,
                        char *control, size_t controlcap, size_t controllen, char *name,
                        int flags, long long out[3]);
ssize_t sansock_sendmsg1(int fd, const char *buf, size_t len,
                         const char *control, size_t controllen,
                         const char *name, int namelen, int flags);
ssize_t sansock_recvmsg1(int fd, char *buf, size_t cap, size_t len,
                         char *control, size_t controlcap, size_t controllen, char *name,
                         int flags, long long out[3]);
ssize_t sansock_recvmsg4(int fd, int nbuffers,
                         char *b0, size_t l0, char *b1, size_t l1,
                         char *b2, size_t l2, char *b3, size_t l3,
                         char *control, size_t controlcap, size_t controllen, char *name,
                         int flags, long long out[3]);
/* recvmmsg(2) with MSG_WAITFORONE into count slots of bufsize bytes;
 * out[3i..3i+2] = (length, msg_flags, namelen).  sendmmsg(2) of count
 * messages laid end to end (lens), names end to end (namelens, 0 = none). */
int sansock_recvmmsg(int fd, char *data, size_t cap, size_t bufsize, char *names,
                     int count, int flags, long long *out);
int sansock_sendmmsg(int fd, const char *data, size_t datalen, const long long *lens,
                     const char *names, size_t nameslen, const long long *namelens,
                     int count, int flags);
static const int SANSOCK_MMSG_MAX;
long long sansock_sendfile(int out_fd, int in_fd, long long offset, size_t count);
long long sansock_file_size(int fd);

int sansock_getnameinfo(const char *addr, int addrlen, char *host, int hostlen,
                        char *serv, int servlen, int flags);

/* ---- build-time facts: the host ABI ---------------------------------- */
/* table 0: socket constants, 1: errno values, 2: struct sizes */
int sansock_table_size(int table);
const char *sansock_table_name(int table, int index);
long long sansock_table_value(int table, int index);
/* sizeof(int), long, socklen_t, size_t; cmsghdr len_size, hdr_size,
 * level_offset, type_offset, CMSG_ALIGN unit; sun_path size; SOMAXCONN;
 * sizeof(struct sockaddr_storage); 1 if little-endian. */
void sansock_layout(long long out[13]);
long long sansock_iov_max(void);

/* The real CMSG_* macros, for cross-checking the core's arithmetic. */
long long sansock_cmsg_len(long long n);
long long sansock_cmsg_space(long long n);
/* Walk a control buffer with CMSG_FIRSTHDR/CMSG_NXTHDR: writes up to max
 * (offset, cmsg_len, level, type, data offset) records; returns the count. */
int sansock_cmsg_walk(char *control, size_t controllen, long long *out, int max);
