"""Where kvick and PI (BMv2's P4Runtime server, p4lang/PI proto/frontend) refuse the same
update, the message starts with PI's words, which tests written against BMv2 look for; kvick's
detail follows. Each case goes through the whole server (C decoder or protobuf path)."""

from __future__ import annotations

import grpc
import pytest
from test_p4runtime_server import (  # noqa: F401
    DROP,
    FORWARD,
    LPM_TABLE,
    batch_errors,
    lpm_entry,
    primary,
    server,
    update,
)

from runtime_server.proto import p4runtime_pb2 as pb

INSERT, MODIFY, DELETE = pb.Update.INSERT, pb.Update.MODIFY, pb.Update.DELETE
NET = b"\x0a\x00\x00\x00"


def _with(entry: pb.TableEntry, **changes) -> pb.TableEntry:
    for name, value in changes.items():
        setattr(entry, name, value)
    return entry


def _lpm(prefix_len: int, value: bytes = NET) -> pb.TableEntry:
    return lpm_entry(value, prefix_len)


def _no_action() -> pb.TableEntry:
    entry = lpm_entry(NET, 8)
    entry.ClearField("action")
    return entry


def _unknown_field() -> pb.TableEntry:
    entry = lpm_entry(NET, 8)
    entry.match[0].field_id = 9
    return entry


def _default_insert() -> pb.TableEntry:
    entry = pb.TableEntry(table_id=LPM_TABLE, is_default_action=True)
    entry.action.action.action_id = DROP
    return entry


CASES = [
    ("idle timeout", INSERT, lambda: _with(lpm_entry(NET, 8), idle_timeout_ns=10**9),
     "idle_timeout_ns must be set to 0 for tables which do not support idle timeout"),
    ("negative idle timeout", INSERT, lambda: _with(lpm_entry(NET, 8), idle_timeout_ns=-1),
     "idle_timeout_ns must be a positive value"),
    ("priority", INSERT, lambda: _with(lpm_entry(NET, 8), priority=5),
     "Non-zero priority for non-ternary match"),
    ("prefix 0", INSERT, lambda: _lpm(0, b"\x00"),
     "Invalid reprsentation of 'don't care' LPM match, omit match field instead of using a "
     "prefix length of 0"),
    ("prefix too long", INSERT, lambda: _lpm(33), "Prefix length cannot be > bitwidth"),
    ("host bits", INSERT, lambda: _lpm(8, b"\x0a\x00\x00\x01"),
     "Invalid LPM value, incorrect number of trailing zeros"),
    ("unknown field", INSERT, _unknown_field, "Unknown field in match key"),
    ("unknown action", INSERT, lambda: lpm_entry(NET, 8, action_id=12345),
     "Invalid action for table"),
    ("value too wide", INSERT, lambda: lpm_entry(NET, 8, port=b"\x02\x00"),
     "Bytestring provided does not fit within 9 bits"),
    ("no action", INSERT, _no_action, "'action' field must be set for non-default entries"),
    ("modify missing", MODIFY, lambda: lpm_entry(b"\x0b\x00\x00\x00", 8),
     "Cannot find match entry"),
    ("delete missing", DELETE, lambda: lpm_entry(b"\x0b\x00\x00\x00", 8),
     "Cannot find match entry"),
    ("insert existing", INSERT, lambda: lpm_entry(b"\x0c\x00\x00\x00", 8),
     "Match entry exists, use MODIFY if you wish to change action"),
    ("insert default", INSERT, _default_insert, "Cannot use INSERT for default entry"),
    ("no update type", pb.Update.UNSPECIFIED, lambda: lpm_entry(NET, 8),
     "Update type is not set"),
]


@pytest.mark.parametrize("kind,entry,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refusal_starts_with_pi_words(primary, kind, entry, expected) -> None:  # noqa: F811
    primary.set_pipeline()
    primary.write(update(INSERT, lpm_entry(b"\x0c\x00\x00\x00", 8)))
    with pytest.raises(grpc.RpcError) as err:
        primary.write(update(kind, entry()))
    (_, message), = batch_errors(err.value)
    assert message.startswith(expected), message
