/* kvick's core.p4: the P4_16 core library declarations (language spec, appendix "core.p4"),
 * written for kvick's compiler and compatible with the declarations programs expect. */
#ifndef _KVICK_CORE_P4_
#define _KVICK_CORE_P4_
/* The guard p4c's core.p4 defines: programs and skeletons test it with #ifdef. */
#define _CORE_P4_

/* Errors the parser itself can raise. */
error {
    NoError,
    PacketTooShort,
    NoMatch,
    StackOutOfBounds,
    HeaderTooShort,
    ParserTimeout,
    ParserInvalidArgument
}

extern packet_in {
    void extract<T>(out T hdr);
    void extract<T>(out T variableSizeHeader, in bit<32> variableFieldSizeInBits);
    T lookahead<T>();
    void advance(in bit<32> sizeInBits);
    bit<32> length();
}

extern packet_out {
    void emit<T>(in T hdr);
}

extern void verify(in bool check, in error toSignal);

@noWarn("unused")
action NoAction() {}

match_kind {
    exact,
    ternary,
    lpm
}

#endif
