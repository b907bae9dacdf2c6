"""Start and stop the P4Runtime gRPC server for a target.Switch."""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures

import grpc

from runtime_server.proto import p4runtime_pb2
from runtime_server.service import P4RuntimeService

DEFAULT_ADDRESS = "0.0.0.0:9559"  # the IANA port for P4Runtime
MAX_MESSAGE_BYTES = 1 << 30  # pipeline configs and write batches may be large
SERVICE_NAME = "p4.v1.P4Runtime"


def _serialize_read_response(response: bytes | p4runtime_pb2.ReadResponse) -> bytes:
    """Read responses are framed as bytes already (see pipeline.frame_read_responses)."""
    return response if isinstance(response, bytes) else response.SerializeToString()


def _handlers(service: P4RuntimeService) -> grpc.GenericRpcHandler:
    pb = p4runtime_pb2
    unary = grpc.unary_unary_rpc_method_handler
    return grpc.method_handlers_generic_handler(SERVICE_NAME, {
        # Write takes the request bytes: its hot path decodes them without protobuf.
        "Write": unary(service.Write, None, pb.WriteResponse.SerializeToString),
        "Read": grpc.unary_stream_rpc_method_handler(
            service.Read, pb.ReadRequest.FromString, _serialize_read_response),
        "SetForwardingPipelineConfig": unary(
            service.SetForwardingPipelineConfig, pb.SetForwardingPipelineConfigRequest.FromString,
            pb.SetForwardingPipelineConfigResponse.SerializeToString),
        "GetForwardingPipelineConfig": unary(
            service.GetForwardingPipelineConfig, pb.GetForwardingPipelineConfigRequest.FromString,
            pb.GetForwardingPipelineConfigResponse.SerializeToString),
        "StreamChannel": grpc.stream_stream_rpc_method_handler(
            service.StreamChannel, pb.StreamMessageRequest.FromString,
            pb.StreamMessageResponse.SerializeToString),
        "Capabilities": unary(service.Capabilities, pb.CapabilitiesRequest.FromString,
                              pb.CapabilitiesResponse.SerializeToString),
    })


class P4RuntimeServer:
    """A running gRPC server; `port` is the bound TCP port (useful with address ':0')."""

    def __init__(self, switch, device_id: int = 0, address: str = DEFAULT_ADDRESS,
                 scratch_switch_factory: Callable[[], object] | None = None,
                 max_workers: int = 16, on_commit: Callable[[], None] | None = None) -> None:
        if scratch_switch_factory is None:
            switch_type = type(switch)
            scratch_switch_factory = switch_type
        self.service = P4RuntimeService(switch, device_id, scratch_switch_factory, on_commit)
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        # Each open StreamChannel holds a worker thread for its lifetime.
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers,
                                                             thread_name_prefix="kvick-p4rt"),
                                  options=options)
        self.server.add_generic_rpc_handlers((_handlers(self.service),))
        self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen on {address}")
        self.server.start()

    def stop(self, grace: float | None = 1.0) -> None:
        self.server.stop(grace).wait()
        self.service.close()

    def wait(self) -> None:
        self.server.wait_for_termination()
