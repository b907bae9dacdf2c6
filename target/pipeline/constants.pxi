# Generated from target/pipeline/constants.py; do not edit.
cdef enum:
    # executor limits
    NREGS = 64
    PARAM_BYTES = 16
    # table kinds
    TBL_KEYLESS = 0
    TBL_EXACT = 1
    TBL_LPM24 = 2
    TBL_LPM = 3
    TBL_TERNARY = 4
    # control graph node kinds
    NODE_TABLE = 0
    NODE_COND = 1
    NODE_CALL = 2
    # parser transition kinds
    TRANS_DEFAULT = 0
    TRANS_VALUE = 1
    TRANS_VSET = 2
    # P4Info match types
    MT_EXACT = 2
    MT_LPM = 3
    MT_TERNARY = 4
    MT_RANGE = 5
    MT_OPTIONAL = 6
    # update kinds
    UPDATE_INSERT = 1
    UPDATE_MODIFY = 2
    UPDATE_DELETE = 3
    # v1model
    V1_DEFAULT_DROP_PORT = 511
    V1_MAX_PRIORITY_QUEUES = 8
    PKT_INSTANCE_NORMAL = 0
    PKT_INSTANCE_CLONE_I2E = 1
    PKT_INSTANCE_CLONE_E2E = 2
    PKT_INSTANCE_RECIRC = 4
    PKT_INSTANCE_REPLICATION = 5
    PKT_INSTANCE_RESUBMIT = 6
