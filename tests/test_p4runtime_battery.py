"""The P4Runtime bad-input battery (tools/p4rt_battery.py), a bounded run: every malformed
request gets the specification's code and changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import grpc
import pytest
from test_p4runtime_server import primary, server  # noqa: F401

from runtime_server.proto import p4runtime_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import p4rt_battery  # noqa: E402


def test_get_config_with_an_unknown_response_type_is_invalid_argument(primary) -> None:  # noqa: F811
    primary.set_pipeline()
    with pytest.raises(grpc.RpcError) as err:
        primary.stub.GetForwardingPipelineConfig(
            pb.GetForwardingPipelineConfigRequest(device_id=0, response_type=99))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_bad_input_battery_is_answered_per_spec_and_changes_nothing() -> None:
    result = p4rt_battery.run("onos_basic", configs=20, seed=3, time_limit=150)
    assert result.tried >= 150
    assert result.failures == []
    assert result.per_spec == result.tried and result.changed == 0
