"""kvick's P4_16 compiler for the v1model architecture: P4 source to BMv2 JSON and P4Info.

parse.py (preprocessor, lexer.py, the LALR grammar p4.lark) gives a parse tree; declarations.py
resolves types and constants; lower.py translates parsers, controls and expressions into
BMv2 JSON (bmv2.py holds the JSON being built); p4info.py writes the P4Info with p4c's ids.
"""
