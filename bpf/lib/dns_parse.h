/* DNS answer parser shared by the kernel (clang -target bpf) and its user-space
 * twin (g++/clang++): one source, so the fuzzer and unit tests exercise the
 * exact code the verifier loads. Pure C, no BPF helpers: the caller copies the
 * UDP payload into a DNS_BUF_SIZE buffer (a per-CPU map value in BPF) and
 * hands over a result struct (also map memory in BPF: it is too big for the
 * 512-byte stack).
 *
 * Verifier notes, the reason for the shape of the code:
 *  - every message read is buf[off & DNS_BUF_MASK] on a power-of-two buffer,
 *    so it is in bounds whatever the verifier knows about off; the logical
 *    check off < len is separate (the fuzzer asserts it, DNS_PARSE_CHECK_READ);
 *  - every loop has a constant bound;
 *  - state carried from one loop iteration to the next (cursor, label index)
 *    lives in res->st and is accessed through a volatile pointer. The verifier
 *    forgets map memory between loads, so paths that differ only in data
 *    converge to one state at the loop head and are pruned; kept in registers
 *    the verifier would track every data-dependent path separately.
 *
 * Name representation (what the kernel matches against policy): the question
 * name, lowercased, in *reversed* wire format without the root label:
 * "Api.GitHub.com." -> "\3com\6github\3api". The last k labels of the name are
 * then the prefix rname[0, suffix_end[k-1]), so:
 *  - exact host "api.github.com": key = suffix_hash[label_count-1];
 *  - wildcard "*.github.com" (any depth, never the apex): the suffix of 2
 *    labels, suffix_hash[1], checked only when label_count > 2.
 * A map lookup per candidate suffix (at most label_count) finds exact and
 * wildcard matches. suffix_hash is FNV-1a 64 over the prefix: a cheap index,
 * not collision-proof against a chosen name, so a map value should carry the
 * reversed name and the kernel confirms with a bounded compare of the prefix
 * (length-prefixed labels make prefix equality label-aligned: "\3com\7example"
 * is not a prefix of "\3com\10example2"). dns_rname_from_text() builds the
 * same form from a host for the compiler.
 */
#ifndef EGRESSD_DNS_PARSE_H
#define EGRESSD_DNS_PARSE_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Each loop is its own subprogram. In BPF a global (non-static, noinline)
 * function is verified once, on its own, with unknown arguments: the states
 * leaving one loop cannot multiply the work of verifying the next one. In
 * user space they are ordinary static functions. */
#ifdef __bpf__
#define DNS_SUBPROG __attribute__((noinline))
#else
#define DNS_SUBPROG static inline
#endif

/* Largest UDP payload copied and parsed. 1232 is the EDNS0 buffer size of
 * DNS Flag Day 2020, the default of BIND, Unbound, Knot and CoreDNS, so
 * resolvers do not send larger UDP answers; a larger one is punted. */
/* The bounds may be raised by a user-space translation unit that defines
 * them first (the agent's fallback parser for what the kernel punts); the
 * kernel and the twin use these. */
#ifndef DNS_MSG_MAX
#define DNS_MSG_MAX 1232
#endif
/* Scratch buffer: a power of two >= DNS_MSG_MAX so that off & mask is a
 * verifier-proof bound. */
#ifndef DNS_BUF_SIZE
#define DNS_BUF_SIZE 2048
#endif
#define DNS_BUF_MASK (DNS_BUF_SIZE - 1)

/* RFC 1035 limits: 255 bytes of wire name (incl. root), 63-byte labels. */
#define DNS_NAME_MAX 255
#define DNS_LABEL_MAX 63
#define DNS_RNAME_SIZE 256 /* reversed name without root: <= 254 bytes */
/* Labels kept for the question and walked in an answer owner name. Real
 * names have < 10 ("x.default.svc.cluster.local" has 5); more is punted. */
#ifndef DNS_MAX_LABELS
#define DNS_MAX_LABELS 32 /* a power of two */
#endif
/* Compression pointers followed in the question name. Each hop must go
 * strictly backwards, which also rules out loops. */
#define DNS_MAX_PTR_HOPS 4
/* Answer records walked, and A/AAAA records kept. A CDN answer is a few
 * CNAMEs and up to 8 addresses; anything larger is punted, never cut short,
 * so no address is silently lost. */
#ifndef DNS_MAX_ANSWERS
#define DNS_MAX_ANSWERS 16
#endif
#ifndef DNS_MAX_ADDRS
#define DNS_MAX_ADDRS 16 /* a power of two, <= 128 */
#endif

#define DNS_HDR_LEN 12
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1

/* Header flag bits (host order of the 16-bit flags word). */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_TC 0x0200
#define DNS_RCODE(flags) ((flags)&0x000f)
#define DNS_RCODE_NXDOMAIN 3

enum dns_parse_status {
	DNS_PARSE_OK = 0,
	DNS_PARSE_NOT_RESPONSE = 1, /* QR clear: a query */
	DNS_PARSE_TRUNCATED = 2,    /* TC set: the client will retry over TCP */
	DNS_PARSE_MALFORMED = 3,    /* violates RFC 1035 framing: ignore */
	DNS_PARSE_TOO_COMPLEX = 4,  /* valid but beyond a bound above: punt */
	DNS_PARSE_NAME_TOO_LONG = 5, /* question name > DNS_NAME_MAX */
	DNS_PARSE_STATUS_COUNT = 6,
};

/* The message buffer; a struct so a global subprogram knows its size. */
struct dns_msg {
	__u8 data[DNS_BUF_SIZE];
};

/* One A or AAAA record; IPv4 is v4-mapped (::ffff:a.b.c.d) like the ABI's
 * prefix keys, so one LPM/hash key shape serves both families. */
struct dns_addr {
	__u8 addr[16];
	__u32 ttl; /* seconds, as sent (0 stays 0; clamping is policy) */
	__u16 type; /* DNS_TYPE_A or DNS_TYPE_AAAA */
	__u16 pad;
};

/* Loop-carried parser state; see the verifier notes above. */
struct dns_parse_state {
	__u32 cur;    /* message offset being read */
	__u32 limit;  /* a pointer must target below this (strictly backwards) */
	__u32 qend;   /* offset just past the question name */
	__u32 hops;
	__u32 label;  /* label being copied in the reversal */
	__u32 in_label; /* byte index within it, 0 = the length byte */
	__u32 wire;   /* wire length of the name so far */
	__u32 len;    /* message length, reloaded each iteration (see above) */
	__u64 hash;
	/* dns_hash_name(): reading position, where the name ends in place,
	 * pointer bound and hops, bytes left in the label, wire length, hash. */
	__u32 nread;
	__u32 nend;
	__u32 nlimit;
	__u32 nhops;
	__u32 nleft;
	__u32 nwire;
	__u64 nhash;
};

struct dns_parse_result {
	__u8 status; /* enum dns_parse_status */
	__u8 rcode;
	__u8 label_count;
	__u8 addr_count;
	__u8 off_chain; /* A/AAAA records skipped: owner not on the question's CNAME chain */
	__u16 id;
	__u16 flags; /* raw header flags: DNS_FLAG_QR, DNS_FLAG_TC, DNS_RCODE() */
	__u16 qtype;
	__u16 qclass;
	__u16 ancount; /* as in the header */
	__u16 rname_len;
	/* dns_hash_name() of the question name, then of each CNAME target that
	 * continues the chain: the owner an address record must have. */
	__u64 chain_hash;
	__u32 chain_off; /* where that name is spelled out: an owner pointing here is it */
	__u8 rname[DNS_RNAME_SIZE]; /* reversed, lowercased; see top comment */
	/* suffix_end[k]: length of the rname prefix holding the last k+1 labels;
	 * suffix_hash[k]: dns_rname_hash() of that prefix. */
	__u8 suffix_end[DNS_MAX_LABELS];
	__u64 suffix_hash[DNS_MAX_LABELS];
	struct dns_addr addrs[DNS_MAX_ADDRS];
	/* Scratch: wire offset and length of each question label, in order. */
	__u16 label_off[DNS_MAX_LABELS];
	__u8 label_len[DNS_MAX_LABELS];
	struct dns_parse_state st;
};

/* Fuzzer hook: abort on a read at or past len (masking keeps such a read in
 * the buffer, so ASan alone would not notice). */
#ifndef DNS_PARSE_CHECK_READ
#define DNS_PARSE_CHECK_READ(off, len) ((void)0)
#endif

#define DNS_FNV_OFFSET 0xcbf29ce484222325ULL
#define DNS_FNV_PRIME 0x100000001b3ULL

static __always_inline __u8 dns_byte(const __u8 *buf, __u32 len, __u32 off)
{
	DNS_PARSE_CHECK_READ(off, len);
	(void)len;
	return buf[off & DNS_BUF_MASK];
}

static __always_inline __u16 dns_u16(const __u8 *buf, __u32 len, __u32 off)
{
	return (__u16)((dns_byte(buf, len, off) << 8) | dns_byte(buf, len, off + 1));
}

static __always_inline __u32 dns_u32(const __u8 *buf, __u32 len, __u32 off)
{
	return ((__u32)dns_u16(buf, len, off) << 16) | dns_u16(buf, len, off + 2);
}

static __always_inline __u8 dns_lower(__u8 c)
{
	return (c >= 'A' && c <= 'Z') ? (__u8)(c | 0x20) : c;
}

static __always_inline __u64 dns_hash_byte(__u64 h, __u8 c)
{
	return (h ^ c) * DNS_FNV_PRIME;
}

/* FNV-1a 64 of an rname prefix; what suffix_hash[] holds. */
static __always_inline __u64 dns_rname_hash(const __u8 *rname, __u32 len)
{
	__u64 h = DNS_FNV_OFFSET;
	for (__u32 i = 0; i < DNS_RNAME_SIZE && i < len; i++)
		h = dns_hash_byte(h, rname[i]);
	return h;
}

/* Walks the question name from st->cur, following compression pointers, and
 * records each label's wire offset and length. Returns a status; on OK,
 * st->qend is the offset just past the name. */
DNS_SUBPROG int dns_walk_qname(const struct dns_msg *msg, __u32 len,
			       struct dns_parse_result *res)
{
	if (!msg || !res) /* global subprogram: the verifier asks */
		return DNS_PARSE_MALFORMED;
	const __u8 *buf = msg->data;
	volatile struct dns_parse_state *st = &res->st;

	for (int i = 0; i < DNS_MAX_LABELS + DNS_MAX_PTR_HOPS + 1; i++) {
		len = st->len;
		__u32 cur = st->cur;
		if (cur >= len)
			return DNS_PARSE_MALFORMED;
		__u8 b = dns_byte(buf, len, cur);
		if (b == 0) {
			if (!st->hops)
				st->qend = cur + 1;
			return DNS_PARSE_OK;
		}
		if ((b & 0xc0) == 0xc0) {
			if (cur + 1 >= len)
				return DNS_PARSE_MALFORMED;
			__u32 target = ((__u32)(b & 0x3f) << 8) | dns_byte(buf, len, cur + 1);
			/* Strictly backwards from where this run started: no loops. */
			if (target >= st->limit)
				return DNS_PARSE_MALFORMED;
			if (st->hops >= DNS_MAX_PTR_HOPS)
				return DNS_PARSE_TOO_COMPLEX;
			if (!st->hops)
				st->qend = cur + 2;
			st->hops = st->hops + 1;
			st->cur = target;
			st->limit = target;
			continue;
		}
		if (b > DNS_LABEL_MAX) /* 0x40 and 0x80: reserved label types */
			return DNS_PARSE_MALFORMED;
		__u32 wire = st->wire + 1 + b;
		if (wire + 1 > DNS_NAME_MAX) /* + 1: the root label */
			return DNS_PARSE_NAME_TOO_LONG;
		if (cur + 1 + b > len)
			return DNS_PARSE_MALFORMED;
		__u32 n = res->label_count;
		if (n >= DNS_MAX_LABELS)
			return DNS_PARSE_TOO_COMPLEX;
		res->label_off[n & (DNS_MAX_LABELS - 1)] = (__u16)(cur + 1);
		res->label_len[n & (DNS_MAX_LABELS - 1)] = b;
		res->label_count = (__u8)(n + 1);
		st->wire = wire;
		st->cur = cur + 1 + b;
	}
	return DNS_PARSE_TOO_COMPLEX;
}

/* Writes the recorded labels last-to-first, lowercased, into rname, and the
 * FNV-1a hash at every label boundary. One flat loop over output bytes: the
 * verifier sees DNS_RNAME_SIZE iterations, not labels x bytes. */
DNS_SUBPROG int dns_reverse_qname(const struct dns_msg *msg, __u32 len,
				  struct dns_parse_result *res)
{
	if (!msg || !res)
		return DNS_PARSE_MALFORMED;
	const __u8 *buf = msg->data;
	volatile struct dns_parse_state *st = &res->st;
	__u32 count = res->label_count;

	res->rname_len = (__u16)st->wire;
	st->label = count - 1;
	st->in_label = 0;
	st->hash = DNS_FNV_OFFSET;
	for (__u32 p = 0; p < DNS_RNAME_SIZE - 1; p++) {
		if (p >= st->wire)
			break;
		len = st->len;
		__u32 l = st->label & (DNS_MAX_LABELS - 1);
		__u32 k = st->in_label;
		__u32 llen = res->label_len[l];
		__u8 c;
		if (k == 0)
			c = (__u8)llen;
		else
			c = dns_lower(dns_byte(buf, len, res->label_off[l] + k - 1));
		res->rname[p] = c;
		__u64 h = dns_hash_byte(st->hash, c);
		st->hash = h;
		if (k >= llen) { /* label done: record the suffix */
			__u32 done = (res->label_count - 1 - l) & (DNS_MAX_LABELS - 1);
			res->suffix_end[done] = (__u8)(p + 1);
			res->suffix_hash[done] = h;
			st->label = l - 1;
			st->in_label = 0;
		} else {
			st->in_label = k + 1;
		}
	}
	return DNS_PARSE_OK;
}

/* Hashes the name at st->cur (lowercased labels with their length bytes,
 * following compression pointers, each strictly backwards from where the
 * name started and from the previous one) into st->nhash, and moves st->cur
 * past the name as it sits in the message. Two spellings of one name, with
 * or without compression or in another case, hash alike. One flat loop over
 * wire bytes, as in dns_reverse_qname(). */
DNS_SUBPROG int dns_hash_name(const struct dns_msg *msg, __u32 len,
			      struct dns_parse_result *res)
{
	if (!msg || !res)
		return DNS_PARSE_MALFORMED;
	const __u8 *buf = msg->data;
	volatile struct dns_parse_state *st = &res->st;

	/* Reading len here also keeps the compiler from dropping the argument,
	 * which the verifier checks at every call of a global function. */
	if (st->cur >= len)
		return DNS_PARSE_MALFORMED;
	st->nread = st->cur;
	st->nlimit = st->cur;
	st->nend = 0;
	st->nhops = 0;
	st->nleft = 0;
	st->nwire = 0;
	st->nhash = DNS_FNV_OFFSET;
	for (int i = 0; i < DNS_NAME_MAX + DNS_MAX_PTR_HOPS + 1; i++) {
		len = st->len;
		__u32 r = st->nread;
		if (r >= len)
			return DNS_PARSE_MALFORMED;
		__u8 b = dns_byte(buf, len, r);
		__u32 left = st->nleft;
		if (left) { /* a byte of the current label */
			st->nhash = dns_hash_byte(st->nhash, dns_lower(b));
			st->nleft = left - 1;
			st->nread = r + 1;
			continue;
		}
		if (b == 0) {
			st->cur = st->nhops ? st->nend : r + 1;
			return DNS_PARSE_OK;
		}
		if ((b & 0xc0) == 0xc0) {
			if (r + 1 >= len)
				return DNS_PARSE_MALFORMED;
			__u32 target = ((__u32)(b & 0x3f) << 8) | dns_byte(buf, len, r + 1);
			if (target >= st->nlimit)
				return DNS_PARSE_MALFORMED;
			if (st->nhops >= DNS_MAX_PTR_HOPS)
				return DNS_PARSE_TOO_COMPLEX;
			if (!st->nhops)
				st->nend = r + 2;
			st->nhops = st->nhops + 1;
			st->nread = target;
			st->nlimit = target;
			continue;
		}
		if (b > DNS_LABEL_MAX)
			return DNS_PARSE_MALFORMED;
		__u32 wire = st->nwire + 1 + b;
		if (wire + 1 > DNS_NAME_MAX)
			return DNS_PARSE_MALFORMED;
		st->nwire = wire;
		st->nhash = dns_hash_byte(st->nhash, b);
		st->nleft = b;
		st->nread = r + 1;
	}
	return DNS_PARSE_TOO_COMPLEX;
}

/* Reads one answer record at st->cur. An IN CNAME owned by the chain's
 * current name moves the chain to its target; an IN A/AAAA is kept only when
 * owned by the chain's name, so records a resolver adds for other names are
 * never learned for the question. Chains are taken in answer order, as
 * resolvers write them (RFC 1034 4.3.2). */
DNS_SUBPROG int dns_read_answer(const struct dns_msg *msg, __u32 len,
				struct dns_parse_result *res)
{
	if (!msg || !res)
		return DNS_PARSE_MALFORMED;
	const __u8 *buf = msg->data;
	volatile struct dns_parse_state *st = &res->st;
	__u64 owner;
	__u32 cur = st->cur;
	if (cur + 1 < len && (dns_byte(buf, len, cur) & 0xc0) == 0xc0 &&
	    (((__u32)(dns_byte(buf, len, cur) & 0x3f) << 8) | dns_byte(buf, len, cur + 1)) == res->chain_off) {
		/* The usual compressed owner: a pointer to the chain's name. */
		owner = res->chain_hash;
		st->cur = cur + 2;
	} else {
		int rc = dns_hash_name(msg, len, res);
		if (rc != DNS_PARSE_OK)
			return rc;
		owner = st->nhash;
	}
	len = st->len;
	cur = st->cur;
	if (cur + 10 > len)
		return DNS_PARSE_MALFORMED;
	__u16 type = dns_u16(buf, len, cur);
	__u16 klass = dns_u16(buf, len, cur + 2);
	__u32 ttl = dns_u32(buf, len, cur + 4);
	__u16 rdlen = dns_u16(buf, len, cur + 8);
	cur += 10;
	if (cur + rdlen > len)
		return DNS_PARSE_MALFORMED;
	if (klass == DNS_CLASS_IN && type == DNS_TYPE_CNAME && owner == res->chain_hash) {
		st->cur = cur;
		int rc = dns_hash_name(msg, len, res);
		if (rc != DNS_PARSE_OK)
			return rc;
		if (st->cur != cur + rdlen) /* the target must fill the rdata */
			return DNS_PARSE_MALFORMED;
		res->chain_hash = st->nhash;
		/* A target that is a lone pointer is spelled where it points. */
		res->chain_off = rdlen == 2 ? (((__u32)(dns_byte(buf, len, cur) & 0x3f) << 8) | dns_byte(buf, len, cur + 1)) : cur;
		return DNS_PARSE_OK;
	}
	st->cur = cur + rdlen;
	if (klass != DNS_CLASS_IN || (type != DNS_TYPE_A && type != DNS_TYPE_AAAA))
		return DNS_PARSE_OK; /* DNAME, RRSIG, other classes, CNAMEs off the chain: skipped */
	if (rdlen != (type == DNS_TYPE_A ? 4 : 16))
		return DNS_PARSE_MALFORMED;
	if (owner != res->chain_hash) {
		res->off_chain = res->off_chain + 1;
		return DNS_PARSE_OK;
	}
	__u32 n = res->addr_count;
	if (n >= DNS_MAX_ADDRS)
		return DNS_PARSE_TOO_COMPLEX;
	struct dns_addr *a = &res->addrs[n & (DNS_MAX_ADDRS - 1)];
	if (type == DNS_TYPE_A) {
		for (int i = 0; i < 10; i++)
			a->addr[i] = 0;
		a->addr[10] = 0xff;
		a->addr[11] = 0xff;
		for (int i = 0; i < 4; i++)
			a->addr[12 + i] = dns_byte(buf, len, cur + i);
	} else {
		for (int i = 0; i < 16; i++)
			a->addr[i] = dns_byte(buf, len, cur + i);
	}
	a->ttl = ttl;
	a->type = type;
	a->pad = 0;
	res->addr_count = (__u8)(n + 1);
	return DNS_PARSE_OK;
}

/* Header and question; want_response says which QR bit is expected. On OK,
 * the name, its suffix hashes and qtype are set and st->qend is past the name. */
static __always_inline int dns_parse_question(const struct dns_msg *msg, __u32 len,
					      struct dns_parse_result *res, int want_response)
{
	const __u8 *buf = msg->data;
	volatile struct dns_parse_state *st = &res->st;

	if (len > DNS_MSG_MAX)
		return DNS_PARSE_TOO_COMPLEX;
	if (len < DNS_HDR_LEN)
		return DNS_PARSE_MALFORMED;
	res->id = dns_u16(buf, len, 0);
	res->flags = dns_u16(buf, len, 2);
	res->rcode = (__u8)DNS_RCODE(res->flags);
	__u16 qdcount = dns_u16(buf, len, 4);
	res->ancount = dns_u16(buf, len, 6);
	if (!(res->flags & DNS_FLAG_QR) != !want_response)
		return want_response ? DNS_PARSE_NOT_RESPONSE : DNS_PARSE_MALFORMED;
	if (qdcount == 0)
		return DNS_PARSE_MALFORMED; /* nothing to tie the answer to */
	if (qdcount > 1)
		return DNS_PARSE_TOO_COMPLEX; /* legal, never sent by resolvers */

	st->len = len;
	st->cur = DNS_HDR_LEN;
	st->limit = DNS_HDR_LEN;
	int rc = dns_walk_qname(msg, len, res);
	if (rc != DNS_PARSE_OK)
		return rc;
	__u32 cur = st->qend;
	if (cur + 4 > len)
		return DNS_PARSE_MALFORMED;
	res->qtype = dns_u16(buf, len, cur);
	res->qclass = dns_u16(buf, len, cur + 2);
	dns_reverse_qname(msg, len, res);
	return DNS_PARSE_OK;
}

static __always_inline int dns_parse_body(const struct dns_msg *msg, __u32 len,
					  struct dns_parse_result *res)
{
	volatile struct dns_parse_state *st = &res->st;
	int rc = dns_parse_question(msg, len, res, 1);
	if (rc != DNS_PARSE_OK)
		return rc;
	__u32 cur = st->qend;
	/* The name is kept for a truncated answer: the agent may match it to the
	 * query that the client will retry over TCP. */
	if (res->flags & DNS_FLAG_TC)
		return DNS_PARSE_TRUNCATED;
	if (res->ancount > DNS_MAX_ANSWERS)
		return DNS_PARSE_TOO_COMPLEX;

	/* The chain starts at the question name, hashed as owners are. */
	st->cur = DNS_HDR_LEN;
	rc = dns_hash_name(msg, len, res);
	if (rc != DNS_PARSE_OK)
		return rc;
	res->chain_hash = st->nhash;
	res->chain_off = DNS_HDR_LEN;
	st->cur = cur + 4;
	for (__u32 i = 0; i < DNS_MAX_ANSWERS; i++) {
		if (i >= ((volatile struct dns_parse_result *)res)->ancount)
			break;
		len = st->len;
		rc = dns_read_answer(msg, len, res);
		if (rc != DNS_PARSE_OK)
			return rc;
	}
	return DNS_PARSE_OK;
}

static __always_inline void dns_reset_result(struct dns_parse_result *res)
{
	/* Scalars only: arrays are valid up to their counts, and zeroing 1 KiB
	 * per packet would cost more than the parse. */
	res->status = 0;
	res->rcode = 0;
	res->label_count = 0;
	res->addr_count = 0;
	res->off_chain = 0;
	res->chain_hash = 0;
	res->chain_off = 0;
	res->id = 0;
	res->flags = 0;
	res->qtype = 0;
	res->qclass = 0;
	res->ancount = 0;
	res->rname_len = 0;
	res->st.hops = 0;
	res->st.wire = 0;
	res->st.qend = 0;
}

/* A query (QR clear): header and question only, for matching its answer.
 * OK means id, name, suffix hashes and qtype are set. */
static __always_inline int dns_parse_query(const struct dns_msg *msg, __u32 len,
					   struct dns_parse_result *res)
{
	dns_reset_result(res);
	int rc = dns_parse_question(msg, len, res, 0);
	res->status = (__u8)rc;
	return rc;
}

/* Parses the DNS message msg->data[0, len) (reads are masked to the buffer); res is fully overwritten. Returns and stores the status.
 * Fields are valid as far as parsing got: id/flags after the header, the name
 * and qtype after the question (also for TRUNCATED), addrs only for OK. */
static __always_inline int dns_parse(const struct dns_msg *msg, __u32 len,
				     struct dns_parse_result *res)
{
	dns_reset_result(res);
	int rc = dns_parse_body(msg, len, res);
	if (rc != DNS_PARSE_OK && rc != DNS_PARSE_TRUNCATED)
		res->addr_count = 0; /* partial answers must not be learned */
	res->status = (__u8)rc;
	return rc;
}

#ifndef __bpf__
/* Host text ("API.github.com." or "*.github.com") -> rname as the parser
 * writes it, for building map keys. *wildcard is set for a leading "*." (the
 * rname is then the suffix's). Returns the rname length, or -1 if invalid. */
static __always_inline int dns_rname_from_text(const char *text, __u32 text_len,
					       __u8 *rname, int *wildcard)
{
	__u32 start = 0;
	*wildcard = 0;
	if (text_len >= 2 && text[0] == '*' && text[1] == '.') {
		*wildcard = 1;
		start = 2;
	}
	if (text_len > start && text[text_len - 1] == '.')
		text_len--;
	if (text_len <= start || text_len - start + 2 > DNS_NAME_MAX)
		return -1;
	/* Labels end at dots; write each one at the mirrored position. */
	__u32 total = text_len - start + 1;
	__u32 label_start = start;
	for (__u32 i = start; i <= text_len && i < start + DNS_NAME_MAX; i++) {
		if (i < text_len && text[i] != '.')
			continue;
		__u32 llen = i - label_start;
		if (llen == 0 || llen > DNS_LABEL_MAX)
			return -1;
		/* Forward wire offset of this label is label_start - start. */
		__u32 out = total - (label_start - start) - (llen + 1);
		rname[out] = (__u8)llen;
		for (__u32 j = 0; j < llen; j++)
			rname[out + 1 + j] = dns_lower((__u8)text[label_start + j]);
		label_start = i + 1;
	}
	return (int)total;
}
#endif /* !__bpf__ */

#endif /* EGRESSD_DNS_PARSE_H */
