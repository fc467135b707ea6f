/* A scope's bit in a scope bitmap (EGRESSD_SCOPE_WORDS words: a port
 * entry's allow_scopes and redirect_scopes, a DNS name's scopes, the agent's
 * scope sets). One definition for the kernel (clang -target bpf) and user
 * space. The word index is masked: a proof of bounds for the verifier; the
 * agent never gives out a scope id past EGRESSD_MAX_SCOPES. */
#ifndef EGRESSD_SCOPE_BITS_H
#define EGRESSD_SCOPE_BITS_H

#include "egressd/abi.h"

static inline int egressd_scope_bit_test(const __u64 *bitmap, __u32 scope_id)
{
	return (bitmap[(scope_id / 64) & (EGRESSD_SCOPE_WORDS - 1)] >> (scope_id % 64)) & 1;
}

static inline void egressd_scope_bit_set(__u64 *bitmap, __u32 scope_id, int on)
{
	__u64 bit = 1ull << (scope_id % 64);
	__u64 *word = &bitmap[(scope_id / 64) & (EGRESSD_SCOPE_WORDS - 1)];

	*word = on ? (*word | bit) : (*word & ~bit);
}

#endif /* EGRESSD_SCOPE_BITS_H */
