"""p4.tmp.p4config_pb2 for client environments: the P4 tutorials' p4runtime_lib imports it.

PI generates this module from its p4/tmp/p4config.proto; the p4runtime wheel on PyPI does not
ship it. The message is small, so it is described here with descriptor_pb2 (which every
protobuf version reads) instead of generated code tied to one protobuf release:

    message P4DeviceConfig {            // package p4.tmp
      message Extras { map<string, string> kv = 1; }
      bool reassign = 1;
      Extras extras = 2;
      bytes device_data = 3;
    }

tools/setup_p4rt_env.sh copies it to p4/tmp/ of the p4runtime-shell venv.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name="p4/tmp/p4config.proto", package="p4.tmp",
                                           syntax="proto3")
    cfg = f.message_type.add(name="P4DeviceConfig")
    extras = cfg.nested_type.add(name="Extras")
    entry = extras.nested_type.add(name="KvEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    extras.field.add(name="kv", number=1, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                     type_name=".p4.tmp.P4DeviceConfig.Extras.KvEntry")
    cfg.field.add(name="reassign", number=1, type=_F.TYPE_BOOL, label=_F.LABEL_OPTIONAL)
    cfg.field.add(name="extras", number=2, type=_F.TYPE_MESSAGE, label=_F.LABEL_OPTIONAL,
                  type_name=".p4.tmp.P4DeviceConfig.Extras")
    cfg.field.add(name="device_data", number=3, type=_F.TYPE_BYTES, label=_F.LABEL_OPTIONAL)
    return f


_pool = descriptor_pool.Default()
try:
    DESCRIPTOR = _pool.FindFileByName("p4/tmp/p4config.proto")
except KeyError:
    DESCRIPTOR = _pool.AddSerializedFile(_file().SerializeToString())
    if DESCRIPTOR is None:          # older protobuf returns nothing here
        DESCRIPTOR = _pool.FindFileByName("p4/tmp/p4config.proto")
_desc = DESCRIPTOR.message_types_by_name["P4DeviceConfig"]
if hasattr(message_factory, "GetMessageClass"):
    P4DeviceConfig = message_factory.GetMessageClass(_desc)
else:
    P4DeviceConfig = message_factory.MessageFactory(_pool).GetPrototype(_desc)
