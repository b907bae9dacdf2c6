/* kvick's L2 learning switch: unknown source MACs are reported to the controller as digests,
 * known destinations are forwarded, unknown ones flooded to a multicast group.
 *
 * ingress: smac (exact on the source MAC) hits for learned stations; a miss sends a digest
 *          (source MAC, ingress port) so the controller can install smac and dmac entries.
 *          dmac (exact on the destination MAC) forwards to the learned port; a miss floods
 *          through multicast group 1, whose replicas skip the port the frame came in on.
 */
#include <core.p4>
#include <v1model.p4>

const bit<16> FLOOD_GROUP = 1;

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

struct headers_t {
    ethernet_t ethernet;
}

struct learn_t {
    bit<48> mac;
    bit<9>  port;
}

struct metadata_t {
    learn_t learn;
}

parser L2Parser(packet_in packet, out headers_t hdr, inout metadata_t meta,
                inout standard_metadata_t standard_metadata) {
    state start {
        packet.extract(hdr.ethernet);
        transition accept;
    }
}

control L2VerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control L2Ingress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t standard_metadata) {
    action learn() {
        meta.learn.mac = hdr.ethernet.src;
        meta.learn.port = standard_metadata.ingress_port;
        digest<learn_t>(1, meta.learn);
    }

    action known() { }

    action forward(bit<9> port) {
        standard_metadata.egress_spec = port;
    }

    action flood() {
        standard_metadata.mcast_grp = FLOOD_GROUP;
    }

    table smac {
        key = { hdr.ethernet.src: exact; }
        actions = { learn; known; }
        default_action = learn();
        size = 4096;
    }

    table dmac {
        key = { hdr.ethernet.dst: exact; }
        actions = { forward; flood; }
        default_action = flood();
        size = 4096;
    }

    apply {
        smac.apply();
        dmac.apply();
    }
}

control L2Egress(inout headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t standard_metadata) {
    action drop() {
        mark_to_drop(standard_metadata);
    }

    apply {
        /* a flooded copy never goes back where the frame came from */
        if (standard_metadata.mcast_grp != 0 &&
            standard_metadata.egress_port == standard_metadata.ingress_port) {
            drop();
        }
    }
}

control L2ComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control L2Deparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.ethernet);
    }
}

V1Switch(L2Parser(), L2VerifyChecksum(), L2Ingress(), L2Egress(), L2ComputeChecksum(),
         L2Deparser()) main;
