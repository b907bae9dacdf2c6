/* kvick's stateful firewall: TCP connections opened from inside may answer from outside.
 *
 * Ports are inside or outside (port_direction). A TCP packet going out records its flow in a
 * two-hash Bloom filter kept in registers; a TCP packet coming in passes only when the filter
 * holds the reverse flow (both bits set), otherwise it is dropped and counted. Non-TCP IPv4
 * passes. Forwarding is a plain port map (forward: ingress port -> egress port).
 */
#include <core.p4>
#include <v1model.p4>

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<8>  PROTO_TCP = 6;
const bit<32> FILTER_SIZE = 4096;

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> total_len;
    bit<16> identification;
    bit<3>  flags;
    bit<13> frag_offset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> checksum;
    bit<32> src;
    bit<32> dst;
}

header tcp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> seq;
    bit<32> ack;
    bit<4>  data_offset;
    bit<4>  reserved;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent;
}

struct headers_t {
    ethernet_t ethernet;
    ipv4_t     ipv4;
    tcp_t      tcp;
}

struct metadata_t {
    bit<1>  outbound;       /* 1: the packet leaves the inside */
    bit<32> pos_one;
    bit<32> pos_two;
    bit<1>  seen_one;
    bit<1>  seen_two;
}

parser FirewallParser(packet_in packet, out headers_t hdr, inout metadata_t meta,
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
        transition select(hdr.ipv4.protocol) {
            PROTO_TCP: parse_tcp;
            default: accept;
        }
    }
    state parse_tcp {
        packet.extract(hdr.tcp);
        transition accept;
    }
}

control FirewallVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control FirewallIngress(inout headers_t hdr, inout metadata_t meta,
                        inout standard_metadata_t standard_metadata) {
    register<bit<1>>(FILTER_SIZE) bloom_one;
    register<bit<1>>(FILTER_SIZE) bloom_two;
    counter(2, CounterType.packets) verdicts;   /* 0: passed from outside, 1: dropped */

    action drop() {
        mark_to_drop(standard_metadata);
    }

    action forward(bit<9> port) {
        standard_metadata.egress_spec = port;
    }

    action set_direction(bit<1> outbound) {
        meta.outbound = outbound;
    }

    table forward_table {
        key = { standard_metadata.ingress_port: exact; }
        actions = { forward; drop; }
        default_action = drop();
        size = 512;
    }

    table port_direction {
        key = { standard_metadata.ingress_port: exact; }
        actions = { set_direction; NoAction; }
        default_action = NoAction();
        size = 512;
    }

    action hash_outbound_flow() {
        hash(meta.pos_one, HashAlgorithm.crc16, (bit<32>)0,
             { hdr.ipv4.src, hdr.ipv4.dst, hdr.tcp.src_port, hdr.tcp.dst_port, hdr.ipv4.protocol },
             FILTER_SIZE);
        hash(meta.pos_two, HashAlgorithm.crc32, (bit<32>)0,
             { hdr.ipv4.src, hdr.ipv4.dst, hdr.tcp.src_port, hdr.tcp.dst_port, hdr.ipv4.protocol },
             FILTER_SIZE);
    }

    action hash_inbound_flow() {
        /* the reverse of an inbound packet is the flow the inside opened */
        hash(meta.pos_one, HashAlgorithm.crc16, (bit<32>)0,
             { hdr.ipv4.dst, hdr.ipv4.src, hdr.tcp.dst_port, hdr.tcp.src_port, hdr.ipv4.protocol },
             FILTER_SIZE);
        hash(meta.pos_two, HashAlgorithm.crc32, (bit<32>)0,
             { hdr.ipv4.dst, hdr.ipv4.src, hdr.tcp.dst_port, hdr.tcp.src_port, hdr.ipv4.protocol },
             FILTER_SIZE);
    }

    apply {
        if (!hdr.ipv4.isValid()) {
            drop();
            return;
        }
        forward_table.apply();
        if (hdr.tcp.isValid()) {
            port_direction.apply();
            if (meta.outbound == 1) {
                hash_outbound_flow();
                bloom_one.write(meta.pos_one, 1);
                bloom_two.write(meta.pos_two, 1);
            } else {
                hash_inbound_flow();
                bloom_one.read(meta.seen_one, meta.pos_one);
                bloom_two.read(meta.seen_two, meta.pos_two);
                if (meta.seen_one == 1 && meta.seen_two == 1) {
                    verdicts.count(0);
                } else {
                    verdicts.count(1);
                    drop();
                }
            }
        }
    }
}

control FirewallEgress(inout headers_t hdr, inout metadata_t meta,
                       inout standard_metadata_t standard_metadata) {
    apply { }
}

control FirewallComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control FirewallDeparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.ethernet);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.tcp);
    }
}

V1Switch(FirewallParser(), FirewallVerifyChecksum(), FirewallIngress(), FirewallEgress(),
         FirewallComputeChecksum(), FirewallDeparser()) main;
