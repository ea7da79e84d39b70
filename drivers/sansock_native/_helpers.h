/* C side of sansock_native: the headers, and small helpers that do one
 * syscall each (or one multi-step job, such as building a msghdr) so that
 * Python pays one CFFI call and touches no struct field.
 *
 * Included verbatim into _sansock_native.c by _build.py, which appends the
 * generated constant tables.  Every helper that Python checks for failure
 * returns its error in band: -errno where results are >= 0 (a count, an fd,
 * a length, 0), INT_MIN - errno for getsockopt's int (any int is a value),
 * INT_MIN + errno for an EAI_SYSTEM of getaddrinfo/getnameinfo, and the
 * SANSOCK_NOT_READY / SANSOCK_POLL_FAILED codes of the poll-then-call
 * helpers.  Never errno: CFFI saves errno per thread after every call, and a
 * Python signal handler that runs between a call's return and its check
 * (the eval breaker runs handlers right after a C call) and makes a failing
 * CFFI call of its own would replace it (an EINTR, which the core retries,
 * would become the handler's EAGAIN).  Helpers never retry EINTR: the core
 * decides.
 */
#define _GNU_SOURCE 1
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/sendfile.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <net/if.h>
#include <net/ethernet.h>  /* ETHERTYPE_*, and ETH_P_ALL through <linux/if_ether.h> */
#include <poll.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/if_packet.h>
#include <linux/can.h>
#include <linux/can/raw.h>
#include <linux/can/bcm.h>
#include <linux/can/isotp.h>
#include <linux/can/j1939.h>
#include <linux/tipc.h>
#include <linux/vm_sockets.h>
#include <linux/if_alg.h>
#include <linux/qrtr.h>
#include <linux/sockios.h>

/* Constants CPython's socketmodule.c defines itself when the headers lack
 * them, so the stdlib exports them on every Linux (values from
 * <linux/udp.h> and the kernel's crypto/af_alg.c). */
#ifndef UDPLITE_SEND_CSCOV
#define UDPLITE_SEND_CSCOV 10
#endif
#ifndef UDPLITE_RECV_CSCOV
#define UDPLITE_RECV_CSCOV 11
#endif
#ifndef ALG_SET_PUBKEY
#define ALG_SET_PUBKEY 6
#endif
#ifndef ALG_OP_SIGN
#define ALG_OP_SIGN 2
#endif
#ifndef ALG_OP_VERIFY
#define ALG_OP_VERIFY 3
#endif

/* Defence in depth: a helper that writes into (or reads from) a buffer is
 * told the buffer's capacity, and refuses with EFAULT ("Bad address", what
 * the kernel answers for memory the caller does not own) a length beyond
 * it, whatever value the Python side computed.  The driver and the core
 * convert every size to an exact int before comparing it, so this never
 * fires unless one of them has a bug. */
#define SANSOCK_FITS(len, cap) \
    do { if ((size_t)(len) > (size_t)(cap)) return -EFAULT; } while (0)

/* A syscall's result, or -errno when it failed (returned -1). */
#define SANSOCK_INBAND(r) ((r) == -1 ? -errno : (r))

/* ---- libc calls with the error in band -------------------------------- */
static int sansock_socket(int domain, int type, int protocol)
{
    int r = socket(domain, type, protocol);
    return SANSOCK_INBAND(r);
}

static int sansock_socketpair(int domain, int type, int protocol, int sv[2])
{
    int r = socketpair(domain, type, protocol, sv);
    return SANSOCK_INBAND(r);
}

static int sansock_listen(int fd, int backlog)
{
    int r = listen(fd, backlog);
    return SANSOCK_INBAND(r);
}

static int sansock_shutdown(int fd, int how)
{
    int r = shutdown(fd, how);
    return SANSOCK_INBAND(r);
}

static int sansock_close(int fd)
{
    int r = close(fd);
    return SANSOCK_INBAND(r);
}

static int sansock_gethostname(char *name, size_t len)
{
    int r = gethostname(name, len);
    return SANSOCK_INBAND(r);
}

static int sansock_sethostname(const char *name, size_t len)
{
    int r = sethostname(name, len);
    return SANSOCK_INBAND(r);
}

/* if_nametoindex(3): the index, or -errno (-ENODEV when errno is 0: it
 * need not set errno for an unknown name). */
static long long sansock_if_nametoindex(const char *name)
{
    unsigned int r;
    errno = 0;
    r = if_nametoindex(name);
    if (r == 0)
        return -(long long)(errno ? errno : ENODEV);
    return (long long)r;
}

/* if_indextoname(3): 0, or -errno (INT_MIN when it failed without setting
 * errno: -0 would read as success). */
static int sansock_if_indextoname(unsigned int index, char *name)
{
    errno = 0;
    if (if_indextoname(index, name) == NULL)
        return errno ? -errno : INT_MIN;
    return 0;
}

/* if_nameindex(3): the array, or NULL with *err = errno. */
static struct if_nameindex *sansock_if_nameindex(int *err)
{
    struct if_nameindex *r = if_nameindex();
    *err = r == NULL ? errno : 0;
    return r;
}

/* getaddrinfo(3): 0, the EAI_* code, or INT_MIN + errno for EAI_SYSTEM
 * (EAI_* codes are small negatives: glibc, musl). */
static int sansock_getaddrinfo(const char *node, const char *service,
                               const struct addrinfo *hints, struct addrinfo **res)
{
    int r = getaddrinfo(node, service, hints, res);
    return r == EAI_SYSTEM ? INT_MIN + errno : r;
}

/* recv(2) into a buffer of cap bytes: the count, or -errno (in band, as the
 * direct calls below). */
static ssize_t sansock_recv(int fd, char *buf, size_t cap, size_t len, int flags)
{
    ssize_t r;
    if ((size_t)len > (size_t)cap)
        return -EFAULT;
    r = recv(fd, buf, len, flags);
    return r < 0 ? -(ssize_t)errno : r;
}

/* The direct calls of sansock.driver.DirectCalls: send(2) and recv(2) (no
 * flags) with the error in band, -errno, rather than in errno: CFFI saves
 * errno per thread, and a signal handler that runs between the call's return
 * and the check and makes a CFFI call of its own would replace it. */
static ssize_t sansock_direct_send(int fd, const char *buf, size_t n, int flags)
{
    ssize_t r = send(fd, buf, n, flags);
    return r < 0 ? -(ssize_t)errno : r;
}

static ssize_t sansock_direct_recv(int fd, char *buf, int cap, int len)
{
    ssize_t r;
    if (len < 0 || len > cap)
        return -EFAULT;
    r = recv(fd, buf, (size_t)len, 0);
    return r < 0 ? -(ssize_t)errno : r;
}

/* recv_into's direct call, sock_recv_into after its parse: nbytes 0 is the
 * whole buffer (cap bytes, the export's length) and an empty request makes no
 * syscall.  The count, -errno, or SANSOCK_RECV_INTO_ARGUMENT (below any
 * -errno) for nbytes negative or beyond the buffer: the core's general path
 * then raises CPython's ValueError. */
#define SANSOCK_RECV_INTO_ARGUMENT (-65536)
static ssize_t sansock_direct_recv_into(int fd, char *buf, int cap, int nbytes, int flags)
{
    ssize_t r;
    if (nbytes == 0)
        nbytes = cap;
    else if (nbytes < 0 || nbytes > cap)
        return SANSOCK_RECV_INTO_ARGUMENT;
    if (nbytes <= 0)
        return 0;
    r = recv(fd, buf, (size_t)nbytes, flags);
    return r < 0 ? -(ssize_t)errno : r;
}

/* fcntl(2): F_DUPFD_CLOEXEC, the lowest free fd >= 0, close-on-exec. */
static int sansock_dup_cloexec(int fd)
{
    int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return SANSOCK_INBAND(r);
}

/* fcntl(2) F_GETFL: 1 when O_NONBLOCK is set. */
static int sansock_get_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1)
        return -errno;
    return (flags & O_NONBLOCK) != 0;
}

/* ioctl(2) FIONBIO, as CPython's internal_setblocking (socketmodule.c). */
static int sansock_set_nonblocking(int fd, int nonblocking)
{
    int flag = nonblocking != 0;
    int r = ioctl(fd, FIONBIO, &flag);
    return SANSOCK_INBAND(r);
}

/* fcntl(2) F_GETFD: 1 when FD_CLOEXEC is clear. */
static int sansock_get_inheritable(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags == -1)
        return -errno;
    return (flags & FD_CLOEXEC) == 0;
}

/* ioctl(2) FIOCLEX/FIONCLEX, as CPython's set_inheritable (Python/fileutils.c). */
static int sansock_set_inheritable(int fd, int inheritable)
{
    int r = ioctl(fd, inheritable ? FIONCLEX : FIOCLEX, NULL);
    return SANSOCK_INBAND(r);
}

/* poll(2) on one fd: revents, 0 on timeout, or -errno. */
static int sansock_poll1(int fd, int events, int timeout_ms)
{
    struct pollfd pfd;
    int r;
    pfd.fd = fd;
    pfd.events = (short)events;
    pfd.revents = 0;
    r = poll(&pfd, 1, timeout_ms);
    if (r <= 0)
        return SANSOCK_INBAND(r);
    return pfd.revents;
}

/* clock_gettime(2) CLOCK_MONOTONIC in ns, or -errno. */
static long long sansock_monotonic_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return -errno;
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The PollCallDriver capability (sansock.driver): sock_call_ex's first
 * steps in one call, without waiting.  out[0] = CLOCK_MONOTONIC in ns read
 * first (the deadline's base), then poll(fd, events, 0), then the syscall
 * when ready.  The result says how it ended, in band: >= 0 the syscall's
 * result, -errno (above -SANSOCK_ERRNO_SPAN) the syscall failed,
 * SANSOCK_NOT_READY poll saw no event, SANSOCK_POLL_FAILED - errno the clock
 * or poll failed.  Never a wait: the core waits in poll(2) itself, after
 * re-reading the socket's fd, as internal_select re-reads s->sock_fd. */
#define SANSOCK_ERRNO_SPAN 65536
#define SANSOCK_NOT_READY (-SANSOCK_ERRNO_SPAN)
#define SANSOCK_POLL_FAILED (-2 * SANSOCK_ERRNO_SPAN)

/* 0 when ready, else SANSOCK_NOT_READY or SANSOCK_POLL_FAILED - errno. */
static int sansock_ready(int fd, short events, long long out[1])
{
    struct timespec ts;
    struct pollfd pfd;
    int r;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return SANSOCK_POLL_FAILED - errno;
    out[0] = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    pfd.fd = fd;
    pfd.events = events;
    pfd.revents = 0;
    r = poll(&pfd, 1, 0);
    if (r < 0)
        return SANSOCK_POLL_FAILED - errno;
    if (r == 0 || pfd.revents == 0)
        return SANSOCK_NOT_READY;
    return 0;
}

/* poll(fd, POLLOUT, 0), then send(2) when ready (see sansock_ready). */
static ssize_t sansock_poll_send(int fd, const char *buf, size_t len, int flags, long long out[1])
{
    ssize_t r = sansock_ready(fd, POLLOUT, out);
    if (r < 0)
        return r;
    r = send(fd, buf, len, flags);
    return SANSOCK_INBAND(r);
}

/* poll(fd, POLLIN, 0), then recv(2) into a buffer of cap bytes when ready. */
static ssize_t sansock_poll_recv(int fd, char *buf, size_t cap, size_t len, int flags, long long out[1])
{
    ssize_t r = sansock_ready(fd, POLLIN, out);
    if (r < 0)
        return r;
    SANSOCK_FITS(len, cap);
    r = recv(fd, buf, len, flags);
    return SANSOCK_INBAND(r);
}

static int sansock_bind(int fd, const char *addr, int addrlen)
{
    int r = bind(fd, (const struct sockaddr *)addr, (socklen_t)addrlen);
    return SANSOCK_INBAND(r);
}

static int sansock_connect(int fd, const char *addr, int addrlen)
{
    int r = connect(fd, (const struct sockaddr *)addr, (socklen_t)addrlen);
    return SANSOCK_INBAND(r);
}

/* accept4(2) into a struct sockaddr_storage; *addrlen gets the kernel's
 * length, clamped to the storage (the kernel reports the full length of a
 * truncated address). */
static int sansock_accept(int fd, char *addr, int *addrlen, int flags)
{
    socklen_t len = sizeof(struct sockaddr_storage);
    int r = accept4(fd, (struct sockaddr *)addr, &len, flags);
    if (r == -1)
        return -errno;
    *addrlen = len > sizeof(struct sockaddr_storage)
        ? (int)sizeof(struct sockaddr_storage) : (int)len;
    return r;
}

/* getsockname(2)/getpeername(2): returns the address length. */
static int sansock_getsockname(int fd, char *addr)
{
    socklen_t len = sizeof(struct sockaddr_storage);
    if (getsockname(fd, (struct sockaddr *)addr, &len) == -1)
        return -errno;
    return len > sizeof(struct sockaddr_storage)
        ? (int)sizeof(struct sockaddr_storage) : (int)len;
}

static int sansock_getpeername(int fd, char *addr)
{
    socklen_t len = sizeof(struct sockaddr_storage);
    if (getpeername(fd, (struct sockaddr *)addr, &len) == -1)
        return -errno;
    return len > sizeof(struct sockaddr_storage)
        ? (int)sizeof(struct sockaddr_storage) : (int)len;
}

/* getsockopt(2), int form, as CPython's sock_getsockopt: the int value, or
 * INT_MIN - errno (below any int) on failure, so no out-parameter and the
 * error in band (a direct call of sansock.driver.DirectCalls). */
static long long sansock_getsockopt_int(int fd, int level, int option)
{
    int flag = 0;
    socklen_t flagsize = sizeof(flag);
    if (getsockopt(fd, level, option, &flag, &flagsize) == -1)
        return (long long)INT_MIN - errno;
    return flag;
}

/* getsockopt(2), buffer form: the length the kernel returned, or -errno. */
static int sansock_getsockopt_buf(int fd, int level, int option, char *buf, size_t cap, int buflen)
{
    socklen_t len = (socklen_t)buflen;
    if (buflen < 0)
        return -EINVAL;
    SANSOCK_FITS(buflen, cap);
    if (getsockopt(fd, level, option, buf, &len) == -1)
        return -errno;
    return len > (socklen_t)buflen ? buflen : (int)len;
}

static int sansock_setsockopt_int(int fd, int level, int option, int value)
{
    int r = setsockopt(fd, level, option, &value, sizeof(value));
    return SANSOCK_INBAND(r);
}

/* buf may be NULL: setsockopt(fd, level, opt, NULL, optlen). */
static int sansock_setsockopt_buf(int fd, int level, int option, const char *buf, size_t cap,
                                  unsigned int buflen)
{
    int r;
    if (buf != NULL)
        SANSOCK_FITS(buflen, cap);
    r = setsockopt(fd, level, option, buf, (socklen_t)buflen);
    return SANSOCK_INBAND(r);
}

static ssize_t sansock_sendto(int fd, const char *buf, size_t len, int flags,
                              const char *addr, int addrlen)
{
    ssize_t r = sendto(fd, buf, len, flags, (const struct sockaddr *)addr, (socklen_t)addrlen);
    return SANSOCK_INBAND(r);
}

/* recvfrom(2) with a struct sockaddr_storage; *addrlen gets the length. */
static ssize_t sansock_recvfrom(int fd, char *buf, size_t cap, size_t len, int flags,
                                char *addr, int *addrlen)
{
    socklen_t alen = sizeof(struct sockaddr_storage);
    ssize_t r;
    SANSOCK_FITS(len, cap);
    memset(addr, 0, sizeof(struct sockaddr_storage));
    r = recvfrom(fd, buf, len, flags, (struct sockaddr *)addr, &alen);
    if (r == -1)
        return -errno;
    *addrlen = alen > sizeof(struct sockaddr_storage)
        ? (int)sizeof(struct sockaddr_storage) : (int)alen;
    return r;
}

/* sendmsg(2): the iovecs are built here from parallel base/length arrays.
 * The kernel checks nbuffers against IOV_MAX (EMSGSIZE), as CPython lets it. */
#define SANSOCK_IOV_STACK 64
static ssize_t sansock_sendmsg_iov(int fd, struct iovec *iov, int nbuffers,
                                   const char *control, size_t controllen,
                                   const char *name, int namelen, int flags)
{
    struct msghdr msg;
    ssize_t r;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = (void *)name;
    msg.msg_namelen = name == NULL ? 0 : (socklen_t)namelen;
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)nbuffers;
    msg.msg_control = controllen == 0 ? NULL : (void *)control;
    msg.msg_controllen = controllen;
    r = sendmsg(fd, &msg, flags);
    return SANSOCK_INBAND(r);
}

/* recvmsg(2): out[0] = msg_flags, out[1] = msg_controllen, out[2] =
 * msg_namelen (clamped to the storage).  name is a sockaddr_storage whose
 * family is preset to AF_UNSPEC, as CPython's sock_recvmsg_guts. */
static ssize_t sansock_recvmsg_iov(int fd, struct iovec *iov, int nbuffers,
                                   char *control, size_t controllen, char *name,
                                   int flags, long long out[3])
{
    struct msghdr msg;
    ssize_t r;
    memset(&msg, 0, sizeof(msg));
    memset(name, 0, sizeof(struct sockaddr_storage));
    ((struct sockaddr *)name)->sa_family = AF_UNSPEC;
    msg.msg_name = name;
    msg.msg_namelen = sizeof(struct sockaddr_storage);
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)nbuffers;
    msg.msg_control = controllen == 0 ? NULL : control;
    msg.msg_controllen = controllen;
    r = recvmsg(fd, &msg, flags);
    if (r == -1)
        return -errno;
    out[0] = msg.msg_flags;
    out[1] = (long long)(msg.msg_controllen > controllen ? controllen : msg.msg_controllen);
    out[2] = msg.msg_namelen > sizeof(struct sockaddr_storage)
        ? (long long)sizeof(struct sockaddr_storage) : (long long)msg.msg_namelen;
    return r;
}

/* Fills iovecs from (bases, lens); uses the stack up to SANSOCK_IOV_STACK
 * buffers and the heap beyond.  NULL with *err = EINVAL or ENOMEM. */
static struct iovec *sansock_fill_iov(struct iovec *stack, char **bases, size_t *lens,
                                      int nbuffers, int *err)
{
    struct iovec *iov = stack;
    int i;
    if (nbuffers < 0) {
        *err = EINVAL;
        return NULL;
    }
    if (nbuffers > SANSOCK_IOV_STACK) {
        iov = (struct iovec *)calloc((size_t)nbuffers, sizeof(struct iovec));
        if (iov == NULL) {
            *err = ENOMEM;
            return NULL;
        }
    }
    for (i = 0; i < nbuffers; i++) {
        iov[i].iov_base = bases[i];
        iov[i].iov_len = lens[i];
    }
    return iov;
}

static ssize_t sansock_sendmsg(int fd, char **bases, size_t *lens, int nbuffers,
                               const char *control, size_t controllen,
                               const char *name, int namelen, int flags)
{
    struct iovec stack[SANSOCK_IOV_STACK];
    int err = 0;
    struct iovec *iov = sansock_fill_iov(stack, bases, lens, nbuffers, &err);
    ssize_t r;
    if (iov == NULL)
        return -err;
    r = sansock_sendmsg_iov(fd, iov, nbuffers, control, controllen, name, namelen, flags);
    if (iov != stack)
        free(iov);
    return r;
}

static ssize_t sansock_recvmsg(int fd, char **bases, size_t *lens, int nbuffers,
                               char *control, size_t controlcap, size_t controllen, char *name,
                               int flags, long long out[3])
{
    struct iovec stack[SANSOCK_IOV_STACK];
    struct iovec *iov;
    ssize_t r;
    int err = 0;
    SANSOCK_FITS(controllen, controlcap);
    iov = sansock_fill_iov(stack, bases, lens, nbuffers, &err);
    if (iov == NULL)
        return -err;
    r = sansock_recvmsg_iov(fd, iov, nbuffers, control, controllen, name, flags, out);
    if (iov != stack)
        free(iov);
    return r;
}

/* One-buffer forms: the buffer is passed directly (bytes need no array). */
static ssize_t sansock_sendmsg1(int fd, const char *buf, size_t len,
                                const char *control, size_t controllen,
                                const char *name, int namelen, int flags)
{
    struct iovec iov;
    iov.iov_base = (void *)buf;
    iov.iov_len = len;
    return sansock_sendmsg_iov(fd, &iov, 1, control, controllen, name, namelen, flags);
}

/* The message calls of sansock.driver.DirectCalls, the error in band.  A
 * message block holds every buffer of one recvmsg: the data first (so the
 * received bytes are view[:n]), the out-values where Python reads them as a
 * memoryview of three long longs, the name, and the control buffer (8-byte
 * aligned: the out-values and the name before it are). */
#define SANSOCK_MSG_DATA 65536
#define SANSOCK_MSG_CONTROL 1024
struct sansock_msgbuf {
    char data[SANSOCK_MSG_DATA];
    long long out[3];
    char name[sizeof(struct sockaddr_storage)];
    char control[SANSOCK_MSG_CONTROL];
};

static ssize_t sansock_direct_recvmsg(int fd, struct sansock_msgbuf *m, int len, int controllen, int flags)
{
    struct iovec iov;
    if (len < 0 || len > SANSOCK_MSG_DATA || controllen < 0 || controllen > SANSOCK_MSG_CONTROL)
        return -EFAULT;
    /* TCP's MSG_TRUNC discards without copying: zeros, not an earlier
     * call's bytes from this pooled block (as recv and recvfrom). */
    if (flags & MSG_TRUNC)
        memset(m->data, 0, (size_t)len);
    iov.iov_base = m->data;
    iov.iov_len = (size_t)len;
    return sansock_recvmsg_iov(fd, &iov, 1, m->control, (size_t)controllen, m->name, flags, m->out);
}

static ssize_t sansock_direct_sendmsg(int fd, const char *buf, size_t len, const char *control, int controllen,
                                      int flags)
{
    struct iovec iov;
    if (controllen < 0)
        return -EFAULT;
    iov.iov_base = (void *)buf;
    iov.iov_len = len;
    return sansock_sendmsg_iov(fd, &iov, 1, control, (size_t)controllen, NULL, 0, flags);
}

static ssize_t sansock_recvmsg1(int fd, char *buf, size_t cap, size_t len,
                                char *control, size_t controlcap, size_t controllen, char *name,
                                int flags, long long out[3])
{
    struct iovec iov;
    SANSOCK_FITS(len, cap);
    SANSOCK_FITS(controllen, controlcap);
    iov.iov_base = buf;
    iov.iov_len = len;
    return sansock_recvmsg_iov(fd, &iov, 1, control, controllen, name, flags, out);
}

/* Two to four buffers passed as arguments: no arrays to fill from Python
 * (each cdata store costs more than the whole call's argument passing). */
static ssize_t sansock_recvmsg4(int fd, int nbuffers,
                                char *b0, size_t l0, char *b1, size_t l1,
                                char *b2, size_t l2, char *b3, size_t l3,
                                char *control, size_t controlcap, size_t controllen, char *name,
                                int flags, long long out[3])
{
    struct iovec iov[4];
    if (nbuffers < 0 || nbuffers > 4)
        return -EINVAL;
    SANSOCK_FITS(controllen, controlcap);
    iov[0].iov_base = b0;
    iov[0].iov_len = l0;
    iov[1].iov_base = b1;
    iov[1].iov_len = l1;
    iov[2].iov_base = b2;
    iov[2].iov_len = l2;
    iov[3].iov_base = b3;
    iov[3].iov_len = l3;
    return sansock_recvmsg_iov(fd, iov, nbuffers, control, controllen, name, flags, out);
}

/* sendfile(2) from an explicit offset (the file position is not moved):
 * the count, or -errno. */
static long long sansock_sendfile(int out_fd, int in_fd, long long offset, size_t count)
{
    off_t off = (off_t)offset;
    ssize_t r = sendfile(out_fd, in_fd, &off, count);
    return SANSOCK_INBAND((long long)r);
}

/* fstat(2) st_size, or -errno. */
static long long sansock_file_size(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == -1)
        return -errno;
    return (long long)st.st_size;
}

/* getnameinfo(3): 0, the EAI_* code, or INT_MIN + errno for EAI_SYSTEM
 * (as sansock_getaddrinfo). */
static int sansock_getnameinfo(const char *addr, int addrlen, char *host, int hostlen,
                               char *serv, int servlen, int flags)
{
    int r = getnameinfo((const struct sockaddr *)addr, (socklen_t)addrlen,
                        host, (socklen_t)hostlen, serv, (socklen_t)servlen, flags);
    return r == EAI_SYSTEM ? INT_MIN + errno : r;
}

/* ---- recvmmsg(2) / sendmmsg(2) ---------------------------------------- */
/* At most UIO_MAXIOV messages per call: the kernel caps vlen there anyway.
 * The mmsghdr and iovec arrays are per thread (the GIL is released during
 * the syscall) and allocated once, so a batch builds no array per call. */
#define SANSOCK_MMSG_MAX 1024
static __thread struct mmsghdr sansock_mmsg_hdrs[SANSOCK_MMSG_MAX];
static __thread struct iovec sansock_mmsg_iovs[SANSOCK_MMSG_MAX];

/* recvmmsg(2) with MSG_WAITFORONE: up to count datagrams of at most bufsize
 * bytes each, message i into data + i * bufsize and its sender into the
 * sockaddr_storage at names + i * sizeof(struct sockaddr_storage) (family
 * preset to AF_UNSPEC).  out[3 * i .. 3 * i + 2] = (length, msg_flags,
 * namelen clamped to the storage, or -1 when the name equals the previous
 * datagram's).  No timeout argument (its semantics are
 * broken, see BUGS in recvmmsg(2)): the core's timeout machine polls. */
static int sansock_recvmmsg(int fd, char *data, size_t cap, size_t bufsize, char *names,
                            int count, int flags, long long *out)
{
    struct mmsghdr *hdrs = sansock_mmsg_hdrs;
    struct iovec *iovs = sansock_mmsg_iovs;
    const size_t ss = sizeof(struct sockaddr_storage);
    socklen_t prev_nl = 0;
    int i, r;
    if (count <= 0)
        return -EINVAL;
    if (count > SANSOCK_MMSG_MAX)
        count = SANSOCK_MMSG_MAX;
    if (bufsize != 0 && (size_t)count > cap / bufsize)
        return -EFAULT;
    for (i = 0; i < count; i++) {
        char *name = names + (size_t)i * ss;
        ((struct sockaddr *)name)->sa_family = AF_UNSPEC;
        iovs[i].iov_base = data + (size_t)i * bufsize;
        iovs[i].iov_len = bufsize;
        memset(&hdrs[i].msg_hdr, 0, sizeof(struct msghdr));
        hdrs[i].msg_hdr.msg_name = name;
        hdrs[i].msg_hdr.msg_namelen = (socklen_t)ss;
        hdrs[i].msg_hdr.msg_iov = &iovs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
        hdrs[i].msg_len = 0;
    }
    r = recvmmsg(fd, hdrs, (unsigned int)count, flags | MSG_WAITFORONE, NULL);
    if (r == -1)
        return -errno;
    for (i = 0; i < r; i++) {
        socklen_t nl = hdrs[i].msg_hdr.msg_namelen > ss
            ? (socklen_t)ss : hdrs[i].msg_hdr.msg_namelen;
        out[3 * i] = (long long)hdrs[i].msg_len;
        out[3 * i + 1] = hdrs[i].msg_hdr.msg_flags;
        out[3 * i + 2] = (long long)nl;
        /* -1: the same sender as the previous datagram (a batch usually
         * comes from few senders; Python then reuses one bytes object). */
        if (i > 0 && nl > 0 && nl == prev_nl
                && memcmp(names + (size_t)i * ss, names + (size_t)(i - 1) * ss, nl) == 0)
            out[3 * i + 2] = -1;
        prev_nl = nl;
    }
    return r;
}

/* sendmmsg(2): message i is lens[i] bytes of data (the messages laid end to
 * end), to the namelens[i] bytes of names (laid end to end; 0: no address,
 * msg_name NULL).  Returns the number of messages sent. */
static int sansock_sendmmsg(int fd, const char *data, size_t datalen, const long long *lens,
                            const char *names, size_t nameslen, const long long *namelens,
                            int count, int flags)
{
    struct mmsghdr *hdrs = sansock_mmsg_hdrs;
    struct iovec *iovs = sansock_mmsg_iovs;
    size_t off = 0, noff = 0;
    int i, r;
    if (count < 0 || count > SANSOCK_MMSG_MAX)
        return -EINVAL;
    for (i = 0; i < count; i++) {
        if (lens[i] < 0 || namelens[i] < 0
                || (size_t)lens[i] > datalen - off
                || (size_t)namelens[i] > nameslen - noff)
            return -EFAULT;
        iovs[i].iov_base = (void *)(data + off);
        iovs[i].iov_len = (size_t)lens[i];
        off += (size_t)lens[i];
        memset(&hdrs[i].msg_hdr, 0, sizeof(struct msghdr));
        if (namelens[i] > 0) {
            hdrs[i].msg_hdr.msg_name = (void *)(names + noff);
            hdrs[i].msg_hdr.msg_namelen = (socklen_t)namelens[i];
            noff += (size_t)namelens[i];
        }
        hdrs[i].msg_hdr.msg_iov = &iovs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
        hdrs[i].msg_len = 0;
    }
    r = sendmmsg(fd, hdrs, (unsigned int)count, flags);
    return SANSOCK_INBAND(r);
}

/* ---- build-time facts ------------------------------------------------- */
struct sansock_named_value {
    const char *name;
    long long value;
};

/* Generated by _build.py below this header: sansock_constants[],
 * sansock_errnos[], sansock_sizes[] and their lengths. */
