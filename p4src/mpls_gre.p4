/* kvick's MPLS-over-GRE label edge router: an MPLS network carried over a plain IPv4 core
 * (RFC 4023's MPLS-in-GRE; MPLS label stack entries as RFC 3032 encodes them).
 *
 * A packet for the router's own tunnel address (local_endpoint) must be GRE (no checksum, key,
 * sequence or routing; version 0) carrying MPLS (protocol 0x8847); its top label picks, in
 * mpls_label, one of
 *   swap: label replaced, packet re-encapsulated toward the next tunnel endpoint (tunnel);
 *   pop:  bottom-of-stack label over IPv4: the GRE/IPv4 and the label go, the inner IPv4 packet
 *         is routed by ipv4_lpm like any other.
 * Any other IPv4 packet is routed by ipv4_lpm on its destination, to a next hop (next_hop: port
 * and MAC) or into a tunnel: push one label (bottom of stack) and encapsulate in GRE over IPv4
 * toward the tunnel's endpoint (tunnel: outer source and destination, port and next-hop MAC).
 *
 * TTL: RFC 3443's uniform model, so every hop on the path counts: a pushed label's TTL is the
 * routed (decremented) IP TTL; at a tunnel's far end the label's TTL first becomes the smaller
 * of it and the outer IPv4 TTL (hops between GRE endpoints count, RFC 4023 section 5.2); a swap
 * decrements it; a pop copies it, decremented, into the inner IPv4 header. The outer IPv4 TTL
 * is always the label's TTL. A TTL that would reach 0 drops the packet. The traffic class is
 * the inner header's precedence bits and the outer header keeps the inner DSCP (uniform model
 * for Diffserv, RFC 4023 section 5.3).
 * Drops are counted by reason (drop_reasons). IPv4 header checksums are verified on the way in
 * (a bad one is dropped) and recomputed, outer and inner, on the way out. The egress port's
 * own MAC becomes the source MAC (port_mac).
 */
#include <core.p4>
#include <v1model.p4>

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_MPLS = 0x8847;   /* also GRE's protocol type for MPLS (RFC 4023) */
const bit<8>  PROTO_GRE = 47;

/* Indexes of drop_reasons. */
const bit<8> DROP_TTL_EXPIRED = 0;
const bit<8> DROP_IP_OPTIONS = 1;
const bit<8> DROP_NO_ROUTE = 2;
const bit<8> DROP_NOT_IPV4 = 3;
const bit<8> DROP_BAD_TUNNEL = 4;     /* for us but not plain GRE/MPLS, or a pop without IPv4 */
const bit<8> DROP_UNKNOWN_LABEL = 5;
const bit<8> DROP_BAD_CHECKSUM = 6;
const bit<8> DROP_NESTED_TUNNEL = 7;  /* transit GRE routed into a tunnel: not supported */

typedef bit<48> mac_t;
typedef bit<32> ipv4_addr_t;
typedef bit<20> label_t;
typedef bit<16> next_hop_id_t;
typedef bit<16> tunnel_id_t;

header ethernet_t {
    mac_t   dst;
    mac_t   src;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>      version;
    bit<4>      ihl;
    bit<8>      diffserv;
    bit<16>     total_len;
    bit<16>     identification;
    bit<3>      flags;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ipv4_addr_t src;
    ipv4_addr_t dst;
}

/* RFC 2784's GRE header without its optional fields: the C bit, the reserved bits (RFC 2890's
 * K and S among them) and the version, then the payload's EtherType. */
header gre_t {
    bit<16> flags_version;
    bit<16> protocol;
}

/* RFC 3032 section 2.1: one label stack entry. */
header mpls_t {
    label_t label;
    bit<3>  tc;
    bit<1>  bos;
    bit<8>  ttl;
}

struct headers_t {
    ethernet_t ethernet;
    ipv4_t     ipv4;        /* the outer header of a tunnelled packet */
    gre_t      gre;
    mpls_t     mpls;
    ipv4_t     inner_ipv4;
}

struct metadata_t {
    next_hop_id_t next_hop;
    tunnel_id_t   tunnel;
    bit<1>        route;    /* route hdr.ipv4 by ipv4_lpm */
    bit<1>        transit;  /* GRE for another router, routed as it is */
}

parser MplsGreParser(packet_in packet, out headers_t hdr, inout metadata_t meta,
                     inout standard_metadata_t standard_metadata) {
    state start {
        packet.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }
    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        transition select(hdr.ipv4.ihl, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (5, 0, PROTO_GRE): parse_gre;   /* an unfragmented GRE packet without options */
            default: accept;
        }
    }
    state parse_gre {
        packet.extract(hdr.gre);
        transition select(hdr.gre.flags_version, hdr.gre.protocol) {
            (0, ETHERTYPE_MPLS): parse_mpls;
            default: accept;
        }
    }
    state parse_mpls {
        packet.extract(hdr.mpls);
        transition select(hdr.mpls.bos) {
            1: parse_inner;
            default: accept;
        }
    }
    state parse_inner {
        transition select(packet.lookahead<bit<4>>()) {
            4: parse_inner_ipv4;
            default: accept;
        }
    }
    state parse_inner_ipv4 {
        packet.extract(hdr.inner_ipv4);
        transition accept;
    }
}

control MplsGreVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(
            hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.src, hdr.ipv4.dst },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
        verify_checksum(
            hdr.inner_ipv4.isValid() && hdr.inner_ipv4.ihl == 5,
            { hdr.inner_ipv4.version, hdr.inner_ipv4.ihl, hdr.inner_ipv4.diffserv,
              hdr.inner_ipv4.total_len, hdr.inner_ipv4.identification, hdr.inner_ipv4.flags,
              hdr.inner_ipv4.frag_offset, hdr.inner_ipv4.ttl, hdr.inner_ipv4.protocol,
              hdr.inner_ipv4.src, hdr.inner_ipv4.dst },
            hdr.inner_ipv4.hdr_checksum,
            HashAlgorithm.csum16);
    }
}

control MplsGreIngress(inout headers_t hdr, inout metadata_t meta,
                       inout standard_metadata_t standard_metadata) {
    counter(8, CounterType.packets) drop_reasons;

    action drop(bit<8> reason) {
        drop_reasons.count((bit<32>) reason);
        mark_to_drop(standard_metadata);
    }

    action terminate() { }

    action set_next_hop(next_hop_id_t next_hop) {
        meta.next_hop = next_hop;
    }

    action no_route() {
        drop(DROP_NO_ROUTE);
    }

    /* Ingress LER: the routed packet becomes the inner one; the outer header's addresses come
     * from the tunnel table. */
    action push_label(label_t label, tunnel_id_t tunnel) {
        hdr.inner_ipv4 = hdr.ipv4;
        hdr.mpls.setValid();
        hdr.mpls.label = label;
        hdr.mpls.tc = hdr.ipv4.diffserv[7:5];
        hdr.mpls.bos = 1;
        hdr.mpls.ttl = hdr.ipv4.ttl;
        hdr.gre.setValid();
        hdr.gre.flags_version = 0;
        hdr.gre.protocol = ETHERTYPE_MPLS;
        hdr.ipv4.total_len = hdr.ipv4.total_len + 28;   /* outer IPv4, GRE, one label */
        hdr.ipv4.identification = 0;
        hdr.ipv4.flags = 0;
        hdr.ipv4.frag_offset = 0;
        hdr.ipv4.protocol = PROTO_GRE;
        meta.tunnel = tunnel;
    }

    /* Core LSR: the outer header is rewritten toward the next endpoint by the tunnel table. */
    action swap_label(label_t label, tunnel_id_t tunnel) {
        hdr.mpls.label = label;
        hdr.mpls.ttl = hdr.mpls.ttl - 1;
        meta.tunnel = tunnel;
    }

    action pop_label() { }

    action unknown_label() {
        drop(DROP_UNKNOWN_LABEL);
    }

    /* Egress LER: the inner header, with the label's TTL less this hop, is routed. */
    action decapsulate() {
        hdr.inner_ipv4.ttl = hdr.mpls.ttl - 1;
        hdr.ipv4 = hdr.inner_ipv4;
        hdr.inner_ipv4.setInvalid();
        hdr.mpls.setInvalid();
        hdr.gre.setInvalid();
        meta.route = 1;
    }

    action forward(bit<9> port, mac_t dmac) {
        standard_metadata.egress_spec = port;
        hdr.ethernet.dst = dmac;
    }

    action encapsulate(ipv4_addr_t src, ipv4_addr_t dst, bit<9> port, mac_t dmac) {
        hdr.ipv4.src = src;
        hdr.ipv4.dst = dst;
        hdr.ipv4.ttl = hdr.mpls.ttl;
        standard_metadata.egress_spec = port;
        hdr.ethernet.dst = dmac;
    }

    /* The router's own tunnel addresses. */
    table local_endpoint {
        key = { hdr.ipv4.dst: exact; }
        actions = { terminate; NoAction; }
        default_action = NoAction();
        size = 256;
    }

    table mpls_label {
        key = { hdr.mpls.label: exact; }
        actions = { swap_label; pop_label; unknown_label; }
        default_action = unknown_label();
        size = 65536;
    }

    table ipv4_lpm {
        key = { hdr.ipv4.dst: lpm; }
        actions = { set_next_hop; push_label; no_route; }
        default_action = no_route();
        size = 1048576;
    }

    table next_hop {
        key = { meta.next_hop: exact; }
        actions = { forward; drop; }
        default_action = drop(DROP_NO_ROUTE);
        size = 65536;
    }

    table tunnel {
        key = { meta.tunnel: exact; }
        actions = { encapsulate; drop; }
        default_action = drop(DROP_NO_ROUTE);
        size = 65536;
    }

    apply {
        if (!hdr.ipv4.isValid()) {
            drop(DROP_NOT_IPV4);
            exit;
        }
        if (standard_metadata.checksum_error == 1) {
            drop(DROP_BAD_CHECKSUM);
            exit;
        }
        if (hdr.ipv4.ihl != 5) {
            drop(DROP_IP_OPTIONS);
            exit;
        }
        if (local_endpoint.apply().hit) {
            if (!hdr.mpls.isValid()) {
                drop(DROP_BAD_TUNNEL);
                exit;
            }
            if (hdr.ipv4.ttl < hdr.mpls.ttl) {
                hdr.mpls.ttl = hdr.ipv4.ttl;
            }
            if (hdr.mpls.ttl <= 1) {
                drop(DROP_TTL_EXPIRED);
                exit;
            }
            switch (mpls_label.apply().action_run) {
                pop_label: {
                    if (!hdr.inner_ipv4.isValid()) {
                        drop(DROP_BAD_TUNNEL);
                        exit;
                    }
                    if (hdr.inner_ipv4.ihl != 5) {
                        drop(DROP_IP_OPTIONS);
                        exit;
                    }
                    decapsulate();
                }
            }
        } else {
            if (hdr.ipv4.ttl <= 1) {
                drop(DROP_TTL_EXPIRED);
                exit;
            }
            hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
            meta.route = 1;
            if (hdr.gre.isValid()) {
                meta.transit = 1;
            }
        }
        if (meta.route == 1) {
            switch (ipv4_lpm.apply().action_run) {
                push_label: {
                    if (meta.transit == 1) {
                        /* push_label overwrote the transit packet's own GRE headers */
                        drop(DROP_NESTED_TUNNEL);
                        exit;
                    }
                }
            }
        }
        if (meta.tunnel != 0) {
            tunnel.apply();
        } else if (meta.next_hop != 0) {
            next_hop.apply();
        }
    }
}

control MplsGreEgress(inout headers_t hdr, inout metadata_t meta,
                      inout standard_metadata_t standard_metadata) {
    action set_source_mac(mac_t smac) {
        hdr.ethernet.src = smac;
    }

    table port_mac {
        key = { standard_metadata.egress_port: exact; }
        actions = { set_source_mac; NoAction; }
        default_action = NoAction();
        size = 512;
    }

    apply {
        port_mac.apply();
    }
}

control MplsGreComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(
            hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.src, hdr.ipv4.dst },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
        update_checksum(
            hdr.inner_ipv4.isValid(),
            { hdr.inner_ipv4.version, hdr.inner_ipv4.ihl, hdr.inner_ipv4.diffserv,
              hdr.inner_ipv4.total_len, hdr.inner_ipv4.identification, hdr.inner_ipv4.flags,
              hdr.inner_ipv4.frag_offset, hdr.inner_ipv4.ttl, hdr.inner_ipv4.protocol,
              hdr.inner_ipv4.src, hdr.inner_ipv4.dst },
            hdr.inner_ipv4.hdr_checksum,
            HashAlgorithm.csum16);
    }
}

control MplsGreDeparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.ethernet);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.gre);
        packet.emit(hdr.mpls);
        packet.emit(hdr.inner_ipv4);
    }
}

V1Switch(MplsGreParser(), MplsGreVerifyChecksum(), MplsGreIngress(), MplsGreEgress(),
         MplsGreComputeChecksum(), MplsGreDeparser()) main;
