/* Destination addresses as the policy sees them: 16 bytes, IPv4 v4-mapped
 * (::ffff:a.b.c.d), so one LPM trie and one lookup serve every hook. */
#ifndef EGRESSD_BPF_ADDR_H
#define EGRESSD_BPF_ADDR_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>

/* Words in network byte order, as struct in6_addr holds them. */
struct egressd_addr {
	__u32 w[4];
};

static __always_inline struct egressd_addr egressd_addr_v4(__u32 ip4_be)
{
	struct egressd_addr a = { .w = { 0, 0, bpf_htonl(0xffff), ip4_be } };
	return a;
}

static __always_inline int egressd_addr_is_v4mapped(const struct egressd_addr *a)
{
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == bpf_htonl(0xffff);
}

/* Loopback, and the unspecified address, which Linux connects to loopback:
 * 127/8, ::1, ::ffff:127/104, 0.0.0.0, ::, ::ffff:0.0.0.0. */
static __always_inline int egressd_addr_is_local(const struct egressd_addr *a)
{
	if (egressd_addr_is_v4mapped(a))
		return (bpf_ntohl(a->w[3]) >> 24) == 127 || a->w[3] == 0;
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == 0 &&
	       (a->w[3] == 0 || a->w[3] == bpf_htonl(1));
}

/* An address as a map or helper struct holds it (16 bytes, any alignment)
 * equals `a`. */
static __always_inline int egressd_addr_equals(const void *stored, const struct egressd_addr *a)
{
	struct egressd_addr s;

	__builtin_memcpy(s.w, stored, sizeof(s.w));
	return s.w[0] == a->w[0] && s.w[1] == a->w[1] && s.w[2] == a->w[2] && s.w[3] == a->w[3];
}

#endif /* EGRESSD_BPF_ADDR_H */
