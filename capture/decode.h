/* decode.h -- link, network and transport decoding of one captured packet.
 *
 * Link types: Ethernet (with 802.1Q / 802.1ad QinQ tags), Linux cooked v1
 * (SLL) and v2 (SLL2), BSD null/loopback, raw IPv4/IPv6. IPv4 with options
 * (RFC 791), IPv6 with extension headers (RFC 8200 §4), TCP (RFC 9293) with
 * options. Every read is bounds-checked against the captured length; a
 * packet cut by the snaplen still yields its headers and the captured part
 * of its payload, flagged truncated. */
#ifndef OSRCA_DECODE_H
#define OSRCA_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stats.h"

/* TCP flag bits as on the wire. */
#define DECODE_TCP_FIN 0x01
#define DECODE_TCP_SYN 0x02
#define DECODE_TCP_RST 0x04
#define DECODE_TCP_PSH 0x08
#define DECODE_TCP_ACK 0x10

struct pkt {
    uint64_t ts_us;      /* packet time, microseconds since the epoch */
    uint32_t wire_len;   /* original length on the wire */
    uint32_t cap_len;
    int family;          /* 4 or 6; 0 = not IP */
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes */
    uint8_t ip_proto;    /* 6 = TCP */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    uint16_t window;
    const uint8_t *payload; /* TCP payload as captured */
    uint32_t payload_len;   /* captured payload bytes */
    uint32_t payload_wire;  /* payload bytes on the wire (>= payload_len) */
    int truncated;          /* snaplen cut the payload */
    const uint8_t *l3;      /* start of the IP header, for nDPI */
    uint32_t l3_len;        /* captured bytes from l3 */
};

/* Decode one frame of the given libpcap DLT_* link type.
 * Returns 0 when pkt is an IP packet (TCP fields filled when ip_proto is 6),
 * or a negative decode_err; each error is counted in st ("decode.<reason>")
 * with a diagnostic naming the bad value (stats_diag; not for frames that
 * are merely not IP), and the packet skipped. A wire_len below cap_len is
 * counted (decode.caplen_over_wire) and taken as cap_len; an IP length
 * longer than the frame's wire length is bad_ip, a snaplen cut is counted
 * as decode.snaplen_truncated. Never reads past p + cap_len. */
int decode_packet(int linktype, const uint8_t *p, uint32_t cap_len, uint32_t wire_len,
                  uint64_t ts_us, struct pkt *out, struct stats *st);

/* decode_packet without its fast path for the usual Ethernet/IPv4/TCP
 * frame: the same results, field for field (tests compare them). */
int decode_packet_general(int linktype, const uint8_t *p, uint32_t cap_len, uint32_t wire_len,
                          uint64_t ts_us, struct pkt *out, struct stats *st);

enum decode_err {
    DECODE_ERR_TRUNCATED = -1,  /* headers cut short */
    DECODE_ERR_LINKTYPE = -2,   /* unsupported link type */
    DECODE_ERR_NOT_IP = -3,     /* ARP, LLDP, ... (counted, not an error) */
    DECODE_ERR_BAD_IP = -4,     /* bad version / header length / total length */
    DECODE_ERR_FRAGMENT = -5,   /* IP fragment (not reassembled, counted) */
    DECODE_ERR_BAD_TCP = -6,    /* bad data offset */
};

/* Format an address of the given family as numeric text. */
void decode_addr_str(int family, const uint8_t *addr, char *buf, size_t len);

#endif
