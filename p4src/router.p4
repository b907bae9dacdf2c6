/* kvick's virtual router: IPv4 longest-prefix-match forwarding in the spirit of the seed paper's
 * user-space router.
 *
 * ingress: ARP and packets addressed to one of the router's own addresses go to the CPU port with
 *          a packet_in header (the reason and the port they came in on); packets with IP options
 *          or an expiring TTL, and packets without a route, are dropped and counted by reason;
 *          routed packets take the next hop of their longest matching prefix (ipv4_lpm), which
 *          gives the egress port and the next hop's MAC address (next_hop), and lose one TTL.
 * egress:  the source MAC becomes the egress port's own MAC (port_mac).
 * The IPv4 header checksum is recomputed on the way out. Counters: per input port, per output
 * port, per route (direct on ipv4_lpm) and per drop reason.
 */
#include <core.p4>
#include <v1model.p4>

const bit<9>  CPU_PORT = 255;
const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_ARP = 0x0806;

/* Reasons in packet_in.reason and indexes of drop_reasons. */
const bit<8> REASON_ARP = 1;
const bit<8> REASON_TO_ROUTER = 2;
const bit<8> DROP_TTL_EXPIRED = 0;
const bit<8> DROP_IP_OPTIONS = 1;
const bit<8> DROP_NO_ROUTE = 2;
const bit<8> DROP_NOT_IPV4 = 3;

typedef bit<48> mac_t;
typedef bit<32> ipv4_addr_t;
typedef bit<16> next_hop_id_t;

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<8> reason;
    bit<7> _pad;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> _pad;
}

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

struct headers_t {
    packet_out_t packet_out;
    packet_in_t  packet_in;
    ethernet_t   ethernet;
    ipv4_t       ipv4;
}

struct metadata_t {
    next_hop_id_t next_hop;
    bit<8>        punt_reason;
}

parser RouterParser(packet_in packet, out headers_t hdr, inout metadata_t meta,
                    inout standard_metadata_t standard_metadata) {
    state start {
        transition select(standard_metadata.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }
    state parse_packet_out {
        packet.extract(hdr.packet_out);
        transition parse_ethernet;
    }
    state parse_ethernet {
        packet.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }
    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        transition accept;
    }
}

control RouterVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control RouterIngress(inout headers_t hdr, inout metadata_t meta,
                      inout standard_metadata_t standard_metadata) {
    counter(512, CounterType.packets_and_bytes) rx_port_counter;
    counter(4, CounterType.packets) drop_reasons;
    direct_counter(CounterType.packets_and_bytes) route_counter;

    action drop(bit<8> reason) {
        drop_reasons.count((bit<32>) reason);
        mark_to_drop(standard_metadata);
    }

    action punt(bit<8> reason) {
        meta.punt_reason = reason;
        standard_metadata.egress_spec = CPU_PORT;
    }

    action to_router() {
        punt(REASON_TO_ROUTER);
    }

    action set_next_hop(next_hop_id_t next_hop) {
        meta.next_hop = next_hop;
        route_counter.count();
    }

    action no_route() {
        route_counter.count();
        drop(DROP_NO_ROUTE);
    }

    action forward(bit<9> port, mac_t dmac) {
        standard_metadata.egress_spec = port;
        hdr.ethernet.dst = dmac;
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
    }

    /* The router's own addresses: packets to them go to the control plane. */
    table local_address {
        key = { hdr.ipv4.dst: exact; }
        actions = { to_router; NoAction; }
        default_action = NoAction();
        size = 256;
    }

    table ipv4_lpm {
        key = { hdr.ipv4.dst: lpm; }
        actions = { set_next_hop; no_route; }
        default_action = no_route();
        counters = route_counter;
        size = 1048576;
    }

    table next_hop {
        key = { meta.next_hop: exact; }
        actions = { forward; drop; }
        default_action = drop(DROP_NO_ROUTE);
        size = 65536;
    }

    apply {
        rx_port_counter.count((bit<32>) standard_metadata.ingress_port);
        if (hdr.packet_out.isValid()) {
            /* From the control plane: send where it says, unchanged. */
            standard_metadata.egress_spec = hdr.packet_out.egress_port;
            hdr.packet_out.setInvalid();
            exit;
        }
        if (hdr.ethernet.ether_type == ETHERTYPE_ARP) {
            punt(REASON_ARP);
        } else if (!hdr.ipv4.isValid()) {
            drop(DROP_NOT_IPV4);
        } else if (hdr.ipv4.ihl != 5) {
            drop(DROP_IP_OPTIONS);
        } else if (local_address.apply().hit) {
            /* punted by to_router */
        } else if (hdr.ipv4.ttl <= 1) {
            drop(DROP_TTL_EXPIRED);
        } else {
            switch (ipv4_lpm.apply().action_run) {
                set_next_hop: {
                    next_hop.apply();
                }
            }
        }
    }
}

control RouterEgress(inout headers_t hdr, inout metadata_t meta,
                     inout standard_metadata_t standard_metadata) {
    counter(512, CounterType.packets_and_bytes) tx_port_counter;

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
        tx_port_counter.count((bit<32>) standard_metadata.egress_port);
        if (standard_metadata.egress_port == CPU_PORT) {
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = standard_metadata.ingress_port;
            hdr.packet_in.reason = meta.punt_reason;
        } else {
            port_mac.apply();
        }
    }
}

control RouterComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(
            hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.src, hdr.ipv4.dst },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
    }
}

control RouterDeparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.packet_in);
        packet.emit(hdr.ethernet);
        packet.emit(hdr.ipv4);
    }
}

V1Switch(RouterParser(), RouterVerifyChecksum(), RouterIngress(), RouterEgress(),
         RouterComputeChecksum(), RouterDeparser()) main;
