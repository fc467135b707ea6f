/* Copying packet bytes whose length is only known at run time. */
#ifndef EGRESSD_BPF_SKB_COPY_H
#define EGRESSD_BPF_SKB_COPY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Copies len bytes (1..max) of the packet at off into dst, which holds max;
 * -1 when len is 0 or above max, else what bpf_skb_load_bytes returns.
 *
 * The helper's length must be provably >= 1. 6.1's verifier does not learn
 * that from len != 0 (newer ones do), and clang turns len < 1 into len == 0,
 * so the bound is checked on m = len - 1 and m + 1 is passed: one unsigned
 * range check covers both ends (len 0 wraps above it). The empty asm keeps m
 * in the register that is checked; without it clang folds m + 1 back into
 * len, a register the verifier knows nothing about. */
static __always_inline int egressd_skb_copy(struct __sk_buff *skb, __u32 off, void *dst, __u64 len, __u64 max)
{
	__u64 m = len - 1;

	asm volatile("" : "+r"(m));
	if (m > max - 1)
		return -1;
	return bpf_skb_load_bytes(skb, off, dst, m + 1);
}

#endif
