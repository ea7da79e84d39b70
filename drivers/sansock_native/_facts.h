/* Build-time facts of the host, read by sansock_native.host_abi().
 *
 * Appended by _build.py after the generated tables sansock_constants[],
 * sansock_errnos[] and sansock_sizes[] (struct sansock_named_value).
 */

static const struct sansock_named_value *sansock_table(int table, int *size)
{
    switch (table) {
    case 0:
        *size = (int)(sizeof(sansock_constants) / sizeof(sansock_constants[0]));
        return sansock_constants;
    case 1:
        *size = (int)(sizeof(sansock_errnos) / sizeof(sansock_errnos[0]));
        return sansock_errnos;
    case 2:
        *size = (int)(sizeof(sansock_sizes) / sizeof(sansock_sizes[0]));
        return sansock_sizes;
    default:
        *size = 0;
        return NULL;
    }
}

/* Each table ends with a {NULL, 0} sentinel, not counted. */
static int sansock_table_size(int table)
{
    int size;
    (void)sansock_table(table, &size);
    return size > 0 ? size - 1 : 0;
}

static const char *sansock_table_name(int table, int index)
{
    int size;
    const struct sansock_named_value *t = sansock_table(table, &size);
    if (t == NULL || index < 0 || index >= size - 1)
        return NULL;
    return t[index].name;
}

static long long sansock_table_value(int table, int index)
{
    int size;
    const struct sansock_named_value *t = sansock_table(table, &size);
    if (t == NULL || index < 0 || index >= size - 1)
        return 0;
    return t[index].value;
}

/* The layout facts of <sys/socket.h> (cmsg(3)) and <sys/un.h> (unix(7)). */
static void sansock_layout(long long out[13])
{
    union { int i; char c[sizeof(int)]; } probe;
    probe.i = 1;
    out[0] = (long long)sizeof(int);
    out[1] = (long long)sizeof(long);
    out[2] = (long long)sizeof(socklen_t);
    out[3] = (long long)sizeof(size_t);
    out[4] = (long long)sizeof(((struct cmsghdr *)0)->cmsg_len);
    out[5] = (long long)sizeof(struct cmsghdr);
    out[6] = (long long)offsetof(struct cmsghdr, cmsg_level);
    out[7] = (long long)offsetof(struct cmsghdr, cmsg_type);
    out[8] = (long long)CMSG_ALIGN(1);
    out[9] = (long long)sizeof(((struct sockaddr_un *)0)->sun_path);
    out[10] = (long long)SOMAXCONN;
    out[11] = (long long)sizeof(struct sockaddr_storage);
    out[12] = probe.c[0] == 1;
}

/* sysconf(3) _SC_IOV_MAX; IOV_MAX of <limits.h> when sysconf has no answer. */
static long long sansock_iov_max(void)
{
    long v = sysconf(_SC_IOV_MAX);
    if (v > 0)
        return v;
#ifdef IOV_MAX
    return IOV_MAX;
#else
    return 16; /* POSIX _XOPEN_IOV_MAX */
#endif
}

/* The real cmsg(3) macros, for tests of the core's pure arithmetic. */
static long long sansock_cmsg_len(long long n)
{
    return (long long)CMSG_LEN((size_t)n);
}

static long long sansock_cmsg_space(long long n)
{
    return (long long)CMSG_SPACE((size_t)n);
}

/* CMSG_FIRSTHDR/CMSG_NXTHDR walk over a control buffer, as CPython's
 * sock_recvmsg_guts does: records (offset, cmsg_len, level, type, data
 * offset), at most max of them; returns how many were written. */
static int sansock_cmsg_walk(char *control, size_t controllen, long long *out, int max)
{
    struct msghdr msg;
    struct cmsghdr *h;
    int n = 0;
    memset(&msg, 0, sizeof(msg));
    msg.msg_control = control;
    msg.msg_controllen = controllen;
    if (controllen == 0)
        return 0;
    for (h = CMSG_FIRSTHDR(&msg); h != NULL && n < max; h = CMSG_NXTHDR(&msg, h)) {
        out[5 * n + 0] = (long long)((char *)h - control);
        out[5 * n + 1] = (long long)h->cmsg_len;
        out[5 * n + 2] = h->cmsg_level;
        out[5 * n + 3] = h->cmsg_type;
        out[5 * n + 4] = (long long)((char *)CMSG_DATA(h) - control);
        n++;
    }
    return n;
}
